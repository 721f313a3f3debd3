"""The lookups written once as SQL (tracker.db.fetch_one: the API token, the
session) read exactly what the ORM reads, and what they build behaves as a
model instance the ORM loaded."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.authentication import _token_sql
from accounts.models import ApiToken, User
from accounts.services import create_token
from tracker.db import fetch_one
from tracker.sessions import SessionStore

pytestmark = pytest.mark.django_db


def field_values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_the_token_and_its_user_are_what_the_orm_reads(maintainer):
    token, _ = create_token(actor=maintainer, name="laptop")

    found, user = fetch_one(_token_sql(), [token.digest], ApiToken, User)

    assert field_values(found) == field_values(ApiToken.objects.get(pk=token.pk))
    assert field_values(user) == field_values(User.objects.get(pk=maintainer.pk))


def test_what_it_builds_is_saved_as_an_update_of_its_row(maintainer):
    token, _ = create_token(actor=maintainer, name="laptop")
    _, user = fetch_one(_token_sql(), [token.digest], ApiToken, User)
    assert not user._state.adding and user._state.db == "default"

    user.display_name = "Renamed"
    user.save(update_fields=["display_name"])

    assert User.objects.get(pk=maintainer.pk).display_name == "Renamed"
    assert User.objects.count() == 1


def test_no_row_is_none(maintainer):
    with CaptureQueriesContext(connection) as queries:
        assert fetch_one(_token_sql(), ["0" * 64], ApiToken, User) is None
    assert len(queries) == 1


def test_a_session_is_read_back_with_its_data():
    session = SessionStore()
    session["cart"] = ["a", 1]
    session.create()

    again = SessionStore(session.session_key)

    assert again.load() == {"cart": ["a", 1]}
    assert again.session_key == session.session_key


def test_an_expired_session_is_not_read_and_its_key_is_dropped():
    session = SessionStore()
    session["cart"] = ["a"]
    session.create()
    Session.objects.filter(pk=session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    again = SessionStore(session.session_key)

    assert again.load() == {}
    assert again.session_key is None


def test_an_unknown_session_key_reads_nothing():
    again = SessionStore("x" * 32)

    assert again.load() == {}
    assert again.session_key is None
