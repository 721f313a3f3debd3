"""The dashboard page and the CSV download of each report.

Each report is shown three ways from the same data: a chart (SVG drawn on the
server), an accessible table, and a CSV file with the same rows. Bad period
values are re-shown with their error, never a 500.
"""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts import roles
from reports import charts, queries

UNASSIGNED = "Unassigned"
NO_VALUE = "—"


@dataclass
class Report:
    slug: str
    title: str
    description: str
    periodic: bool
    columns: list[str]
    rows: list[list]  # what the page's table shows
    csv_columns: list[str] = field(default_factory=list)
    csv_rows: list[list] = field(default_factory=list)
    charts: list[dict] = field(default_factory=list)
    collapsed: bool = False  # a long table starts folded away
    csv_url: str = ""
    # Set when the numbers were computed ahead (reports.snapshots), not now.
    precomputed_at: datetime.datetime | None = None

    def __post_init__(self):
        if not self.csv_columns:
            self.csv_columns, self.csv_rows = self.columns, self.rows


def _name(ref: dict | None) -> str:
    return ref["name"] if ref else UNASSIGNED


def _counts_chart(slug: str, title: str, rows: list[dict]) -> dict:
    labels = [row["label"] for row in rows]
    counts = [row["count"] for row in rows]
    summary = ", ".join(f"{label} {count}" for label, count in zip(labels, counts, strict=True))
    return charts.bar_chart(
        f"chart-{slug}", f"{title}: {summary}.", labels, [("Issues", counts, map_str(counts))]
    )


def map_str(values) -> list[str]:
    return [str(value) for value in values]


def open_by_severity(user, period, limit, now) -> Report:
    rows = queries.open_by_severity(user)
    title = "Open issues by severity"
    return Report(
        slug="open-by-severity",
        title=title,
        description="Issues not yet done, by severity.",
        periodic=False,
        columns=["Severity", "Open issues"],
        rows=[[row["label"], row["count"]] for row in rows],
        charts=[_counts_chart("open-by-severity", title, rows)],
    )


def by_status(user, period, limit, now) -> Report:
    rows = queries.by_status(user)
    title = "Issues by status"
    return Report(
        slug="by-status",
        title=title,
        description="Every issue, by where it stands in the workflow.",
        periodic=False,
        columns=["Status", "Issues"],
        rows=[[row["label"], row["count"]] for row in rows],
        charts=[_counts_chart("by-status", title, rows)],
    )


def top_assignees(user, period, limit, now) -> Report:
    rows = queries.top_assignees(user, period, limit)
    names = [_name(row["assignee"]) for row in rows]
    counts = [row["resolved"] for row in rows]
    title = "Top assignees"
    summary = ", ".join(f"{name} {count}" for name, count in zip(names, counts, strict=True))
    return Report(
        slug="top-assignees",
        title=title,
        description=f"Issues resolved in the period, per assignee, most first (top {limit}).",
        periodic=True,
        columns=["Assignee", "Resolved issues"],
        rows=[[name, count] for name, count in zip(names, counts, strict=True)],
        charts=[
            charts.bar_chart(
                "chart-top-assignees",
                f"{title}, resolved issues: {summary or 'none resolved'}.",
                names,
                [("Resolved", counts, map_str(counts))],
            )
        ],
    )


LATENCY_KEYS = [("average", "Average"), ("median", "Median"), ("p90", "90th percentile")]


