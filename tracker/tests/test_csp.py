"""The Content-Security-Policy header (django-csp, its policy built once) on every
kind of response, and
templates that need nothing it forbids: no inline script, event handler or style
attribute, no htmx feature that evaluates code. (e2e/test_security.py checks the
same in a real browser.)"""

import json
import re
from html.parser import HTMLParser

import pytest
from csp.constants import NONCE
from csp.exceptions import CSPNonceError
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from tracker.csp_headers import CSPMiddleware
from tracker.tests.support import ROOT, TEMPLATE_FILES, TEMPLATES, template_id

EXPECTED = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    directives = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in directives}


def assert_policy(response):
    found = policy(response)
    for directive, value in EXPECTED.items():
        assert found.get(directive) == value, (directive, found)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        reverse("issues:list"),
        reverse("issues:board"),
        reverse("reports:dashboard"),
        reverse("accounts:profile"),
        reverse("admin:index"),
        reverse("api:docs"),
        reverse("api:me"),
        "/no/such/page/",
    ],
)
def test_every_response_carries_the_policy(path, admin_user):
    client = Client()
    client.force_login(admin_user)

    response = client.get(path)

    assert response.status_code in (200, 404)
    assert_policy(response)


@pytest.mark.django_db
def test_pages_for_people_not_logged_in_carry_it_too():
    response = Client().get(reverse("accounts:login"))

    assert response.status_code == 200
    assert_policy(response)


@pytest.mark.django_db
def test_the_browsable_api_alone_may_use_inline_styles_but_no_inline_script(admin_user):
    """DRF's HTML view of the API has style attributes in its templates: the one,
    documented relaxation."""
    client = Client()
    client.force_login(admin_user)

    html = client.get(reverse("api:issue-list"), HTTP_ACCEPT="text/html")
    json_response = client.get(reverse("api:issue-list"), HTTP_ACCEPT="application/json")

    assert html["Content-Type"].startswith("text/html")
    assert policy(html)["style-src"] == "'self' 'unsafe-inline'"
    assert policy(html)["script-src"] == "'self'"
    assert_policy(json_response)


# --- the templates need nothing the policy forbids -------------------------------------


class Markup(HTMLParser):
    """What in a template the policy would block, with the line it is on."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self._script = False

    def handle_starttag(self, tag, attrs):
        line = self.getpos()[0]
        names = {name for name, _ in attrs}
        if tag == "script":
            self._script = "src" not in names
            if self._script:
                self.problems.append(f"line {line}: inline <script>")
        if tag == "style":
            self.problems.append(f"line {line}: <style> element")
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"line {line}: style attribute")
            elif name.startswith("on") or name.startswith(("hx-on", "data-hx-on")):
                self.problems.append(f"line {line}: {name} handler")
            elif name in ("hx-vals", "hx-vars", "hx-headers") and (value or "").startswith("js:"):
                self.problems.append(f"line {line}: {name} evaluates script")
            elif name in ("href", "src", "action") and "javascript:" in (value or ""):
                self.problems.append(f"line {line}: javascript: URL")

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = False


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=template_id)
def test_no_template_holds_inline_script_handlers_or_style(path):
    markup = Markup()
    markup.feed(path.read_text())

    assert markup.problems == []


def test_the_template_check_finds_what_it_looks_for():
    markup = Markup()
    markup.feed(
        '<script>x()</script><style>a{}</style><p style="color:red" onclick="x()">'
        '<a href="javascript:x()" hx-on:click="x()">y</a><div hx-vals="js:{a: x()}"></div>'
    )

    assert len(markup.problems) == 7


def test_htmx_is_told_not_to_evaluate_code_or_inject_styles():
    base = (TEMPLATES / "base.html").read_text()
    config = json.loads(re.search(r"name=\"htmx-config\" content='([^']+)'", base).group(1))

    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False
    assert config["includeIndicatorStyles"] is False


def test_the_static_scripts_use_no_eval():
    for script in sorted((ROOT / "static" / "js").glob("*.js")):
        text = script.read_text()
        assert not re.search(r"\beval\(|new Function\(|setAttribute\(\s*['\"]style", text), script


def test_the_policy_comes_from_settings_without_unsafe_sources():
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]

    assert not any("unsafe" in source for sources in directives.values() for source in sources)


# --- The policy built once (tracker.csp_headers) ---------------------------------


def through_middleware(response, path="/api/users/me/"):
    """A request through the CSP middleware alone; the request comes back too."""
    request = RequestFactory().get(path)
    middleware = CSPMiddleware(lambda request: response)
    return middleware(request), request


def test_the_header_is_the_one_django_csp_builds_from_settings():
    response, _ = through_middleware(HttpResponse())
    assert response["Content-Security-Policy"] == build_policy()
    assert "Content-Security-Policy-Report-Only" not in response


def test_changed_settings_change_the_next_response_s_header(settings):
    before, _ = through_middleware(HttpResponse())
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"img-src": ["'self'"]}}
    after, _ = through_middleware(HttpResponse())

    assert "'self'" in before["Content-Security-Policy"]
    assert after["Content-Security-Policy"] == "default-src 'none'"
    assert "img-src 'self'" in after["Content-Security-Policy-Report-Only"]
    assert after["Content-Security-Policy-Report-Only"] == build_policy(report_only=True)


def test_a_view_s_own_change_and_an_exemption_are_kept():
    relaxed = HttpResponse()
    relaxed._csp_update = {"style-src": ["'unsafe-inline'"]}
    exempt = HttpResponse()
    exempt._csp_exempt = True
    own = HttpResponse(headers={"Content-Security-Policy": "default-src 'self'"})

    assert (
        "style-src 'self' 'unsafe-inline'"
        in through_middleware(relaxed)[0]["Content-Security-Policy"]
    )
    assert "Content-Security-Policy" not in through_middleware(exempt)[0]
    assert through_middleware(own)[0]["Content-Security-Policy"] == "default-src 'self'"


def test_excluded_prefixes_get_no_header(settings):
    settings.CONTENT_SECURITY_POLICY = {
        **settings.CONTENT_SECURITY_POLICY,
        "EXCLUDE_URL_PREFIXES": ["/elsewhere/"],
    }
    assert "Content-Security-Policy" not in through_middleware(HttpResponse(), "/elsewhere/x")[0]
    assert "Content-Security-Policy" in through_middleware(HttpResponse(), "/issues/")[0]


def test_a_nonce_asked_for_is_in_the_header_and_one_asked_for_too_late_is_refused(settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": ["'self'", NONCE]}}

    def view(request):
        request.nonce_used = str(request.csp_nonce)
        return HttpResponse()

    request = RequestFactory().get("/")
    response = CSPMiddleware(view)(request)
    assert f"script-src 'self' 'nonce-{request.nonce_used}'" in response["Content-Security-Policy"]

    _, late = through_middleware(HttpResponse())
    with pytest.raises(CSPNonceError):
        str(late.csp_nonce)
