"""The option lists of the issue page's side panel and of the list's filters,
the label badges and the times of the rows, rendered by tags (issue_tags)
rather than template loops: the current choice selected, the chosen labels
ticked, and every name escaped."""

import datetime
from types import SimpleNamespace

from django.template import Context, Template
from django.utils import timezone

from issues.templatetags.issue_tags import label_badges, label_checkboxes, select_options, time_tag


def test_only_the_current_option_is_selected():
    html = select_options({"options": [("", "Nobody"), ("7", "Ann"), ("9", "Bo")], "current": "7"})

    assert html == (
        '<option value="">Nobody</option>'
        '<option value="7" selected>Ann</option>'
        '<option value="9">Bo</option>'
    )


def test_the_issues_labels_are_ticked_and_names_are_escaped():
    labels = [
        SimpleNamespace(pk=1, name="bug", colour="#d73a4a"),
        SimpleNamespace(pk=2, name='<b>"x"</b>', colour="#000000"),
    ]

    html = label_checkboxes(labels, {"bug"})

    assert 'name="labels" value="bug" checked>' in html
    assert 'value="&lt;b&gt;&quot;x&quot;&lt;/b&gt;">' in html
    assert "<b>" not in html
    assert html.count("<label ") == 2


def test_labels_are_ticked_whatever_the_case_of_their_name_and_the_field_is_named():
    labels = [SimpleNamespace(pk=1, name="UI", colour="#fff")]

    html = label_checkboxes(labels, ["ui"], "label")

    assert html.startswith(
        '<label class="check"><input type="checkbox" name="label" value="UI" checked>'
    )


def test_the_tags_read_their_arguments_from_the_template():
    template = Template(
        "{% load issue_tags %}{% select_options select %}|{% label_checkboxes labels ticked %}"
    )
    html = template.render(
        Context(
            {
                "select": {"options": [("LOW", "<Low>")], "current": "LOW"},
                "labels": [SimpleNamespace(pk=3, name="ui", colour="#fff")],
                "ticked": set(),
            }
        )
    )

    assert html == (
        '<option value="LOW" selected>&lt;Low&gt;</option>|'
        '<label class="check"><input type="checkbox" name="labels" value="ui"> '
        '<span class="label" data-colour="#fff">ui</span></label>'
    )


def test_a_time_says_how_long_ago_with_the_exact_moment_in_its_tooltip():
    at = timezone.now() - datetime.timedelta(days=3, hours=2)

    html = time_tag(at)

    assert html == (
        f'<time datetime="{at.isoformat()}" title="{at:%Y-%m-%d %H:%M:%S} UTC">'
        "3\xa0days, 2\xa0hours ago</time>"
    )
    assert time_tag(None) == ""


def test_label_badges_escape_names_and_colours():
    labels = [
        SimpleNamespace(name="bug", colour="#d73a4a"),
        SimpleNamespace(name="<img src=x onerror=alert(1)>", colour='"><b>'),
    ]
    issue = SimpleNamespace(labels=SimpleNamespace(all=lambda: labels))

    html = label_badges(issue)

    assert html == (
        '<span class="label" data-colour="#d73a4a">bug</span>'
        '<span class="label" data-colour="&quot;&gt;&lt;b&gt;">'
        "&lt;img src=x onerror=alert(1)&gt;</span>"
    )
