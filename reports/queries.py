"""The reports: each one a function returning plain data (lists of dicts), each
starting from `visible_issues(user)` and costing a constant, small number of SQL
queries whatever the number of issues: the counting, averaging and percentiles
are PostgreSQL's work, not Python's.

Only people who may view reports get an answer (PermissionDenied otherwise);
they see every issue, so no further scoping applies.

Periods are whole UTC days, both ends included: `since=2025-01-01&until=2025-01-31`
covers the timestamps in [2025-01-01 00:00, 2025-02-01 00:00) UTC.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts import roles
from issues.models import Issue, Severity, Status
from issues.queries import visible_issues
from reports.models import ReportSnapshot

UTC = datetime.UTC
DEFAULT_DAYS = 90
MAX_DAYS = 3 * 365 + 1  # "about three years": a leap day included
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
# Dates the arithmetic below can always handle (a day after `until` must exist).
EARLIEST = datetime.date(1970, 1, 1)
LATEST = datetime.date(9999, 12, 30)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Age buckets of open issues: (key, label, lower bound inclusive, upper bound exclusive).
AGE_BUCKETS = [
    ("lt_1d", "< 1 day", datetime.timedelta(0), datetime.timedelta(days=1)),
    ("lt_1w", "< 1 week", datetime.timedelta(days=1), datetime.timedelta(days=7)),
    ("lt_1m", "< 1 month", datetime.timedelta(days=7), datetime.timedelta(days=30)),
    ("older", "older", datetime.timedelta(days=30), None),
]


# --- periods and parameters ---------------------------------------------------


@dataclass(frozen=True)
class Period:
    since: datetime.date
    until: datetime.date

    @property
    def start(self) -> datetime.datetime:
        """The first instant of the period (UTC)."""
        return datetime.datetime.combine(self.since, datetime.time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime.datetime:
        """The first instant after the period (UTC): timestamps are in [start, end)."""
        return datetime.datetime.combine(
            self.until + datetime.timedelta(days=1), datetime.time.min, tzinfo=UTC
        )

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def as_query(self) -> dict[str, str]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat()}


def today() -> datetime.date:
    return timezone.now().astimezone(UTC).date()


def default_period(until: datetime.date | None = None) -> Period:
    until = until or today()
    return Period(until - datetime.timedelta(days=DEFAULT_DAYS - 1), until)


def _parse_date(name: str, raw: str) -> datetime.date:
    value = raw.strip()
    if not ISO_DATE.fullmatch(value):
        raise ValidationError({name: [f"Enter a date as YYYY-MM-DD, not “{raw[:40]}”."]})
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise ValidationError({name: [f"{value} is not a date of the calendar."]}) from None
    if not EARLIEST <= day <= LATEST:
        raise ValidationError({name: [f"Choose a date between {EARLIEST} and {LATEST}."]})
    return day


def parse_period(since: str | None = None, until: str | None = None) -> Period:
    """The period named by the `since`/`until` query parameters (YYYY-MM-DD, both
    optional: by default the last 90 days up to today, UTC). Bad input raises a
    ValidationError naming the parameter."""
    errors: dict[str, list[str]] = {}
    days: dict[str, datetime.date | None] = {"since": None, "until": None}
    for name, raw in (("since", since), ("until", until)):
        if raw is None or not str(raw).strip():
            continue
        try:
            days[name] = _parse_date(name, str(raw))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    start, stop = days["since"], days["until"]
    if stop is None:
        stop = today()
    if start is None:
        start = default_period(stop).since
    if start > stop:
        raise ValidationError({"until": [f"until ({stop}) must not be before since ({start})."]})
    period = Period(start, stop)
    if period.days > MAX_DAYS:
        raise ValidationError(
            {
                "since": [
                    f"A period is at most {MAX_DAYS} days (about 3 years); this is {period.days}."
                ]
            }
        )
    return period


def parse_limit(raw: str | None, default: int = DEFAULT_LIMIT) -> int:
    if raw is None or not str(raw).strip():
        return default
    value = str(raw).strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:
        raise ValidationError({"limit": [f"Enter a whole number from 1 to {MAX_LIMIT}."]})
    return int(value)


# --- helpers ------------------------------------------------------------------


def _issues(user) -> QuerySet[Issue]:
    if not roles.can_view_reports(user):
        raise PermissionDenied("Reports are for maintainers and admins.")
    return visible_issues(user).order_by()


def _user_ref(pk, display_name, email) -> dict | None:
    """The same shape and name as the issues API's user references."""
    if pk is None:
        return None
    return {"id": pk, "name": display_name or (email or "").split("@")[0]}


