"""The words of the benchmark dataset: people, labels, issue titles and a bank of
sentences that descriptions and comments are made of.

Text is built once per process from the seed (cheap: a few thousand sentences)
and then only picked from, so that generating a million issues costs list
lookups rather than string work. The sentences are stored already escaped for
PostgreSQL's COPY text format (a newline is the two characters backslash-n).

One word is planted on purpose: COMMON_WORD appears in about one issue in ten
(title or description), the "one common word" the search benchmark looks for.
"""

from __future__ import annotations

import random

COMMON_WORD = "error"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


GIVEN = _words(
    "Ada Alan Alice Amir Ana Ben Bea Carl Chen Clara Dan Dina Eli Emma Eva Femi Finn Gia "
    "Hana Hugo Ida Ivan Jae Jan Joy Kai Kim Lea Leo Lina Luca Mara Max Mia Nia Noah Nora "
    "Olga Omar Otto Pia Raj Rita Rosa Sam Sara Sofia Tara Teo Uma Vera Yan Yara Zoe"
)
FAMILY = _words(
    "Abe Baker Berg Costa Dahl Diaz Ek Fox Garcia Gill Hart Holm Ito Jones Kahn Kato Lam "
    "Lee Lind Lopez Mori Moss Ng Novak Ortiz Park Patel Quinn Rossi Sato Schmidt Silva Sousa "
    "Stone Tan Ueda Varga Vogel Wang Weber Wolf Young Yu Zhang"
)

LABELS = (
    "bug",
    "feature",
    "enhancement",
    "ui",
    "api",
    "performance",
    "docs",
    "security",
    "good first issue",
    "regression",
    "crash",
    "mobile",
    "accessibility",
    "i18n",
    "backend",
    "frontend",
    "database",
    "search",
    "import",
    "export",
    "notifications",
    "auth",
    "billing",
    "reports",
    "dashboard",
    "board",
    "comments",
    "attachments",
    "markdown",
    "email",
    "webhooks",
    "integrations",
    "ci",
    "build",
    "dependencies",
    "refactor",
    "tests",
    "flaky",
    "design",
    "ux",
    "duplicate",
    "wontfix",
    "question",
    "help wanted",
    "blocked",
    "needs info",
    "p1",
    "p2",
    "p3",
    "customer",
    "enterprise",
    "beta",
    "infrastructure",
    "monitoring",
    "logging",
    "cache",
    "sync",
    "admin",
    "onboarding",
    "settings",
)

SUBJECTS = (
    "Login page",
    "Issue list",
    "CSV import",
    "CSV export",
    "Search box",
    "Dashboard",
    "API token",
    "Board view",
    "Attachment upload",
    "Email notification",
    "Label picker",
    "Comment thread",
    "Markdown preview",
    "Password reset",
    "Bulk status",
    "Sign-up form",
    "Profile page",
    "Timeline",
    "Report chart",
    "Assignee menu",
    "Webhook delivery",
    "Settings page",
    "Admin site",
    "Mobile layout",
    "Keyboard shortcut",
    "Date picker",
    "Session timeout",
    "Sidebar",
    "Filter panel",
    "Pagination",
    "Avatar upload",
    "Audit log",
    "Invite link",
    "Dark theme",
    "Print view",
    "Saved search",
    "Time zone setting",
    "Sort order",
    "Status badge",
    "Export button",
)
PROBLEMS = (
    "crashes when the title is empty",
    "is slow with many issues",
    "shows the wrong time zone",
    "loses the filter after reload",
    "needs keyboard shortcuts",
    "should support dark mode",
    "returns 500 on malformed input",
    "is hard to use on a phone",
    "ignores the severity filter",
    "could show a progress bar",
    "does not refresh after saving",
    "overlaps the footer",
    "times out on large files",
    "sends duplicate mails",
    "forgets the sort order",
    "shows stale counts",
    "breaks with unicode names",
    "is missing a tooltip",
    "flickers while loading",
    "should remember my choice",
    "rejects valid dates",
    "cuts off long labels",
    "logs out unexpectedly",
    "has low contrast",
    "double-submits on slow networks",
    "renders raw HTML",
    "drops the last row",
    "miscounts closed issues",
    "needs an undo",
    "hangs in Safari",
)
# Titles containing the common word, so that it also carries title weight.
COMMON_PROBLEMS = (
    f"shows an {COMMON_WORD} after saving",
    f"throws an {COMMON_WORD} on submit",
    f"gives a blank {COMMON_WORD} page",
)

