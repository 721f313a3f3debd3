"""Writes to accounts: registration and role changes."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts import roles, tokens
from accounts.models import ApiToken, Role, User


@transaction.atomic
def register_user(*, email: str, password: str, display_name: str = "") -> User:
    """Self sign-up: everyone starts as a REPORTER."""
    email = User.objects.normalize_email((email or "").strip())
    if not email:
        raise ValidationError({"email": ["An email address is required."]})
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": ["An account with this email already exists."]})
    candidate = User(email=email, display_name=display_name.strip())
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    return User.objects.create_user(email, password, display_name=display_name.strip())


def check_role_change(*, actor: User, user: User, role: str) -> None:
    """Everything set_role would refuse, for forms to show before saving."""
    if not roles.can_manage_users(actor):
        raise PermissionDenied("Only admins may change roles.")
    if role not in Role.values:
        raise ValidationError(
            {"role": [f"'{role}' is not a role; use one of {', '.join(Role.values)}."]}
        )
    if user.pk == actor.pk and role != Role.ADMIN:
        # Otherwise the last admin could lock everyone out of the admin.
        raise ValidationError({"role": ["You cannot remove your own admin role."]})


@transaction.atomic
def set_role(*, actor: User, user: User, role: str) -> User:
    check_role_change(actor=actor, user=user, role=role)
    user.role = role
    user.save(update_fields=["role"])
    return user


TOKEN_NAME_MAX = 100


@transaction.atomic
def create_token(*, actor: User, name: str = "API token") -> tuple[ApiToken, str]:
    """Returns the token row and the key, which is never retrievable again."""
    if not (actor and actor.is_authenticated and actor.is_active):
        raise PermissionDenied("Sign in to create tokens.")
    name = (name or "").strip() or "API token"
    if len(name) > TOKEN_NAME_MAX:
        raise ValidationError({"name": [f"At most {TOKEN_NAME_MAX} characters."]})
    key = tokens.new_key()
    token = ApiToken.objects.create(
        user=actor, name=name, digest=tokens.digest(key), prefix=key[:8]
    )
    return token, key


@transaction.atomic
def revoke_token(*, actor: User, token: ApiToken) -> None:
    if token.user_id != actor.pk and not roles.can_manage_users(actor):
        raise PermissionDenied("You may revoke only your own tokens.")
    token.delete()


DISPLAY_NAME_MAX = User._meta.get_field("display_name").max_length


def clean_display_name(display_name: str | None) -> str:
    """The display-name rule shared by sign-up and the profile page: surrounding
    whitespace dropped, at most DISPLAY_NAME_MAX characters, empty allowed (the
    user is then called by the first part of their email)."""
    display_name = (display_name or "").strip()
    if len(display_name) > DISPLAY_NAME_MAX:
        raise ValidationError(
            {
                "display_name": [
                    f"At most {DISPLAY_NAME_MAX} characters (this has {len(display_name)})."
                ]
            }
        )
    return display_name


@transaction.atomic
def update_profile(*, actor: User, display_name: str) -> User:
    """The signed-in user edits their own profile (for now: the display name)."""
    if not (actor and actor.is_authenticated and actor.is_active):
        raise PermissionDenied("Sign in to edit your profile.")
    actor.display_name = clean_display_name(display_name)
    actor.save(update_fields=["display_name"])
    return actor


@transaction.atomic
def set_notification_preferences(*, actor: User, email_notifications: bool) -> User:
    """The signed-in user turns mail notifications (issues.notifications) on or off."""
    if not (actor and actor.is_authenticated and actor.is_active):
        raise PermissionDenied("Sign in to change your notifications.")
    if not isinstance(email_notifications, bool):
        raise ValidationError({"email_notifications": ["Must be true or false."]})
    actor.email_notifications = email_notifications
    actor.save(update_fields=["email_notifications"])
    return actor
