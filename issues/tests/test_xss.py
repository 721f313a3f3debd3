"""Known XSS payloads in everything a person can type — issue title, description,
comment, label name, display name — against every page that shows them (list,
issue page, board, new-issue form, preview, dashboard tables) and the API (its
JSON and DRF's browsable HTML view of it). Plain-text fields must come out as the
same text, escaped; Markdown comes out sanitised; nowhere may markup appear that
a browser would run. (e2e/test_security.py runs a few of them in Chromium.)

The API has no server-rendered HTML fields (no description_html/body_html): it
returns what was typed, as JSON, for clients to escape or render themselves.
"""

import re
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from accounts.tests.factories import UserFactory
from issues import services
from issues.models import Status
from issues.tests.factories import IssueFactory, LabelFactory

pytestmark = pytest.mark.django_db

# Each would run script (or navigate to it) if it reached a page unescaped or
# unsanitised.
PAYLOADS = [
    "<script>alert(1)</script>",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=JaVaScRiPt:alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    '" onmouseover="alert(1)" x="',
    "' autofocus onfocus='alert(1)",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="java&#9;script:alert(1)">x</a>',
    '<a href=" &#14;javascript:alert(1)">x</a>',
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;img src=x onerror=alert(1)&#62;",
    '<div style="width:expression(alert(1))">x</div>',
    '<object data="data:text/html,<script>alert(1)</script>">',
    "<details open ontoggle=alert(1)>",
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<a hx-get="/admin/" hx-trigger="load">x</a>',
    "<div hx-on:click=alert(1)>x</div>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "{{ 7|add:7 }}{% csrf_token %}",
]

# Tricks aimed at the Markdown renderer in particular.
MARKDOWN_PAYLOADS = [
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    '![x](x" onerror="alert(1))',
    '![x](https://example.com/x.png "t\\" onerror=\\"alert(1)")',
    '[x](https://example.com" onclick="alert(1))',
    "<javascript:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "[a][ref]\n\n[ref]: javascript:alert(1)",
    "[a](#1 \"x' onmouseover='alert(1)\")",
    "`<script>alert(1)</script>`",
    "```\n</code><script>alert(1)</script>\n```",
    "#1<script>alert(1)</script>",
    "@nobody<img src=x onerror=alert(1)>",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
]

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background", "srcset"}
FORBIDDEN_ELEMENTS = {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "math"}
BAD_SCHEME = re.compile(r"^(javascript|vbscript|data):")
C0_AND_SPACE = "".join(map(chr, range(0x21)))