def human_duration(seconds: float | None) -> str | None:
    """42 s, 17 min, 5 h 3 min, 2 d 4 h: precise enough to compare at a glance."""
    if seconds is None:
        return None
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes = round(total / 60)
    if minutes < 60:
        return f"{minutes} min"
    if total < 86400:
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, rest = divmod(total, 86400)
    hours = round(rest / 3600)
    if hours == 24:
        days, hours = days + 1, 0
    return f"{days} d {hours} h" if hours else f"{days} d"


# --- the reports --------------------------------------------------------------


def open_by_severity(user) -> list[dict]:
    """Open (not DONE) issues per severity, every severity listed, lowest first."""
    rows = (
        _issues(user)
        .exclude(status=Status.DONE)
        .values("severity")
        .annotate(count=Count("*"))
        .values_list("severity", "count")
    )
    counts = dict(rows)
    return [
        {"severity": severity.name, "label": severity.label, "count": counts.get(severity, 0)}
        for severity in Severity
    ]


def by_status(user) -> list[dict]:
    """All issues per status, every status listed in workflow order."""
    counts = dict(
        _issues(user).values("status").annotate(count=Count("*")).values_list("status", "count")
    )
    return [
        {"status": status.value, "label": status.label, "count": counts.get(status, 0)}
        for status in Status
    ]


def _resolved_in(user, period: Period) -> QuerySet[Issue]:
    return _issues(user).filter(resolved_at__gte=period.start, resolved_at__lt=period.end)


def top_assignees(user, period: Period, limit: int = DEFAULT_LIMIT) -> list[dict]:
    """Who resolved most: issues now DONE whose resolved_at falls in the period,
    per assignee (unassigned ones left out), most first, then by name."""
    rows = (
        _resolved_in(user, period)
        .filter(assignee__isnull=False)
        .values("assignee", "assignee__display_name", "assignee__email")
        .annotate(resolved=Count("*"))
        .order_by("-resolved", "assignee__display_name", "assignee__email", "assignee")[:limit]
    )
    return [
        {
            "assignee": _user_ref(
                row["assignee"], row["assignee__display_name"], row["assignee__email"]
            ),
            "resolved": row["resolved"],
        }
        for row in rows
    ]


def _latency(count: int, average, percentiles) -> dict:
    median, p90 = percentiles or (None, None)
    result = {"count": count}
    for key, value in (("average", average), ("median", median), ("p90", p90)):
        seconds = value.total_seconds() if value is not None else None
        result[f"{key}_seconds"] = seconds
        result[key] = human_duration(seconds)
    return result


# Per assignee and overall in one pass (GROUPING SETS); both percentiles from
# one sort (percentile_cont of an array). The (assignee, resolved_at) index
# hands the rows over already grouped by assignee, the (resolved_at) one serves
# short periods; both include created_at, so neither reads the table.
_LATENCY = """
WITH latency AS (
    SELECT grouping(assignee_id) = 1 AS overall, assignee_id, count(*) AS n,
           avg(resolved_at - created_at) AS average,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolved_at - created_at)
               AS percentiles
    FROM ({resolved}) AS issue
    GROUP BY GROUPING SETS ((assignee_id), ())
)
SELECT latency.overall, latency.assignee_id, person.display_name, person.email,
       latency.n, latency.average, latency.percentiles
FROM latency LEFT JOIN accounts_user AS person ON person.id = latency.assignee_id
ORDER BY latency.overall DESC, latency.n DESC, person.display_name, person.email,
         latency.assignee_id
"""


