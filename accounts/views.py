"""Account pages: sign-up, profile and personal API tokens, and Django's password
views with our templates. Thin: parse the form, call one service, render."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.timesince import timeuntil
from django.views.decorators.http import require_http_methods, require_POST

from accounts import lockout, services
from accounts.forms import NotificationsForm, ProfileForm, SignupForm, TokenForm
from accounts.models import ApiToken

# The backend that checks passwords and loads a session's user; axes' backend,
# first in AUTHENTICATION_BACKENDS, only refuses locked-out clients.
LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"

# --- sign-up -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.register_user(
                email=data["email"], password=data["password1"], display_name=data["display_name"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except IntegrityError:
            # Two sign-ups with one address at once: the unique index decides.
            form.add_error("email", "An account with this email already exists.")
        else:
            login(request, user, backend=LOGIN_BACKEND)
            return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/signup.html", {"form": form})


# --- profile and tokens --------------------------------------------------------------


def _render_profile(
    request,
    *,
    profile_form=None,
    token_form=None,
    new_token=None,
    new_key=None,
    notifications_form=None,
):
    context = {
        "profile_form": profile_form
        or ProfileForm(initial={"display_name": request.user.display_name}),
        "notifications_form": notifications_form
        or NotificationsForm(initial={"email_notifications": request.user.email_notifications}),
        "token_form": token_form or TokenForm(),
        # How others @mention this user (issues.mentions): their email's local part.
        "mention_handle": request.user.email.rsplit("@", 1)[0],
        "tokens": request.user.api_tokens.order_by("-created_at", "-pk"),
        "new_token": new_token,
        "new_key": new_key,
    }
    response = render(request, "accounts/profile.html", context)
    # The page lists tokens and, once, a key: no cache may keep a copy.
    add_never_cache_headers(response)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    if request.method == "GET":
        return _render_profile(request)
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            services.update_profile(
                actor=request.user, display_name=form.cleaned_data["display_name"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "Profile saved.")
            return redirect("accounts:profile")
    return _render_profile(request, profile_form=form)


@login_required
@require_POST
def notifications(request):
    """The notifications opt-out: a separate form, so saving the profile's name
    never turns mail off by leaving out the checkbox."""
    form = NotificationsForm(request.POST)
    if form.is_valid():
        try:
            services.set_notification_preferences(
                actor=request.user, email_notifications=form.cleaned_data["email_notifications"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            on = form.cleaned_data["email_notifications"]
            messages.success(
                request, "Mail notifications are on." if on else "Mail notifications are off."
            )
            return redirect(reverse("accounts:profile") + "#notifications")
    return _render_profile(request, notifications_form=form)


@login_required
@require_POST
def token_create(request):
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            token, key = services.create_token(actor=request.user, name=form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            # The key exists only in this response: not in a URL, the session or a
            # message. Reloading asks the browser to post again (and makes a new token).
            return _render_profile(request, new_token=token, new_key=key)
    return _render_profile(request, token_form=form)


@login_required
@require_POST
def token_revoke(request, token_id):
    # Only one's own tokens: anyone else's id is indistinguishable from a missing one.
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    services.revoke_token(actor=request.user, token=token)
    messages.success(request, f"Token “{token.name}” ({token.prefix}…) revoked.")
    return redirect("accounts:profile")


# --- passwords: Django's views, our templates and URL names ---------------------------


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("accounts:password_change_done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"


class PasswordResetView(auth_views.PasswordResetView):
    """Always answers with the same page, whether the address has an account or not."""

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        now = timezone.now()
        valid_for = timeuntil(now + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT), now)
        self.extra_email_context = {"valid_for": valid_for.replace("\xa0", " ")}
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """A new password set through the mailed link also lifts a login lockout:
    whoever holds the mailbox is the owner, and the old failures no longer count."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        lockout.unlock(form.user.email)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"
