"""Markdown for descriptions and comments: rendered, then sanitised.

Whatever the text holds, the output keeps only a small set of tags and
attributes (nh3, an HTML5 sanitiser), links get rel="nofollow noopener
noreferrer", and `#42` becomes a link to issue 42 (but not inside code).
"""

import re
import xml.etree.ElementTree as etree

import markdown
import nh3
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from markdown.inlinepatterns import InlineProcessor

ALLOWED_TAGS = {
    "a", "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "img",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "class"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
    "code": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}
ISSUE_REFERENCE = r"(?<![\w&#/])#(\d{1,18})\b"


class IssueReferences(InlineProcessor):
    def handleMatch(self, m, data):  # noqa: N802 (markdown's API)
        link = etree.Element("a")
        link.set("href", reverse("issues:detail", kwargs={"number": int(m.group(1))}))
        link.set("class", "issue-ref")
        link.text = f"#{m.group(1)}"
        return link, m.start(0), m.end(0)


class IssueReferenceExtension(markdown.Extension):
    def extendMarkdown(self, md):  # noqa: N802 (markdown's API)
        md.inlinePatterns.register(IssueReferences(ISSUE_REFERENCE, md), "issue_ref", 175)


def render(text: str) -> SafeString:
    html = markdown.markdown(
        text or "",
        extensions=["fenced_code", "tables", "sane_lists", IssueReferenceExtension()],
        output_format="html",
    )
    return mark_safe(  # noqa: S308 (nh3 has just removed everything unsafe)
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=URL_SCHEMES,
            link_rel="nofollow noopener noreferrer",
            strip_comments=True,
        )
    )


def excerpt(text: str, length: int = 160) -> str:
    """Plain text for previews and title attributes."""
    plain = re.sub(r"\s+", " ", nh3.clean(markdown.markdown(text or ""), tags=set())).strip()
    return plain if len(plain) <= length else plain[: length - 1].rstrip() + "…"
