"""What PostgreSQL itself guarantees, whatever Python does: these tests go around
the service layer (QuerySet.update, bare create, raw SQL) on purpose."""

import pytest
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from issues import services
from issues.models import EventKind, Issue, IssueEvent, IssueSearch, Label, Severity, Status
from issues.tests.factories import IssueFactory


def violated_constraint(excinfo) -> str | None:
    """The name PostgreSQL reports for the constraint an IntegrityError broke."""
    cause = excinfo.value.__cause__
    return getattr(getattr(cause, "diag", None), "constraint_name", None)


def refused_update(queryset, **values):
    """Run an UPDATE that must fail, inside a savepoint so the test can go on."""
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        queryset.update(**values)
    return excinfo


# --- Issue -------------------------------------------------------------------------


def test_factory_issue_has_number_and_created_event(issue):
    assert issue.number > 0
    assert issue.version == 1
    assert list(issue.events.values_list("kind", flat=True)) == [EventKind.CREATED]


@pytest.mark.parametrize("bad_status", ["CLOSED", "open", "", "WONTFIX"])
def test_database_refuses_an_unknown_status(issue, bad_status):
    excinfo = refused_update(Issue.objects.filter(pk=issue.pk), status=bad_status)

    assert violated_constraint(excinfo) == "issue_status_valid"
    issue.refresh_from_db()
    assert issue.status == Status.OPEN


@pytest.mark.parametrize("bad_severity", [0, 5, 99])
def test_database_refuses_an_unknown_severity(issue, bad_severity):
    excinfo = refused_update(Issue.objects.filter(pk=issue.pk), severity=bad_severity)

    assert violated_constraint(excinfo) == "issue_severity_valid"
    issue.refresh_from_db()
    assert issue.severity == Severity.MEDIUM


def test_database_refuses_an_unknown_role(reporter):
    excinfo = refused_update(User.objects.filter(pk=reporter.pk), role="SUPERUSER")

    assert violated_constraint(excinfo) == "user_role_valid"
    reporter.refresh_from_db()
    assert reporter.role == "REPORTER"


def test_database_refuses_a_version_of_zero(issue):
    excinfo = refused_update(Issue.objects.filter(pk=issue.pk), version=0)

    assert violated_constraint(excinfo) == "issue_version_positive"
    issue.refresh_from_db()
    assert issue.version == 1


def test_database_refuses_a_negative_version(issue):
    excinfo = refused_update(Issue.objects.filter(pk=issue.pk), version=F("version") - 5)

    # Either the explicit constraint or the one Django adds for a positive field.
    assert violated_constraint(excinfo) in {"issue_version_positive", "issues_issue_version_check"}
    issue.refresh_from_db()
    assert issue.version == 1


def test_database_refuses_an_empty_title(issue, reporter):
    excinfo = refused_update(Issue.objects.filter(pk=issue.pk), title="")
    assert violated_constraint(excinfo) == "issue_title_not_empty"

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        Issue.objects.create(reporter=reporter, title="")
    assert violated_constraint(excinfo) == "issue_title_not_empty"
    assert Issue.objects.count() == 1


def test_database_refuses_done_without_resolved_at(issue):
    excinfo = refused_update(Issue.objects.filter(pk=issue.pk), status=Status.DONE)

    assert violated_constraint(excinfo) == "issue_resolved_at_matches_status"
    issue.refresh_from_db()
    assert issue.status == Status.OPEN


def test_database_refuses_resolved_at_on_an_open_issue(issue):
    excinfo = refused_update(Issue.objects.filter(pk=issue.pk), resolved_at=timezone.now())

    assert violated_constraint(excinfo) == "issue_resolved_at_matches_status"
    issue.refresh_from_db()
    assert issue.resolved_at is None


def test_database_accepts_done_with_resolved_at(issue):
    now = timezone.now()
    Issue.objects.filter(pk=issue.pk).update(status=Status.DONE, resolved_at=now)

    issue.refresh_from_db()
    assert (issue.status, issue.resolved_at) == (Status.DONE, now)


def test_issue_numbers_are_sequential_and_distinct(reporter):
    issues = [IssueFactory(reporter=reporter) for _ in range(3)]
    bare = Issue.objects.create(reporter=reporter, title="Created without the service")
    bare.refresh_from_db()

    numbers = [i.number for i in issues] + [bare.number]
    assert numbers == list(range(numbers[0], numbers[0] + 4))
    assert len(set(numbers)) == 4