NOUNS = _words(
    "page list search export import login token label comment board dashboard report "
    "filter button link email notification attachment upload server database query cache "
    "session password profile avatar chart table column row field form modal menu sidebar "
    "header footer theme browser keyboard shortcut markdown preview timeline status "
    "severity assignee permission role webhook integration backup migration index worker "
    "queue schedule metric alert font icon image layout scroll translation locale timezone "
    "calendar spinner tooltip badge dropdown checkbox editor draft template widget banner"
)
VERBS = _words(
    "fails loads breaks hangs flickers freezes disappears overflows resets truncates "
    "duplicates ignores misaligns reloads stalls blocks crashes lags"
)
ADJECTIVES = _words(
    "empty long slow stale blank wrong missing broken hidden large small old new first last "
    "default custom shared private archived pinned"
)
PLACES = _words(
    "Firefox Chrome Safari Edge Android iOS Windows macOS Linux staging production "
    "the nightly build version 2.3 the beta"
)

TEMPLATES = (
    "The {noun} {verb} when the {noun2} is {adj}.",
    "Steps: open the {noun}, click the {noun2}, then wait.",
    "On {place} the {noun} {verb} after a few seconds.",
    "Expected the {noun} to keep the {adj} {noun2}.",
    "This started after the {noun} change in {place}.",
    "Workaround: reload the {noun} and clear the {noun2}.",
    "It only happens with a {adj} {noun} and a {adj2} {noun2}.",
    "The {noun2} {verb} every time I touch the {noun}.",
    "Users report that the {noun} {verb} for {adj} accounts.",
    "See the `{tail}` setting of the {noun}.",
    "Maybe related to the {tail} {noun} from last week.",
    "I checked the {noun} on {place} and it {verb} too.",
)
COMMON_TEMPLATES = (
    "The {noun} shows an " + COMMON_WORD + " when the {noun2} is {adj}.",
    "Got an " + COMMON_WORD + " in the {noun} on {place}.",
    "The " + COMMON_WORD + " message of the {noun} is {adj}.",
)
# Share of bank sentences that carry the common word, and of titles: with about
# four sentences per description, one issue in ten mentions it.
COMMON_SENTENCE_SHARE = 0.015
COMMON_TITLE_SHARE = 0.02

SYLLABLES = _words("ka lo mi ne ru ta vo xe zu bri cla dro fen gal hix jor kum lep mox nus")


def tail_words(rng: random.Random, count: int) -> list[str]:
    """Made-up words for the long tail of the search index's vocabulary."""
    words = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def sentence_bank(rng: random.Random, size: int = 6000) -> tuple[list[str], list[str]]:
    """(ordinary sentences, sentences with the common word)."""
    tails = tail_words(rng, 3000)

    def fill(template: str) -> str:
        return template.format(
            noun=rng.choice(NOUNS),
            noun2=rng.choice(NOUNS),
            verb=rng.choice(VERBS),
            adj=rng.choice(ADJECTIVES),
            adj2=rng.choice(ADJECTIVES),
            place=rng.choice(PLACES),
            tail=rng.choice(tails),
        )

    common_count = max(1, int(size * COMMON_SENTENCE_SHARE))
    plain = [fill(rng.choice(TEMPLATES)) for _ in range(size - common_count)]
    common = [fill(rng.choice(COMMON_TEMPLATES)) for _ in range(common_count)]
    return plain, common


def label_colour(index: int) -> str:
    rng = random.Random(index)
    return f"#{rng.randrange(0x1000000):06x}"