def resolution_latency(user, period, limit, now) -> Report:
    data = queries.resolution_latency(user, period)
    entries = [("All issues", data["overall"])] + [
        (_name(row["assignee"]), row) for row in data["assignees"]
    ]
    if not data["overall"]["count"]:
        entries = []
    names = [name for name, _row in entries]
    hours = [
        (
            title,
            [
                row[f"{key}_seconds"] / 3600 if row[f"{key}_seconds"] is not None else None
                for _n, row in entries
            ],
            [row[key] or NO_VALUE for _n, row in entries],
        )
        for key, title in LATENCY_KEYS
    ]
    overall = data["overall"]
    summary = (
        f"over {overall['count']} resolved issues: average {overall['average']}, "
        f"median {overall['median']}, 90th percentile {overall['p90']}"
        if overall["count"]
        else "no issue resolved in the period"
    )
    title = "Resolution time"
    return Report(
        slug="resolution-latency",
        title=title,
        description="Time from report to resolution of the issues resolved in the period.",
        periodic=True,
        columns=["Assignee", "Resolved issues", *[label for _k, label in LATENCY_KEYS]],
        rows=[
            [name, row["count"], *[row[key] or NO_VALUE for key, _l in LATENCY_KEYS]]
            for name, row in entries
        ],
        csv_columns=[
            "Assignee",
            "Resolved issues",
            *[label for _k, label in LATENCY_KEYS],
            *[f"{label} (seconds)" for _k, label in LATENCY_KEYS],
        ],
        csv_rows=[
            [
                name,
                row["count"],
                *[row[key] or "" for key, _l in LATENCY_KEYS],
                *[_seconds(row[f"{key}_seconds"]) for key, _l in LATENCY_KEYS],
            ]
            for name, row in entries
        ],
        charts=[charts.bar_chart("chart-resolution-latency", f"{title} {summary}.", names, hours)],
        precomputed_at=data["as_of"] if data["precomputed"] else None,
    )


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def throughput(user, period, limit, now) -> Report:
    days = queries.throughput(user, period)
    dates = [day["date"] for day in days]
    created = sum(day["created"] for day in days)
    resolved = sum(day["resolved"] for day in days)
    snapshots = [day["open"] for day in days if day["open"] is not None]
    span = f"from {period.since} to {period.until}"
    trend = (
        f"Open issues per day {span}, from the daily stats: {snapshots[0]} on the first day "
        f"with a snapshot, {snapshots[-1]} on the last ({len(snapshots)} of {len(days)} days "
        "have one)."
        if snapshots
        else f"Open issues per day {span}: no daily stats were recorded in the period."
    )
    return Report(
        slug="throughput",
        title="Throughput",
        description="Issues created and resolved each day, and the open issues each day "
        "(from the daily stats; a gap is a day without a snapshot).",
        periodic=True,
        columns=["Date", "Created", "Resolved", "Open"],
        rows=[
            [
                day["date"].isoformat(),
                day["created"],
                day["resolved"],
                NO_VALUE if day["open"] is None else day["open"],
            ]
            for day in days
        ],
        csv_rows=[
            [
                day["date"].isoformat(),
                day["created"],
                day["resolved"],
                "" if day["open"] is None else day["open"],
            ]
            for day in days
        ],
        csv_columns=["Date", "Created", "Resolved", "Open"],
        charts=[
            charts.line_chart(
                "chart-throughput",
                f"Issues created and resolved per day {span}: {created} created and "
                f"{resolved} resolved in all.",
                dates,
                [
                    ("Created", [day["created"] for day in days]),
                    ("Resolved", [day["resolved"] for day in days]),
                ],
            ),
            charts.line_chart(
                "chart-open-trend", trend, dates, [("Open", [day["open"] for day in days])]
            ),
        ],
        collapsed=True,
    )


def open_age(user, period, limit, now) -> Report:
    rows = queries.open_age(user, now)
    title = "Age of open issues"
    return Report(
        slug="open-age",
        title=title,
        description="Issues not yet done, by how long ago they were reported.",
        periodic=False,
        columns=["Age", "Open issues"],
        rows=[[row["label"], row["count"]] for row in rows],
        charts=[_counts_chart("open-age", title, rows)],
    )


REPORTS = {
    "open-by-severity": open_by_severity,
    "by-status": by_status,
    "top-assignees": top_assignees,
    "resolution-latency": resolution_latency,
    "throughput": throughput,
    "open-age": open_age,
}


def _require_reports(user) -> None:
    if not roles.can_view_reports(user):
        raise PermissionDenied("The dashboard and reports are for maintainers and admins.")


@require_GET
@login_required
def dashboard(request):
    _require_reports(request.user)
    errors: dict[str, list[str]] = {}
    try:
        period = queries.parse_period(request.GET.get("since"), request.GET.get("until"))
    except ValidationError as exc:
        errors = exc.message_dict
        period = queries.default_period()
    try:
        limit = queries.parse_limit(request.GET.get("limit"))
    except ValidationError:
        limit = queries.DEFAULT_LIMIT
    now = timezone.now()
    reports = [build(request.user, period, limit, now) for build in REPORTS.values()]
    query = urlencode(period.as_query())
    for report in reports:
        csv_url = reverse("reports:csv", kwargs={"report": report.slug})
        report.csv_url = f"{csv_url}?{query}" if report.periodic else csv_url
        if report.slug == "top-assignees" and limit != queries.DEFAULT_LIMIT:
            report.csv_url += f"&limit={limit}"
    context = {
        "reports": reports,
        "period": period,
        "as_of": now,
        "errors": errors,
        # What was asked for, bad values included, so that they are re-shown.
        "chosen": {
            name: request.GET.get(name) or getattr(period, name).isoformat()
            for name in ("since", "until")
        },
        "today": queries.today(),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "reports/_dashboard.html", context)
    return render(request, "reports/dashboard.html", context)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str | int | float:
    """Text a spreadsheet would run as a formula (an assignee called
    "=HYPERLINK(...)") is written with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@require_GET
@login_required
def report_csv(request, report: str):
    build = REPORTS.get(report)
    if build is None:
        raise Http404("No such report.")
    _require_reports(request.user)
    try:
        period = queries.parse_period(request.GET.get("since"), request.GET.get("until"))
        limit = (
            queries.parse_limit(request.GET.get("limit"))
            if report == "top-assignees"
            else queries.DEFAULT_LIMIT
        )
    except ValidationError as exc:
        lines = [
            f"{name}: {message}" for name, msgs in exc.message_dict.items() for message in msgs
        ]
        return HttpResponse(
            "\n".join(lines) + "\n", status=400, content_type="text/plain; charset=utf-8"
        )
    now = timezone.now()
    data = build(request.user, period, limit, now)
    stamp = (
        f"{period.since}_{period.until}"
        if data.periodic
        else now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H%MZ")
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{report}_{stamp}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    writer = csv.writer(response)
    writer.writerow(data.csv_columns)
    for row in data.csv_rows:
        writer.writerow([csv_cell(cell) for cell in row])
    return response
