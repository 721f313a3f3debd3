"""Django's `{# ... #}` comment is one line only: one that spans lines is not a
comment but page text, shown to users (it showed in the page's accessibility
tree). Longer comments use `{% comment %}`."""

import re

import pytest
from django.urls import reverse

from tracker.tests.support import TEMPLATE_FILES, template_id

UNCLOSED = re.compile(r"\{#(?!.*#\})")


def unclosed_comments(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), 1) if UNCLOSED.search(line)]


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=template_id)
def test_every_short_comment_ends_on_its_own_line(path):
    assert unclosed_comments(path.read_text()) == []


def test_the_check_finds_a_comment_that_spans_lines():
    assert unclosed_comments("<p>\n{# one\n two #}\n{# fine #}</p>") == [2]


def test_no_comment_text_reaches_the_page(client):
    html = client.get(reverse("accounts:login")).content.decode()
    assert "{#" not in html
    assert "Content-Security-Policy allows" not in html
