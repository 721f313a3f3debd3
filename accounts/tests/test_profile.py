"""The profile page: display name, the mail notifications opt-out, personal API tokens."""

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from accounts import services, tokens
from accounts.models import ApiToken

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")
TOKEN_CREATE = reverse("accounts:token_create")
NOTIFICATIONS = reverse("accounts:notifications")
ME = "/api/users/me/"


def _revoke_url(token):
    return reverse("accounts:token_revoke", args=[token.pk])


def _api_me(key):
    return Client().get(ME, HTTP_AUTHORIZATION=f"Token {key}")


@pytest.fixture
def signed_in(client, reporter):
    client.force_login(reporter)
    return client


# --- the page --------------------------------------------------------------------------


def test_the_profile_shows_the_email_read_only_and_the_name_editable(signed_in, reporter):
    response = signed_in.get(PROFILE)

    assert response.status_code == 200
    content = response.content.decode()
    email_input = re.search(r'<input id="id_email"[^>]*>', content).group(0)
    assert f'value="{reporter.email}"' in email_input
    assert "readonly" in email_input
    assert "name=" not in email_input  # nothing to submit
    assert 'name="display_name"' in content
    assert 'value="Rita Reporter"' in content
    assert response["Cache-Control"].startswith("max-age=0")
    assert "no-store" in response["Cache-Control"]


def test_the_notifications_section_has_a_real_opt_out(signed_in, reporter):
    content = signed_in.get(PROFILE).content.decode()

    section = content.split('id="notifications"', 1)[1].split("<h2", 1)[0]
    assert f'action="{NOTIFICATIONS}"' in section
    checkbox = re.search(r'<input type="checkbox"[^>]*>', section).group(0)
    assert 'name="email_notifications"' in checkbox
    assert "checked" in checkbox  # on by default
    assert f"@{reporter.email.split('@')[0]}" in section  # how others mention you


def test_a_user_turns_mail_notifications_off_and_on(signed_in, reporter):
    response = signed_in.post(NOTIFICATIONS, {})  # an unticked box is not sent

    assert response.status_code == 302
    assert response["Location"] == PROFILE + "#notifications"
    reporter.refresh_from_db()
    assert reporter.email_notifications is False
    page = signed_in.get(PROFILE).content.decode()
    assert "Mail notifications are off." in page
    checkbox = re.search(r'<input type="checkbox"[^>]*>', page).group(0)
    assert "checked" not in checkbox

    signed_in.post(NOTIFICATIONS, {"email_notifications": "on"})
    reporter.refresh_from_db()
    assert reporter.email_notifications is True


def test_saving_the_display_name_leaves_notifications_alone(signed_in, reporter):
    services.set_notification_preferences(actor=reporter, email_notifications=False)

    signed_in.post(PROFILE, {"display_name": "Rita"})

    reporter.refresh_from_db()
    assert reporter.display_name == "Rita"
    assert reporter.email_notifications is False


def test_the_opt_out_needs_a_signed_in_user_and_a_post(signed_in, reporter):
    anonymous = Client().post(NOTIFICATIONS, {})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("accounts:login"))
    assert signed_in.get(NOTIFICATIONS).status_code == 405
    reporter.refresh_from_db()
    assert reporter.email_notifications is True
    with pytest.raises(PermissionDenied):
        services.set_notification_preferences(actor=None, email_notifications=False)
    with pytest.raises(ValidationError):
        services.set_notification_preferences(actor=reporter, email_notifications="no")


# --- display name ----------------------------------------------------------------------


def test_a_user_changes_their_display_name(signed_in, reporter):
    response = signed_in.post(PROFILE, {"display_name": "  Rita R.  "})

    assert response.status_code == 302
    assert response["Location"] == PROFILE
    reporter.refresh_from_db()
    assert reporter.display_name == "Rita R."
    page = signed_in.get(PROFILE)
    assert b"Profile saved." in page.content
    assert "Rita R. · Reporter".encode() in page.content


def test_the_email_cannot_be_changed_from_the_profile(signed_in, reporter):
    email = reporter.email

    signed_in.post(PROFILE, {"display_name": "Rita", "email": "other@example.com"})

    reporter.refresh_from_db()
    assert reporter.email == email


def test_an_empty_display_name_falls_back_to_the_email(signed_in, reporter):
    signed_in.post(PROFILE, {"display_name": ""})

    reporter.refresh_from_db()
    assert reporter.display_name == ""
    assert reporter.name == reporter.email.split("@")[0]


def test_an_overlong_display_name_reshows_the_form_with_an_error(signed_in, reporter):
    too_long = "R" * 151

    response = signed_in.post(PROFILE, {"display_name": too_long})

    assert response.status_code == 200
    assert response.context["profile_form"].errors["display_name"] == [
        "At most 150 characters (this has 151)."
    ]
    content = response.content.decode()
    assert 'id="id_display_name_error"' in content
    assert 'role="alert"' in content
    assert f'value="{too_long}"' in content  # what was typed is kept
    assert "Rita Reporter · Reporter" in content  # the stored name is unchanged
    reporter.refresh_from_db()
    assert reporter.display_name == "Rita Reporter"


def test_a_display_name_of_exactly_150_characters_is_fine(signed_in, reporter):
    signed_in.post(PROFILE, {"display_name": "R" * 150})

    reporter.refresh_from_db()
    assert reporter.display_name == "R" * 150


