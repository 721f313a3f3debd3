"""Announcements of committed changes, for live updates.

`pg_notify` runs inside the writing transaction, so PostgreSQL delivers the
notice only if the change commits. Payloads carry ids (and the reporter id, so a
listener can skip people who may not see the issue), never issue content.

The listening side (one LISTEN connection per server process, fanning out to the
browsers) is `issues.live_listener`; the server-sent events view that browsers
connect to is `issues.live_views.live_stream` at /live/.
"""

import json

from django.db import connection

from tracker.db import Statement, execute_together

CHANNEL = "tracker_events"


def announce(kind: str, issue) -> None:
    execute_together(notice(kind, issue))


def notice(kind: str, issue, *, after: str = "", name: str = "") -> Statement:
    """announce()'s statement, for a service that runs it together with its
    other after-effects (tracker.db.execute_together). With `after`, sent only
    if that earlier WITH clause returned a row (an edit's compare-and-set that
    succeeded); it is then a clause `name`, which the statement's SELECT must
    read for it to run."""
    statement = _notice(_payload(kind, issue, issue.number))
    if not after:
        return statement
    return Statement(f"{statement.sql} FROM {after}", statement.params, name)  # noqa: S608 - a clause's name, not input


def notice_of_new(kind: str, issue, clause: str, *, name: str) -> Statement:
    """notice() of an issue written by the same statement, in its WITH clause
    `clause` (tracker.db.Insert.statement(name=...)): its number is known only
    there, so the payload takes it from there. A WITH clause `name`, which
    that statement's SELECT must read for it to run."""
    return Statement(
        f"SELECT pg_notify(%s, jsonb_set(%s::jsonb, '{{number}}', to_jsonb({clause}.number))::text)"  # noqa: S608 - a clause's name, not input
        f" FROM {clause}",
        [CHANNEL, json.dumps(_payload(kind, issue, None))],
        name=name,
    )


def announce_many(kind: str, issues) -> None:
    """announce(kind, issue) for each issue, in one statement (a bulk change of
    500 issues is one round trip, not 500)."""
    payloads = [json.dumps(_payload(kind, issue, issue.number)) for issue in issues]
    if not payloads:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) AS payload",
            [CHANNEL, payloads],
        )


def _payload(kind: str, issue, number: int | None) -> dict:
    return {
        "kind": kind,
        "issue": str(issue.pk),
        "number": number,
        "reporter": issue.reporter_id,
    }


def announce_stats() -> None:
    """New daily statistics: dashboards (maintainers and admins) refresh."""
    execute_together(_notice({"kind": STATS}))


STATS = "stats"


def _notice(payload: dict) -> Statement:
    return Statement("SELECT pg_notify(%s, %s)", [CHANNEL, json.dumps(payload)])
