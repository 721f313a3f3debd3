from datetime import UTC
from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from issues import live_views, queries
from issues import markdown as md
from issues.models import EventKind, Severity, Status
from tracker.reversing import reversed_around

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    return md.render(text)


# Replies deeper than this are indented no further (static/css/tracker.css has a
# class per level: the Content-Security-Policy allows no inline style).
MAX_INDENT = 6


# The tags below build their HTML with _e, what django.utils.html.escape does
# without its lazy-string wrapper: they run hundreds of times a page (format_html
# was half of their time). Every value they interpolate goes through it, but
# for what cannot hold markup (numbers, ids, a moment's ISO form).


def _e(value) -> str:
    return escape(str(value))


@register.simple_tag
def time_tag(at) -> SafeString:
    """A moment, as how long ago it was: GitHub's `<relative-time>` element
    (static/vendor) writes that in the browser, in the reader's language and
    time zone, with the exact moment in its tooltip, and keeps it current while
    the page stays open. The server writes only the moment, cut from its ISO
    form, which is also what shows without JavaScript. Django's naturaltime,
    which the server used to write, was a fifth of the issue list's CPU (two a
    row: 7.4 of its 36.8 M instructions, callgrind, 1,000,000 issues)."""
    return mark_safe(_time(at)) if at else ""  # noqa: S308 (nothing to escape)


def _time(at) -> str:
    """time_tag's HTML, not yet marked safe (the list marks its page of rows
    at once). In UTC, as its text says: the reader's zone is the browser's
    business, so no current time zone is looked up (asgiref's context-local
    storage, a quarter of a time's cost when the server wrote naturaltime)."""
    moment = at.astimezone(UTC).isoformat()
    return f'<relative-time datetime="{moment}">{moment[:10]} {moment[11:16]} UTC</relative-time>'


@register.simple_tag
def label_badges(issue) -> SafeString:
    """The issue's labels (queries.labels_of) as badges; a tag for the same
    reason as time_tag."""
    return mark_safe(  # noqa: S308 (every value escaped)
        "".join(
            f'<span class="label" data-colour="{_e(label.colour)}">{_e(label.name)}</span>'
            for label in queries.labels_of(issue)
        )
    )


# The rows' badges, looked up rather than through get_FOO_display(), which
# builds a dict of the field's choices on every call.
_STATUS_LABELS = {value: _e(label) for value, label in Status.choices}
_SEVERITY_LABELS = {value: _e(label) for value, label in Severity.choices}


