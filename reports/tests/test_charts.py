"""The chart geometry the dashboard's SVGs are drawn from."""

import datetime

import pytest

from reports import charts


@pytest.mark.parametrize(
    ("peak", "expected"),
    [
        (0, (4.0, 1.0)),
        (3, (4.0, 1.0)),
        (9, (20.0, 5.0)),
        (8, (8.0, 2.0)),
        (17, (20.0, 5.0)),
        (301, (400.0, 100.0)),
    ],
)
def test_the_axis_top_is_a_round_number_above_the_peak(peak, expected):
    assert charts.nice_ceiling(peak) == expected


def test_bars_are_proportional_and_the_longest_fills_the_area():
    chart = charts.bar_chart("c", "Label", ["a", "b", "c"], [("S", [10, 5, 0], ["10", "5", "0"])])

    widths = [float(row["bars"][0]["width"]) for row in chart["rows"]]
    area = charts.WIDTH - charts.LABEL_WIDTH - charts.VALUE_WIDTH
    assert widths == [area, area / 2, 0]
    assert chart["legend"] == []  # one series: no legend
    assert not chart["empty"]


def test_long_names_are_shortened_in_the_chart():
    chart = charts.bar_chart("c", "L", ["A very long display name indeed"], [("S", [1], ["1"])])
    assert chart["rows"][0]["label"] == "A very long display…"


def test_a_missing_value_is_a_gap_in_the_line():
    days = [datetime.date(2025, 3, 1) + datetime.timedelta(days=n) for n in range(6)]
    chart = charts.line_chart("c", "L", days, [("Open", [1, 2, None, 3, None, 4])])

    line = chart["lines"][0]
    assert len(line["paths"]) == 1  # days 1-2 joined
    assert len(line["dots"]) == 2  # days 4 and 6 stand alone
    assert [label["text"] for label in chart["labels"]] == [
        "2025-03-01",
        "2025-03-04",
        "2025-03-06",
    ]


def test_a_line_chart_without_any_value_says_so():
    days = [datetime.date(2025, 3, 1)]
    assert charts.line_chart("c", "L", days, [("Open", [None])])["empty"]
