from axes.models import AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import ApiToken, User

# Roles replace groups and per-object permissions.
admin.site.unregister(Group)
# Of axes' models only the failed-login counters are kept (AXES_DISABLE_ACCESS_LOG):
# their admin ("Access attempts") shows who is locked out, and deleting a row
# unlocks that email and address.
admin.site.unregister(AccessLog)
admin.site.unregister(AccessFailureLog)


class UniqueEmailMixin:
    """The database refuses an email that differs only in case; say so on the field
    rather than as an anonymous constraint violation."""

    def clean_email(self):
        email = self.cleaned_data["email"]
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise ValidationError("An account with this email already exists.")
        return email


class UserCreateForm(UniqueEmailMixin, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email", "display_name", "role"]


class UserEditForm(UniqueEmailMixin, UserChangeForm):
    actor: User | None = None

    class Meta:
        model = User
        fields = ["email", "display_name", "role", "is_active"]

    def clean_role(self):
        role = self.cleaned_data["role"]
        if role != self.instance.role:
            try:
                services.check_role_change(actor=self.actor, user=self.instance, role=role)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict.get("role", exc.messages)) from None
        return role


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    list_display = ["email", "display_name", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    search_fields = ["email", "display_name"]
    ordering = ["email"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["display_name"]}),
        ("Access", {"fields": ["role", "is_active"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "display_name", "role", "password1", "password2"],
            },
        ),
    ]
    readonly_fields = ["last_login", "date_joined"]
    filter_horizontal = []

    def get_form(self, request, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)
        form_class.actor = request.user
        return form_class

    def save_model(self, request, obj, form, change):
        if change and "role" in form.changed_data:
            # The role change itself goes through the service.
            new_role, obj.role = obj.role, form.initial["role"]
            super().save_model(request, obj, form, change)
            services.set_role(actor=request.user, user=obj, role=new_role)
        else:
            super().save_model(request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Admins see and revoke tokens; keys are never stored, so never shown."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["name", "user__email"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at"]
    exclude = ["digest"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