class Runnable(HTMLParser):
    """Everything in a page a browser could run, with the reason. Attribute values
    arrive entity-decoded, as the browser sees them."""

    def __init__(self, *, styles_allowed: bool = False):
        super().__init__()
        self.styles_allowed = styles_allowed
        self.found: list[str] = []
        self.text: list[str] = []
        self._script_type = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            kind = (attributes.get("type") or "text/javascript").lower()
            if kind == "application/json":  # data, never run (DRF's CSRF settings)
                self._script_type = kind
            elif not (attributes.get("src") or "").startswith("/static/"):
                self.found.append(f"<script {attributes}>")
        if tag in FORBIDDEN_ELEMENTS:
            self.found.append(f"<{tag}>")
        if tag == "style" and not self.styles_allowed:
            self.found.append("<style>")
        if tag == "meta" and (attributes.get("http-equiv") or "").lower() == "refresh":
            self.found.append(f"<meta http-equiv={attributes['http-equiv']}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            elif name == "style" and not self.styles_allowed:
                self.found.append(f"<{tag} style={value!r}>")
            elif name in URL_ATTRIBUTES:
                # As a browser reads a URL: outer spaces and controls, and every
                # tab and newline, dropped.
                normalised = re.sub(r"[\t\n\r]", "", value.strip(C0_AND_SPACE)).lower()
                if BAD_SCHEME.match(normalised):
                    self.found.append(f"<{tag} {name}={value!r}>")
            elif name.startswith(("hx-", "data-hx-", "sse-")) and re.search(
                r"alert\(|javascript:|^/admin/", value
            ):  # htmx attributes smuggled in (ours carry payloads only URL-encoded)
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._script_type = None

    def handle_data(self, data):
        self.text.append(data)


def check(html: str, *, styles_allowed: bool = False) -> Runnable:
    page = Runnable(styles_allowed=styles_allowed)
    page.feed(html)
    page.close()
    assert page.found == [], page.found
    return page


def test_the_checker_finds_what_it_looks_for():
    page = Runnable()
    page.feed(
        "<script>alert(1)</script><img src=x onerror=alert(1)><svg onload=alert(1)>"
        '<a href="&#106;ava&#x0A;script:alert(1)">x</a><iframe></iframe>'
        '<div style="x:y" hx-get="/admin/"></div><meta http-equiv="refresh">'
    )

    assert len(page.found) == 8, page.found


@pytest.fixture
def cast():
    """An ADMIN who looks at everything, and a MAINTAINER whose name is the payload."""
    return UserFactory(role="ADMIN"), UserFactory(role="MAINTAINER")


def seed(payload: str, admin, maintainer):
    """The payload in every field a person fills in, on issues the pages show."""
    account_services.update_profile(actor=maintainer, display_name=payload[:150])
    label = LabelFactory(name=payload[:50].strip(), colour="#d73a4a")
    issue = IssueFactory(
        reporter=maintainer, title=payload[:200], description=payload, labels=[label.name]
    )
    issue = services.assign(actor=admin, issue=issue, version=issue.version, assignee=maintainer)
    first = services.add_comment(actor=maintainer, issue=issue, body=payload)
    services.add_comment(actor=admin, issue=issue, body=payload, parent=first)
    done = IssueFactory(reporter=maintainer, title=payload[:200], labels=[label.name])
    done = services.assign(actor=admin, issue=done, version=done.version, assignee=maintainer)
    services.change_status(actor=admin, issue=done, version=done.version, status=Status.DONE)
    return issue, label


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_payload_everywhere_is_shown_as_text_and_never_runs(payload, cast):
    admin, maintainer = cast
    issue, label = seed(payload, admin, maintainer)
    client = Client()
    client.force_login(admin)
    pages = {
        "list": reverse("issues:list"),
        "search": reverse("issues:list") + "?q=alert",
        "filtered by label": reverse("issues:list") + "?" + urlencode({"label": label.name}),
        "issue": reverse("issues:detail", args=[issue.number]),
        "timeline": reverse("issues:timeline", args=[issue.number]),
        "panel": reverse("issues:panel", args=[issue.number]),
        "board": reverse("issues:board"),
        "new issue": reverse("issues:new"),
        "dashboard": reverse("reports:dashboard"),
    }

    for name, path in pages.items():
        response = client.get(path)
        assert response.status_code == 200, (name, response.status_code)
        page = check(response.content.decode())
        text = "".join(page.text)
        # Escaped, not dropped: people see exactly what was typed.
        if name in ("list", "issue", "board"):
            assert issue.title in text, name
        if name in ("issue", "panel", "board", "new issue", "filtered by label"):
            assert label.name in text, name
        if name in ("issue", "timeline", "dashboard"):
            assert maintainer.display_name in text, name


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_payload_through_the_api_is_json_and_the_browsable_view_runs_nothing(payload, cast):
    admin, maintainer = cast
    issue, label = seed(payload, admin, maintainer)
    client = Client()
    client.force_login(admin)
    detail = reverse("api:issue-detail", args=[issue.pk])
    comments = reverse("api:issue-comments", args=[issue.pk])

    data = client.get(detail, HTTP_ACCEPT="application/json")
    assert data["Content-Type"] == "application/json"
    assert data["X-Content-Type-Options"] == "nosniff"
    body = data.json()
    assert (body["title"], body["description"]) == (issue.title, payload)
    assert body["labels"] == [label.name]

    for path in (detail, comments, reverse("api:label-list"), reverse("api:user-list")):
        html = client.get(path, HTTP_ACCEPT="text/html")
        assert html["Content-Type"].startswith("text/html"), path
        # DRF's own templates carry style attributes (the CSP allows them there).
        check(html.content.decode(), styles_allowed=True)


@pytest.mark.parametrize("payload", PAYLOADS + MARKDOWN_PAYLOADS)
def test_markdown_payloads_are_sanitised_on_the_page_and_in_the_preview(payload, cast):
    admin, maintainer = cast
    issue = IssueFactory(reporter=maintainer, title="Markdown", description=payload)
    services.add_comment(actor=maintainer, issue=issue, body=payload)
    client = Client()
    client.force_login(admin)

    page = client.get(reverse("issues:detail", args=[issue.number]))
    preview = client.post(reverse("issues:preview"), {"description": payload})

    for response in (page, preview):
        assert response.status_code == 200
        check(response.content.decode())
    # The preview is the bare rendering: not a single script element.
    assert "<script" not in preview.content.decode().lower()