def test_database_refuses_a_duplicate_issue_number(reporter):
    first, second = IssueFactory(reporter=reporter), IssueFactory(reporter=reporter)

    excinfo = refused_update(Issue.objects.filter(pk=second.pk), number=first.number)

    assert violated_constraint(excinfo) == "issues_issue_number_key"
    second.refresh_from_db()
    assert second.number == first.number + 1


# --- Label -------------------------------------------------------------------------


@pytest.mark.parametrize("other_case", ["bug", "BUG", "Bug", "bUg"])
def test_label_names_are_unique_whatever_the_case(db, other_case):
    Label.objects.create(name="Bug")

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        Label.objects.create(name=other_case)

    assert violated_constraint(excinfo) == "label_name_ci_unique"
    assert list(Label.objects.values_list("name", flat=True)) == ["Bug"]


@pytest.mark.parametrize("bad_colour", ["red", "#12345", "#gggggg", "123456", ""])
def test_database_refuses_a_label_colour_that_is_not_hex(db, bad_colour):
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        Label.objects.create(name="ui", colour=bad_colour)

    assert violated_constraint(excinfo) == "label_colour_hex"
    assert not Label.objects.exists()


def test_database_refuses_an_empty_label_name(db):
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        Label.objects.create(name="")

    assert violated_constraint(excinfo) == "label_name_not_empty"


# --- IssueEvent --------------------------------------------------------------------


def test_raw_sql_update_of_an_event_is_refused_by_the_trigger(issue):
    event = issue.events.get()

    with (
        pytest.raises(IntegrityError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE issues_issueevent SET kind = %s, data = %s WHERE id = %s",
            [EventKind.IMPORTED, '{"forged": true}', event.pk],
        )

    event.refresh_from_db()
    assert event.kind == EventKind.CREATED
    assert "forged" not in event.data


def test_queryset_update_of_events_is_refused(issue, maintainer):
    services.change_status(actor=maintainer, issue=issue, version=1, status=Status.TRIAGED)
    before = list(issue.events.values_list("id", "kind", "actor_id"))

    refused_update(IssueEvent.objects.filter(issue=issue), actor=None)

    assert list(issue.events.values_list("id", "kind", "actor_id")) == before


def test_saving_a_changed_event_is_refused(issue):
    event = issue.events.get()
    event.new_value = "rewritten history"

    with pytest.raises(IntegrityError), transaction.atomic():
        event.save()

    assert IssueEvent.objects.get(pk=event.pk).new_value is None


def test_events_can_still_be_inserted_and_deleted_with_their_issue(issue, admin_user):
    IssueEvent.objects.create(issue=issue, actor=None, kind=EventKind.IMPORTED)
    assert issue.events.count() == 2

    pk = issue.pk  # deleting clears the pk of the object deleted
    services.delete_issue(actor=admin_user, issue=issue)

    assert not IssueEvent.objects.filter(issue_id=pk).exists()
    assert not IssueEvent.objects.exists()


def test_database_refuses_an_unknown_event_kind(issue):
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        IssueEvent.objects.create(issue=issue, kind="HACKED")

    assert violated_constraint(excinfo) == "event_kind_valid"


# --- Full-text search --------------------------------------------------------------


@pytest.fixture
def printer_issue(reporter):
    IssueFactory(reporter=reporter, title="Login page is slow", description="Takes ages.")
    return IssueFactory(
        reporter=reporter,
        title="Printer jams on the second page",
        description="The spooler crashes whenever duplex mode is enabled.",
    )


def search(words: str):
    return Issue.objects.filter(search__vector=SearchQuery(words, config="english"))


def test_search_vector_matches_a_word_from_the_title(printer_issue):
    assert list(search("printer")) == [printer_issue]


def test_search_vector_matches_a_word_from_the_description(printer_issue):
    assert list(search("spooler")) == [printer_issue]
    # Stemming: "crash" finds "crashes", "jam" finds "jams".
    assert list(search("crash")) == [printer_issue]
    assert list(search("jam")) == [printer_issue]


def test_search_vector_does_not_match_absent_words(printer_issue):
    assert list(search("unicorn")) == []


def test_search_vector_follows_an_edit(printer_issue, reporter):
    services.update_issue(
        actor=reporter, issue=printer_issue, version=1, changes={"title": "Scanner is broken"}
    )

    assert list(search("scanner")) == [printer_issue]
    assert list(search("printer")) == []


def _title_words(issue) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT title_vector::text FROM issues_issuesearch WHERE issue_id = %s", [issue.pk]
        )
        return cursor.fetchone()[0]


