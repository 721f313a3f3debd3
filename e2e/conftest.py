"""Browser tests: real headless Chromium (Debian's package) driven by Playwright
against a real server process: uvicorn serving the ASGI app, as in production,
so that server-sent events (live updates) work as they do for users."""

import os
from pathlib import Path

import pytest

from accounts.tests.factories import PASSWORD
from tracker.tests.support import WebServer

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "test-results" / "screenshots"

# The test body creates data with the ORM while Playwright's sync API runs an event
# loop in the same thread; Django must be told that this is fine here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        # Never skip silently: a missing browser means these tests did not run.
        pytest.fail(f"{CHROMIUM} is missing; install Debian's chromium (make test does as root)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(autouse=True)
def _test_transport():
    """Replaces the root conftest's in-process shortcuts (fast password hasher and
    the like): here a separate server process checks the passwords, with the real
    settings, so users must be created with them too."""


@pytest.fixture(scope="session")
def server(django_db_setup, tmp_path_factory):
    """uvicorn on a free port, using this test session's database."""
    media = tmp_path_factory.mktemp("media")
    log = tmp_path_factory.mktemp("server") / "uvicorn.log"
    web = WebServer(log, MEDIA_ROOT=str(media), CONN_MAX_AGE="0")
    try:
        web.start()
    except AssertionError as exc:
        web.kill()
        pytest.fail(f"the test server did not start: {exc}")
    yield web.base
    web.stop()


@pytest.fixture
def as_user(server, browser, transactional_db):
    """A fresh browser context (its own cookies) logged in as `user`."""
    contexts = []

    def _login(user, password=PASSWORD):
        context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto("/accounts/login/")
        log_in(page, user, password)
        page.wait_for_url(f"{server}/issues/")
        return page

    yield _login
    for context in contexts:
        context.close()


def log_in(page, user, password=PASSWORD) -> None:
    """Fill in and send the login form the page shows."""
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def sign_out_elsewhere(page):
    """Log out in another tab of the same browser, as a person does; that tab
    stays open."""
    other_tab = page.context.new_page()
    other_tab.goto("/issues/")
    other_tab.get_by_role("button", name="Log out").click()
    return other_tab


def screenshot(page, name: str) -> None:
    """The pages as the e2e run saw them (test-results/, not committed); the
    README shows copies in docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def on_htmx_get(page, record) -> None:
    """record(request) for each GET htmx sends from the page (its refreshes)."""
    page.on(
        "request",
        lambda request: (
            record(request)
            if request.method == "GET" and request.headers.get("hx-request")
            else None
        ),
    )
