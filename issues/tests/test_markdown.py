"""The markdown converters are reused (issues.markdown's pool): nothing of one
text may show in the next, and threads rendering at once never share one."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from accounts.tests.factories import UserFactory
from issues import markdown


def test_a_link_reference_defined_in_one_text_does_not_resolve_in_the_next():
    first = markdown.render("[docs][d]\n\n[d]: https://example.com/docs")
    second = markdown.render("[docs][d]")

    assert 'href="https://example.com/docs"' in first
    assert "href" not in second


def test_whom_a_text_mentions_is_never_carried_into_the_next():
    ann = UserFactory.build(pk=7, email="ann@example.com", display_name="Ann")

    html, found = markdown.render_with_mentions("ping @ann", {"ann": ann})
    html2, found2 = markdown.render_with_mentions("ping @ann", {})

    assert found == [ann] and 'class="mention"' in html
    assert found2 == [] and "mention" not in html2


def test_a_converter_left_broken_by_an_error_is_not_reused(monkeypatch):
    class Boom(Exception):
        pass

    def explode(self, text):
        raise Boom

    markdown._idle.clear()
    converter, mention = markdown._new_converter()
    monkeypatch.setattr(converter, "convert", explode.__get__(converter))
    markdown._idle.append((converter, mention))

    with pytest.raises(Boom):
        markdown.render("*once*")
    assert markdown.render("*again*") == "<p><em>again</em></p>"
    assert all(idle is not converter for idle, _ in markdown._idle)


def test_threads_rendering_at_once_each_get_their_own_text_back():
    texts = [f"# Title {n}\n\nSee #{n} and `code {n}`" for n in range(40)]
    expected = [markdown.render(text) for text in texts]

    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(5):
            assert list(pool.map(markdown.render, texts)) == expected
