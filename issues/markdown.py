"""Markdown for descriptions and comments: rendered, then sanitised.

Whatever the text holds, the output keeps only a small set of tags and
attributes (nh3, an HTML5 sanitiser), links get rel="nofollow noopener
noreferrer", `#42` becomes a link to issue 42 and `@name` a link to the issues
assigned to the user it names (see `issues.mentions` for the rule); neither
happens inside code.
"""

import re
import xml.etree.ElementTree as etree

import markdown
import nh3
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from markdown.inlinepatterns import InlineProcessor

from issues import mentions

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


class Mentions(InlineProcessor):
    """`@name` -> a link to the issues assigned to the user it names; a name that
    names nobody is left as text. Never inside another link. `users` (name ->
    user, looked up beforehand) and `found` are set for each text rendered."""

    ANCESTOR_EXCLUDES = ("a",)

    def __init__(self, pattern, md):
        super().__init__(pattern, md)
        self.users: dict = {}
        self.found: list = []

    def handleMatch(self, m, data):  # noqa: N802 (markdown's API)
        user = self.users.get(m.group(1).lower())
        if user is None:
            return None, None, None
        if user not in self.found:
            self.found.append(user)
        link = etree.Element("a")
        link.set("href", f"{reverse('issues:list')}?assignee={user.pk}")
        link.set("class", "mention")
        link.set("title", f"Issues assigned to {user.name}")
        link.text = m.group(0)
        return link, m.start(0), m.end(0)


class MentionExtension(markdown.Extension):
    def extendMarkdown(self, md):  # noqa: N802 (markdown's API)
        # After raw HTML (90) and links (160-110), so a mention never lands inside them.
        self.processor = Mentions(mentions.MENTION, md)
        md.inlinePatterns.register(self.processor, "mention", 85)


# Building a converter (its extensions, patterns and processors) took half of a
# render's time, so converters are reused: each render takes one from this pool
# and resets it (markdown's own documented way to reuse one). A pool, not one per
# thread: under ASGI each request runs in a thread of its own.
_idle: list[tuple[markdown.Markdown, Mentions]] = []


def _new_converter() -> tuple[markdown.Markdown, Mentions]:
    mention = MentionExtension()
    converter = markdown.Markdown(
        extensions=["fenced_code", "tables", "sane_lists", IssueReferenceExtension(), mention],
        output_format="html",
    )
    return converter, mention.processor


def _to_html(text: str, users: dict, found: list) -> str:
    try:
        converter, mentioning = _idle.pop()  # atomic: two threads never get the same one
    except IndexError:
        converter, mentioning = _new_converter()
    mentioning.users, mentioning.found = users, found
    html = converter.reset().convert(text)  # on an error the converter is dropped
    mentioning.users, mentioning.found = {}, []  # hold on to no one between texts
    _idle.append((converter, mentioning))
    return html


def render(text: str) -> SafeString:
    return render_with_mentions(text)[0]


def mentioned_users(text: str, users: dict | None = None) -> list:
    """The users the text mentions, exactly those `render` links. `users` is a
    name -> user map already looked up (mentions.resolve) for several texts."""
    return render_with_mentions(text, users)[1]


def render_with_mentions(text: str, users: dict | None = None) -> tuple[SafeString, list]:
    if users is None:
        handles = mentions.handles_in(text)
        users = mentions.resolve(handles) if handles else {}
    found: list = []
    html = _to_html(text or "", users, found)
    return mark_safe(  # noqa: S308 (nh3 has just removed everything unsafe)
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=URL_SCHEMES,
            link_rel="nofollow noopener noreferrer",
            strip_comments=True,
        )
    ), found


def excerpt(text: str, length: int = 160) -> str:
    """Plain text for previews and title attributes."""
    plain = re.sub(r"\s+", " ", nh3.clean(markdown.markdown(text or ""), tags=set())).strip()
    return plain if len(plain) <= length else plain[: length - 1].rstrip() + "…"
