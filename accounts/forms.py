"""Forms for the account pages. They check the shape of the input only; the rules
(unique email, password strength, name lengths) live in accounts.services, so the
pages and the API give the same answer to the same bad input."""

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import User

NAME_HELP = "How others see you. Leave empty to use the first part of your email."


class ServiceErrorsMixin:
    """Shows a ValidationError raised by a service beside the field it concerns."""

    # Service error keys that a form calls by another name.
    service_fields: dict[str, str] = {}

    def add_service_errors(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for key, errors in error.error_dict.items():
            field = self.service_fields.get(key, key)
            self.add_error(field if field in self.fields else None, errors)


def _display_name_field() -> forms.CharField:
    return forms.CharField(
        label="Display name",
        required=False,
        strip=True,
        help_text=NAME_HELP,
        # No max_length: services.clean_display_name owns the rule; the attribute
        # only stops a browser from typing past it.
        widget=forms.TextInput(
            attrs={"autocomplete": "name", "maxlength": services.DISPLAY_NAME_MAX}
        ),
    )


class SignupForm(ServiceErrorsMixin, forms.Form):
    email = forms.EmailField(
        label="Email",
        max_length=User._meta.get_field("email").max_length,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    display_name = _display_name_field()
    password1 = forms.CharField(
        label="Password",
        strip=False,
        help_text=password_validation.password_validators_help_text_html(),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    service_fields = {"password": "password1"}

    def clean_display_name(self):
        # register_user stores the name as given, so apply the profile's rule here.
        try:
            return services.clean_display_name(self.cleaned_data["display_name"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["display_name"]) from None

    def clean(self):
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        return data


class ProfileForm(ServiceErrorsMixin, forms.Form):
    display_name = _display_name_field()


class TokenForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(
        label="Token name",
        required=False,
        strip=True,
        help_text="What the token is for, e.g. “CI pipeline”. Defaults to “API token”.",
        widget=forms.TextInput(attrs={"maxlength": services.TOKEN_NAME_MAX}),
    )


class NotificationsForm(ServiceErrorsMixin, forms.Form):
    email_notifications = forms.BooleanField(
        label="Email me about issues",
        required=False,  # unticked: no mail
        widget=forms.CheckboxInput(attrs={"aria-describedby": "id_email_notifications_helptext"}),
        help_text="When I am assigned an issue or mentioned with @, and when an issue I "
        "watch changes status or gets a comment. Never about my own changes.",
    )
