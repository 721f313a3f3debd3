"""The option lists of the issue page's side panel and of the list's filters,
the list's rows with their label badges and times, rendered by tags (issue_tags)
rather than template loops: the current choice selected, the chosen labels
ticked, and every name escaped."""

import datetime
from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.urls import reverse

from issues import queries
from issues.models import Issue, Severity
from issues.templatetags.issue_tags import (
    issue_rows,
    label_badges,
    label_checkboxes,
    select_options,
    time_tag,
)
from issues.tests.factories import IssueFactory, LabelFactory


def test_only_the_current_option_is_selected():
    html = select_options({"options": [("", "Nobody"), ("7", "Ann"), ("9", "Bo")], "current": "7"})

    assert html == (
        '<option value="">Nobody</option>'
        '<option value="7" selected>Ann</option>'
        '<option value="9">Bo</option>'
    )


def test_the_issues_labels_are_ticked_and_names_are_escaped():
    labels = [
        SimpleNamespace(pk=1, name="bug", colour="#d73a4a"),
        SimpleNamespace(pk=2, name='<b>"x"</b>', colour="#000000"),
    ]

    html = label_checkboxes(labels, {"bug"})

    assert 'name="labels" value="bug" checked>' in html
    assert 'value="&lt;b&gt;&quot;x&quot;&lt;/b&gt;">' in html
    assert "<b>" not in html
    assert html.count("<label ") == 2


def test_labels_are_ticked_whatever_the_case_of_their_name_and_the_field_is_named():
    labels = [SimpleNamespace(pk=1, name="UI", colour="#fff")]

    html = label_checkboxes(labels, ["ui"], "label")

    assert html.startswith(
        '<label class="check"><input type="checkbox" name="label" value="UI" checked>'
    )


def test_the_tags_read_their_arguments_from_the_template():
    template = Template(
        "{% load issue_tags %}{% select_options select %}|{% label_checkboxes labels ticked %}"
    )
    html = template.render(
        Context(
            {
                "select": {"options": [("LOW", "<Low>")], "current": "LOW"},
                "labels": [SimpleNamespace(pk=3, name="ui", colour="#fff")],
                "ticked": set(),
            }
        )
    )

    assert html == (
        '<option value="LOW" selected>&lt;Low&gt;</option>|'
        '<label class="check"><input type="checkbox" name="labels" value="ui"> '
        '<span class="label" data-colour="#fff">ui</span></label>'
    )


def test_a_time_is_the_moment_for_the_browser_to_tell_how_long_ago():
    """The browser's <relative-time> says "3 days ago"; the server writes the
    moment, which is also what a reader without JavaScript sees."""
    at = datetime.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=datetime.UTC)

    html = time_tag(at)

    assert html == (
        '<relative-time datetime="2026-03-04T05:06:07.890123+00:00">'
        "2026-03-04 05:06 UTC</relative-time>"
    )
    assert time_tag(datetime.datetime(2026, 3, 4, 5, 6, tzinfo=datetime.UTC)) == (
        '<relative-time datetime="2026-03-04T05:06:00+00:00">2026-03-04 05:06 UTC</relative-time>'
    )
    # A moment in another zone is written in UTC, as its text says.
    elsewhere = datetime.timezone(datetime.timedelta(hours=2))
    assert 'datetime="2026-03-04T03:06:07+00:00"' in time_tag(
        datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=elsewhere)
    )
    assert time_tag(None) == ""


def test_label_badges_escape_names_and_colours():
    labels = [
        SimpleNamespace(name="bug", colour="#d73a4a"),
        SimpleNamespace(name="<img src=x onerror=alert(1)>", colour='"><b>'),
    ]
    issue = SimpleNamespace(labels=SimpleNamespace(all=lambda: labels))

    html = label_badges(issue)

    assert html == (
        '<span class="label" data-colour="#d73a4a">bug</span>'
        '<span class="label" data-colour="&quot;&gt;&lt;b&gt;">'
        "&lt;img src=x onerror=alert(1)&gt;</span>"
    )


@pytest.mark.django_db
def test_label_badges_of_a_listed_issue_come_from_what_give_labels_found(
    maintainer, django_assert_num_queries
):
    for name in ("ui", "bug", "docs"):
        LabelFactory(name=name)
    IssueFactory(reporter=maintainer, labels=["ui", "bug"])
    (issue,) = queries.listed_issues(maintainer)
    every = list(queries.labels())
    queries.give_labels([issue], every)

    with django_assert_num_queries(0):
        html = label_badges(issue)

    assert [label.name for label in issue.shown_labels] == ["bug", "ui"]  # in every label's order
    assert html.index(">bug<") < html.index(">ui<") and ">docs<" not in html
    assert list(issue.labels.all()) == issue.shown_labels  # and the ORM's view agrees


@pytest.mark.django_db
def test_issue_rows_escape_what_people_wrote_and_tick_the_selected(maintainer):
    bug = LabelFactory(name="<i>bug</i>")
    shown = IssueFactory(
        title="<script>alert(1)</script>", reporter=maintainer, assignee=maintainer
    )
    shown.labels.add(bug)
    shown = Issue.objects.select_related("assignee").get(pk=shown.pk)
    shown.assignee.display_name = "<b>Ann</b>"
    other = IssueFactory(title="Plain", assignee=None, severity=Severity.CRITICAL)

    html = issue_rows([shown, other], True, {str(other.id)})

    assert "<script>" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Ann&lt;/b&gt;" in html
    assert f'<a href="{reverse("issues:detail", kwargs={"number": shown.number})}">' in html
    assert f'value="{shown.id}" aria-label="Select #{shown.number}">' in html
    assert f'value="{other.id}" aria-label="Select #{other.number}" checked>' in html
    assert '<span class="badge severity-critical">Critical</span>' in html
    assert "<td>—</td>" in html  # nobody assigned
    assert html.count("<tr ") == 2


@pytest.mark.django_db
def test_issue_rows_have_no_tick_box_for_those_who_cannot_triage():
    html = issue_rows([IssueFactory()], False, set())

    assert "checkbox" not in html
    assert html.count("<td") == 7