@register.simple_tag
def issue_rows(issues, can_triage: bool, selected) -> SafeString:
    """The issue list's rows. A tag for the same reason as time_tag, and the list's
    hottest loop: as a template, 50 rows made some 900 variable lookups and 50
    reverse() calls, a fifth of the page's time. `selected`: the ids (strings)
    shown ticked."""
    before, after = reversed_around("issues:detail", "number", "987654321")
    rows = []
    for issue in issues:
        number = issue.number
        tick = ""
        if can_triage:
            checked = " checked" if str(issue.id) in selected else ""
            tick = (
                f'<td><input type="checkbox" name="ids" value="{issue.id}" '
                f'aria-label="Select #{number}"{checked}></td>'
            )
        assignee = _e(issue.assignee.name) if issue.assignee_id else "—"
        rows.append(
            f'<tr id="issue-{number}">{tick}<td class="num">#{number}</td>'
            f'<td class="title"><a href="{before}{number}{after}">{_e(issue.title)}</a> '
            f"{label_badges(issue)}</td>"
            f'<td><span class="badge status-{issue.status.lower()}">'
            f"{_STATUS_LABELS[issue.status]}</span></td>"
            f'<td><span class="badge severity-{severity_name(issue.severity)}">'
            f"{_SEVERITY_LABELS[issue.severity]}</span></td>"
            f"<td>{assignee}</td>"
            f"<td>{_time(issue.created_at)}</td><td>{_time(issue.updated_at)}</td></tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 (every value escaped)


@register.simple_tag
def select_options(select: dict) -> SafeString:
    """A drop-down's options (`select["options"]`: value, label), the one whose
    value is `select["current"]` selected. A tag for the same reason as
    time_tag: the assignee lists have an option per maintainer."""
    current = select["current"]
    return mark_safe(  # noqa: S308 (every value escaped)
        "".join(
            f'<option value="{_e(value)}"{" selected" if value == current else ""}>'
            f"{_e(label)}</option>"
            for value, label in select["options"]
        )
    )


@register.simple_tag
def label_checkboxes(labels, ticked, field: str = "labels") -> SafeString:
    """A checkbox per label, named `field`; those whose lower-case name is in
    `ticked` ticked (label names are unique whatever their case). The issue
    page's label picker and the list's label filter."""
    name = _e(field)
    return mark_safe(  # noqa: S308 (every value escaped)
        "".join(
            f'<label class="check"><input type="checkbox" name="{name}" '
            f'value="{_e(label.name)}"{" checked" if label.name.lower() in ticked else ""}> '
            f'<span class="label" data-colour="{_e(label.colour)}">{_e(label.name)}</span></label>'
            for label in labels
        )
    )


@register.filter
def indent(depth) -> int:
    return max(0, min(int(depth or 0), MAX_INDENT))


@register.filter
def severity_name(value) -> str:
    return _SEVERITY_NAMES[value]


_SEVERITY_NAMES = {severity.value: severity.name.lower() for severity in Severity}


def _shown(field: str, value) -> str:
    if value in (None, "", []):
        return "nobody" if field == "assignee" else "nothing"
    if field == "status":
        return Status(value).label
    if field == "severity":
        return Severity[value].label if isinstance(value, str) else Severity(value).label
    if field == "assignee":
        return value.get("name", "someone")
    if field in ("title", "description"):
        text = str(value)
        return f"“{text[:80]}…”" if len(text) > 80 else f"“{text}”"
    return str(value)


@register.filter
def event_sentence(event) -> str:
    """One line for the timeline, e.g. "changed status from Open to Triaged"."""
    if event.kind == EventKind.CREATED:
        return "opened this issue"
    if event.kind == EventKind.IMPORTED:
        return "imported this issue"
    if event.kind == EventKind.ATTACHMENT_ADDED:
        return f"attached {event.data.get('name', 'a file')}"
    if event.kind == EventKind.LABELS_CHANGED:
        old, new = set(event.old_value or []), set(event.new_value or [])
        parts = []
        if new - old:
            parts.append("added " + ", ".join(sorted(new - old, key=str.lower)))
        if old - new:
            parts.append("removed " + ", ".join(sorted(old - new, key=str.lower)))
        return " and ".join(parts) or "changed the labels"
    if event.field == "description":
        return "edited the description"
    sentence = (
        f"changed {event.field} from {_shown(event.field, event.old_value)} "
        f"to {_shown(event.field, event.new_value)}"
    )
    if event.kind == EventKind.BULK_CHANGE:
        sentence += f" (bulk change of {event.data.get('count', 1)})"
    return sentence


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (None removes one);
    sorting and paging keep the filters."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        params.pop(key, None)
        if value not in (None, ""):
            params[key] = value
    if "page" not in changes and any(k != "page" for k in changes):
        params.pop("page", None)  # a new filter or order starts at the first page
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def sort_query(context, field: str) -> str:
    """Click once: ascending (newest first for dates); again: the other way."""
    current = context["request"].GET.get("ordering", "")
    descending_first = field in ("updated_at", "created_at", "severity")
    if current == field:
        wanted = f"-{field}"
    elif current == f"-{field}":
        wanted = field
    else:
        wanted = f"-{field}" if descending_first else field
    return query_with(context, ordering=wanted)


@register.simple_tag(takes_context=True)
def sort_state(context, field: str) -> str:
    """aria-sort value for a column header."""
    current = context["request"].GET.get("ordering", "") or "-updated_at"
    if current == field:
        return "ascending"
    if current == f"-{field}":
        return "descending"
    return "none"


@register.simple_tag(takes_context=True)
def live_stream_url(context) -> str:
    """The live stream's address for this page (issues.live_views.stream_url)."""
    return live_views.stream_url(context["request"])
