"""The label catalogue: admins only, names unique whatever their case."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.tests.factories import UserFactory
from issues import services
from issues.models import EventKind, Issue, Label
from issues.tests.factories import IssueFactory, LabelFactory


def catalogue() -> list[tuple]:
    return list(Label.objects.order_by("pk").values_list("name", "colour", "description"))


@pytest.fixture
def bug(db):
    return LabelFactory(name="bug", colour="#d73a4a")


NOT_ADMINS = ["reporter", "maintainer", "inactive_admin"]


@pytest.fixture
def inactive_admin(db):
    return UserFactory(role="ADMIN", is_active=False)


# --- create_label ------------------------------------------------------------------


def test_admin_creates_a_label(admin_user):
    label = services.create_label(
        actor=admin_user, name="  Needs Info ", colour="#1F883D", description="Waiting on you"
    )

    label.refresh_from_db()
    assert (label.name, label.colour, label.description) == (
        "Needs Info",
        "#1f883d",
        "Waiting on you",
    )


def test_a_new_label_gets_the_default_colour(admin_user):
    label = services.create_label(actor=admin_user, name="plain")

    assert Label.objects.get(pk=label.pk).colour == "#6b7280"


@pytest.mark.parametrize("who", NOT_ADMINS)
def test_only_admins_may_create_labels(request, who):
    actor = request.getfixturevalue(who)

    with pytest.raises(PermissionDenied):
        services.create_label(actor=actor, name="mine")

    assert not Label.objects.exists()


@pytest.mark.parametrize("name", ["bug", "BUG", "Bug", "  bUg  "])
def test_a_duplicate_name_in_any_case_is_refused_on_name(admin_user, bug, name):
    before = catalogue()

    with pytest.raises(ValidationError) as excinfo:
        services.create_label(actor=admin_user, name=name)

    assert set(excinfo.value.message_dict) == {"name"}
    assert "already exists" in excinfo.value.message_dict["name"][0]
    assert catalogue() == before


@pytest.mark.parametrize("colour", ["red", "#12345", "#1234567", "#gggggg", "123456", "", None, 7])
def test_a_colour_that_is_not_hex_is_refused_on_colour(admin_user, colour):
    with pytest.raises(ValidationError) as excinfo:
        services.create_label(actor=admin_user, name="ui", colour=colour)

    assert set(excinfo.value.message_dict) == {"colour"}
    assert not Label.objects.exists()


@pytest.mark.parametrize("name", ["", "   ", None, "x" * 51, 5, "b\x00g"])
def test_a_missing_or_too_long_name_is_refused_on_name(admin_user, name):
    with pytest.raises(ValidationError) as excinfo:
        services.create_label(actor=admin_user, name=name)

    assert set(excinfo.value.message_dict) == {"name"}
    assert not Label.objects.exists()


def test_a_name_of_fifty_characters_is_accepted(admin_user):
    label = services.create_label(actor=admin_user, name="n" * 50)

    assert len(Label.objects.get(pk=label.pk).name) == 50


def test_a_too_long_description_is_refused(admin_user):
    with pytest.raises(ValidationError) as excinfo:
        services.create_label(actor=admin_user, name="ui", description="d" * 201)

    assert set(excinfo.value.message_dict) == {"description"}


def test_every_bad_label_field_is_reported_at_once(admin_user):
    with pytest.raises(ValidationError) as excinfo:
        services.create_label(actor=admin_user, name="", colour="blue", description="d" * 201)

    assert set(excinfo.value.message_dict) == {"name", "colour", "description"}


# --- update_label ------------------------------------------------------------------


def test_admin_renames_and_recolours_a_label(admin_user, bug):
    services.update_label(
        actor=admin_user, label=bug, changes={"name": "defect", "colour": "#ABCDEF"}
    )

    row = Label.objects.get(pk=bug.pk)
    assert (row.name, row.colour) == ("defect", "#abcdef")


def test_a_label_may_change_only_the_case_of_its_own_name(admin_user, bug):
    services.update_label(actor=admin_user, label=bug, changes={"name": "Bug"})

    assert Label.objects.get(pk=bug.pk).name == "Bug"


def test_renaming_onto_another_labels_name_in_any_case_is_refused(admin_user, bug):
    ui = LabelFactory(name="ui")

    with pytest.raises(ValidationError) as excinfo:
        services.update_label(actor=admin_user, label=ui, changes={"name": "BUG"})

    assert set(excinfo.value.message_dict) == {"name"}
    assert Label.objects.get(pk=ui.pk).name == "ui"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"colour": "green"}, "colour"),
        ({"name": ""}, "name"),
        ({"description": "d" * 201}, "description"),
        ({"description": "\x00"}, "description"),
        ({"name": "\x00"}, "name"),
        ({"id": 5}, "id"),
        ({"issues": []}, "issues"),
    ],
)
def test_update_label_refuses_bad_input_naming_the_field(admin_user, bug, changes, field):
    before = catalogue()

    with pytest.raises(ValidationError) as excinfo:
        services.update_label(actor=admin_user, label=bug, changes=changes)

    assert set(excinfo.value.message_dict) == {field}
    assert catalogue() == before


@pytest.mark.parametrize("who", NOT_ADMINS)
def test_only_admins_may_update_labels(request, bug, who):
    actor = request.getfixturevalue(who)

    with pytest.raises(PermissionDenied):
        services.update_label(actor=actor, label=bug, changes={"name": "hijacked"})

    assert Label.objects.get(pk=bug.pk).name == "bug"


def test_renaming_a_label_renames_it_on_its_issues(admin_user, maintainer, reporter, bug):
    issue = IssueFactory(reporter=reporter)
    services.replace_labels(actor=maintainer, issue=issue, labels=["bug"])

    services.update_label(actor=admin_user, label=bug, changes={"name": "defect"})

    assert list(Issue.objects.get(pk=issue.pk).labels.values_list("name", flat=True)) == ["defect"]


# --- delete_label ------------------------------------------------------------------


def test_deleting_a_label_takes_it_off_every_issue(admin_user, maintainer, reporter, bug):
    ui = LabelFactory(name="ui")
    first, second = IssueFactory(reporter=reporter), IssueFactory(reporter=reporter)
    services.replace_labels(actor=maintainer, issue=first, labels=["bug", "ui"])
    services.replace_labels(actor=maintainer, issue=second, labels=["bug"])
    bug_pk = bug.pk  # deleting clears the pk of the object deleted

    services.delete_label(actor=admin_user, label=bug)

    assert list(Label.objects.values_list("name", flat=True)) == ["ui"]
    assert list(Issue.objects.get(pk=first.pk).labels.all()) == [ui]
    assert list(Issue.objects.get(pk=second.pk).labels.all()) == []
    assert not Issue.labels.through.objects.filter(label_id=bug_pk).exists()


def test_the_timeline_keeps_the_name_of_a_deleted_label(admin_user, maintainer, issue, bug):
    services.replace_labels(actor=maintainer, issue=issue, labels=["bug"])

    services.delete_label(actor=admin_user, label=bug)

    event = issue.events.get(kind=EventKind.LABELS_CHANGED)
    assert (event.old_value, event.new_value) == ([], ["bug"])


def test_a_deleted_labels_name_can_be_used_again(admin_user, bug):
    services.delete_label(actor=admin_user, label=bug)

    again = services.create_label(actor=admin_user, name="BUG")

    assert list(Label.objects.values_list("pk", flat=True)) == [again.pk]


@pytest.mark.parametrize("who", NOT_ADMINS)
def test_only_admins_may_delete_labels(request, maintainer, issue, bug, who):
    actor = request.getfixturevalue(who)
    services.replace_labels(actor=maintainer, issue=issue, labels=["bug"])

    with pytest.raises(PermissionDenied):
        services.delete_label(actor=actor, label=bug)

    assert Label.objects.filter(pk=bug.pk).exists()
    assert list(Issue.objects.get(pk=issue.pk).labels.all()) == [bug]
