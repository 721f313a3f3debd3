from datetime import timedelta

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts import tokens
from accounts.models import ApiToken
from tracker.db import Prepared

# Recording every use would turn each read into a write; once a minute is enough
# to tell a live token from a forgotten one.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenAuthentication(TokenAuthentication):
    """`Authorization: Token trk_...` against the stored digests."""

    def authenticate_credentials(self, key):
        token = token_with_user.one(tokens.digest(key))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token


# A token and its user by the key's digest: every API request's first read, so
# compiled once (tracker.db.Prepared; as an ORM lookup it was about 1 ms of the
# API floor's 3).
token_with_user = Prepared(
    lambda digest: ApiToken.objects.select_related("user").filter(digest=digest),
    server_prepared=True,
)