def test_update_profile_needs_a_signed_in_active_user(reporter):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(PermissionDenied):
        services.update_profile(actor=AnonymousUser(), display_name="x")
    reporter.is_active = False
    with pytest.raises(PermissionDenied):
        services.update_profile(actor=reporter, display_name="x")


def test_update_profile_validates_the_length(reporter):
    with pytest.raises(ValidationError) as exc:
        services.update_profile(actor=reporter, display_name="x" * 151)

    assert exc.value.message_dict == {"display_name": ["At most 150 characters (this has 151)."]}


# --- API tokens ------------------------------------------------------------------------


def test_creating_a_token_shows_the_key_once_and_it_authenticates_the_api(signed_in, reporter):
    response = signed_in.post(TOKEN_CREATE, {"name": "CI pipeline"})

    assert response.status_code == 200  # rendered directly: no redirect carries the key
    key = response.context["new_key"]
    token = ApiToken.objects.get(user=reporter)
    assert token.name == "CI pipeline"
    assert token.digest == tokens.digest(key)
    content = response.content.decode()
    assert f'<code id="new-token-key">{key}</code>' in content
    assert content.count(key) == 1
    assert "it will not be shown again" in content
    assert "no-store" in response["Cache-Control"]
    assert key not in str(dict(signed_in.session))

    me = _api_me(key)
    assert me.status_code == 200
    assert me.json()["email"] == reporter.email

    # Never again: the next visit lists the token by prefix only.
    later = signed_in.get(PROFILE).content.decode()
    assert key not in later
    assert "CI pipeline" in later
    assert f"<code>{token.prefix}…</code>" in later
    assert key.startswith(token.prefix)


def test_the_token_list_shows_when_a_token_was_last_used(signed_in, reporter):
    _, key = services.create_token(actor=reporter, name="script")
    _api_me(key)

    content = signed_in.get(PROFILE).content.decode()

    row = content.split("<td>script</td>", 1)[1].split("</tr>", 1)[0]
    assert row.count("<time") == 2  # created and last used


def test_a_token_never_used_says_so(signed_in, reporter):
    services.create_token(actor=reporter, name="idle")

    content = signed_in.get(PROFILE).content.decode()

    row = content.split("<td>idle</td>", 1)[1].split("</tr>", 1)[0]
    assert row.count("<time") == 1
    assert "<td>never</td>" in row


def test_an_unnamed_token_gets_the_default_name(signed_in, reporter):
    signed_in.post(TOKEN_CREATE, {"name": "  "})

    assert ApiToken.objects.get(user=reporter).name == "API token"


def test_an_overlong_token_name_reshows_the_form(signed_in, reporter):
    response = signed_in.post(TOKEN_CREATE, {"name": "t" * 101})

    assert response.status_code == 200
    assert response.context["token_form"].errors["name"] == ["At most 100 characters."]
    assert response.context["new_key"] is None
    assert b'role="alert"' in response.content
    assert not ApiToken.objects.exists()


def test_token_pages_need_a_post(signed_in, reporter):
    token, _ = services.create_token(actor=reporter, name="ci")

    assert signed_in.get(TOKEN_CREATE).status_code == 405
    assert signed_in.get(_revoke_url(token)).status_code == 405
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_anonymous_visitors_cannot_create_or_revoke_tokens(client, reporter):
    token, _ = services.create_token(actor=reporter, name="ci")

    for url in (TOKEN_CREATE, _revoke_url(token)):
        response = client.post(url, {"name": "x"})
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    assert list(ApiToken.objects.all()) == [token]


def test_revoking_a_token_stops_it_working(signed_in, reporter):
    token, key = services.create_token(actor=reporter, name="laptop")
    assert _api_me(key).status_code == 200

    response = signed_in.post(_revoke_url(token))

    assert response.status_code == 302
    assert response["Location"] == PROFILE
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert _api_me(key).status_code == 401
    page = signed_in.get(PROFILE).content.decode()
    assert f"Token “laptop” ({token.prefix}…) revoked." in page
    assert "You have no API tokens." in page


def test_one_cannot_revoke_someone_elses_token(signed_in, other_reporter):
    token, key = services.create_token(actor=other_reporter, name="theirs")

    response = signed_in.post(_revoke_url(token))

    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert _api_me(key).status_code == 200


def test_not_even_an_admin_revokes_others_tokens_from_the_profile(client, admin_user, reporter):
    token, _ = services.create_token(actor=reporter, name="theirs")
    client.force_login(admin_user)

    assert client.post(_revoke_url(token)).status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_a_missing_token_is_404(signed_in):
    assert signed_in.post(reverse("accounts:token_revoke", args=[999999])).status_code == 404


def test_the_profile_lists_only_ones_own_tokens(signed_in, reporter, other_reporter):
    services.create_token(actor=reporter, name="mine")
    services.create_token(actor=other_reporter, name="theirs")

    response = signed_in.get(PROFILE)

    assert [t.name for t in response.context["tokens"]] == ["mine"]
    assert b"theirs" not in response.content


def test_the_profile_page_costs_a_fixed_number_of_queries(
    signed_in, reporter, django_assert_max_num_queries
):
    for n in range(5):
        services.create_token(actor=reporter, name=f"token {n}")

    with django_assert_max_num_queries(4):  # session, user, tokens (+ savepoint slack)
        assert signed_in.get(PROFILE).status_code == 200