def resolution_latency(user, period: Period) -> dict:
    """Time from creation to resolution (resolved_at - created_at) of the issues
    resolved in the period: average, median and 90th percentile (interpolated,
    PostgreSQL's percentile_cont), overall and per assignee (most resolved first;
    `assignee` None for the unassigned).

    `as_of` is when the numbers were computed: now, or — for the whole history,
    too long to sort on each request — when the stats task last computed them
    (`precomputed` true; see reports.snapshots). One query either way."""
    issues = _issues(user)
    if period.days > DEFAULT_DAYS:
        snapshot = (
            ReportSnapshot.objects.filter(
                report="resolution-latency", until=period.until, since__gte=period.since
            )
            .only("data", "computed_at")
            .first()
        )
        if snapshot is not None:
            return {**snapshot.data, "as_of": snapshot.computed_at, "precomputed": True}
    return {**latency_of(issues, period), "as_of": timezone.now(), "precomputed": False}


def latency_of(issues: QuerySet[Issue], period: Period) -> dict:
    """resolution_latency's numbers for these issues, computed now: plain data
    (JSON-ready, for reports.snapshots)."""
    resolved_sql, params = (
        issues.filter(resolved_at__gte=period.start, resolved_at__lt=period.end)
        .values("assignee_id", "created_at", "resolved_at")
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(_LATENCY.format(resolved=resolved_sql), params)
        rows = cursor.fetchall()
    overall = _latency(0, None, None)
    assignees = []
    for is_overall, pk, display_name, email, count, average, percentiles in rows:
        if is_overall:
            overall = _latency(count, average, percentiles)
        else:
            person = _user_ref(pk, display_name, email)
            assignees.append({"assignee": person, **_latency(count, average, percentiles)})
    return {"overall": overall, "assignees": assignees}


# One row per day of the period (generate_series, so quiet days are zeros):
# issues created, issues resolved (those still DONE), and the open (not DONE)
# issues counted by the stats task that day — NULL on a day with no snapshot,
# which is unknown rather than zero. `visible` is visible_issues(user). Each
# day's counts are two small index-only range scans (created_at, resolved_at):
# no sort of a million timestamps into days.
_THROUGHPUT = """
WITH visible AS NOT MATERIALIZED ({visible}),
days AS (
    SELECT d::date AS day, d AT TIME ZONE 'UTC' AS starts,
           (d + interval '1 day') AT TIME ZONE 'UTC' AS ends
    FROM generate_series(%s::date::timestamp, %s::date::timestamp, interval '1 day') AS d
),
snapshot AS (
    SELECT date AS day, COALESCE(sum(count) FILTER (WHERE status <> %s), 0) AS n
    FROM reports_dailystat WHERE date BETWEEN %s AND %s GROUP BY date
)
SELECT days.day,
       (SELECT count(*) FROM visible
        WHERE visible.created_at >= days.starts AND visible.created_at < days.ends),
       (SELECT count(*) FROM visible
        WHERE visible.resolved_at >= days.starts AND visible.resolved_at < days.ends),
       snapshot.n
FROM days
LEFT JOIN snapshot USING (day)
ORDER BY days.day
"""


def throughput(user, period: Period) -> list[dict]:
    """Per day of the period: created, resolved, and `open` from DailyStat (the
    open-issue trend; None where no snapshot was taken). One query."""
    visible_sql, visible_params = (
        _issues(user).values("id", "created_at", "resolved_at").query.sql_with_params()
    )
    sql = _THROUGHPUT.format(visible=visible_sql)
    params = [
        *visible_params,
        period.since,
        period.until,
        Status.DONE.value,
        period.since,
        period.until,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        {
            "date": day,
            "created": created,
            "resolved": resolved,
            "open": int(open_count) if open_count is not None else None,
        }
        for day, created, resolved, open_count in rows
    ]


def open_age(user, now: datetime.datetime | None = None) -> list[dict]:
    """Open issues by how long ago they were created, in AGE_BUCKETS. One query."""
    now = now or timezone.now()
    buckets = {}
    for key, _label, low, high in AGE_BUCKETS:
        condition = Q(created_at__lte=now - low)
        if high is not None:
            condition &= Q(created_at__gt=now - high)
        buckets[key] = Count("created_at", filter=condition)  # never null: count(*) with a filter
    counts = _issues(user).exclude(status=Status.DONE).aggregate(**buckets)
    return [
        {"bucket": key, "label": label, "count": counts[key]}
        for key, label, _low, _high in AGE_BUCKETS
    ]
