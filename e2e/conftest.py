"""Browser tests: real headless Chromium (Debian's package) driven by Playwright
against Django's live server."""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"

# Playwright's sync API runs an event loop in this thread; the live server and the
# test share the database from ordinary sync code, which Django must be told is fine.
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


@pytest.fixture
def login(live_server, page):
    """Log `user` in through the real login form."""

    def _login(user, password):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/")

    return _login