def test_the_title_words_are_the_words_of_the_title_with_all_their_positions(reporter):
    issue = IssueFactory(
        reporter=reporter, title="Printer jams", description="The printer needs paper."
    )

    # "paper" is in the description only; "printer" keeps its description position too.
    assert _title_words(issue) == "'jam':2A 'printer':1A,4B"


def test_the_title_words_follow_an_edit(printer_issue, reporter):
    services.update_issue(
        actor=reporter, issue=printer_issue, version=1, changes={"title": "Spooler crashes"}
    )

    assert _title_words(printer_issue) == "'crash':2A,5B 'spooler':1A,4B"


def test_title_matches_rank_above_description_matches(reporter):
    in_title = IssueFactory(reporter=reporter, title="Firmware update fails", description="x")
    in_description = IssueFactory(
        reporter=reporter, title="Device problem", description="The firmware is old."
    )
    query = SearchQuery("firmware", config="english")

    ranked = list(
        Issue.objects.filter(search__vector=query)
        .annotate(rank=SearchRank(F("search__vector"), query))
        .order_by("-rank")
    )

    assert ranked == [in_title, in_description]


def _search_row_version(issue) -> str:
    """The row version (xmin) of the issue's search words: changes when rewritten."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text FROM issues_issuesearch WHERE issue_id = %s", [issue.pk])
        return cursor.fetchone()[0]


def test_the_search_words_follow_a_description_edit_only(printer_issue, reporter, maintainer):
    services.update_issue(
        actor=reporter,
        issue=printer_issue,
        version=1,
        changes={"description": "The toner smells."},
    )
    assert list(search("toner")) == [printer_issue]
    assert list(search("spooler")) == []
    before = _search_row_version(printer_issue)

    # Triage rewrites the issue's row but not its search words (their RUM index is costly).
    services.change_status(actor=maintainer, issue=printer_issue, version=2, status="TRIAGED")
    Issue.objects.filter(pk=printer_issue.pk).update(title="Printer jams on the second page")

    assert _search_row_version(printer_issue) == before


def test_every_way_of_creating_issues_gets_search_words(reporter):
    Issue.objects.bulk_create([Issue(title="Bulk loaded keyboard", reporter=reporter)])

    assert list(search("keyboard").values_list("title", flat=True)) == ["Bulk loaded keyboard"]


def test_deleting_an_issue_deletes_its_search_words(printer_issue, admin_user):
    assert IssueSearch.objects.filter(issue_id=printer_issue.pk).exists()

    services.delete_issue(actor=admin_user, issue=printer_issue)

    assert not IssueSearch.objects.filter(issue_id=printer_issue.pk).exists()


@pytest.mark.parametrize(
    ("title", "description"),
    [
        ("Printer jams", "The printer needs paper."),
        ("The", "Only stop words in the title."),
        ("Crash crash CRASH on save", ""),
        ("Export fails", "export exports exported; fails failing"),
        ("Ünïcode tïtle – dashes", "ünïcode body"),
    ],
)
def test_the_trigger_s_title_words_are_those_of_issues_title_words(reporter, title, description):
    """Migration 0015 computes the title words without issues_title_words()
    (0013): the same vector, written on create and on an edit."""
    issue = IssueFactory(reporter=reporter, title=title, description=description)

    def both() -> tuple[str, str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT title_vector::text, issues_title_words(vector)::text"
                " FROM issues_issuesearch WHERE issue_id = %s",
                [issue.pk],
            )
            return cursor.fetchone()

    ours, function_s = both()
    assert ours == function_s
    services.update_issue(
        actor=reporter, issue=issue, version=1, changes={"description": f"{title} again"}
    )
    ours, function_s = both()
    assert ours == function_s
