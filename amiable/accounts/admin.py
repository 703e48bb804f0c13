from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from amiable.accounts.models import User
from amiable.audit.admin import AuditedAdminMixin


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "role", "creditor")


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    audit_prefix = "user"
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "role", "creditor", "is_active", "two_factor_enabled"]
    list_filter = ["role", "creditor", "is_active", "two_factor_enabled"]
    readonly_fields = ["last_login", "date_joined", "two_factor_enabled"]
    search_fields = ["email", "first_name", "last_name"]
    filter_horizontal = ["structures"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Identité", {"fields": ["first_name", "last_name"]}),
        ("Rôle et périmètre", {"fields": ["role", "creditor", "all_structures", "structures", "is_active"]}),
        ("Dates et sécurité", {"fields": ["last_login", "date_joined", "two_factor_enabled"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "role", "creditor", "password1", "password2"]}),
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # accounts are deactivated, never deleted: the audit trail names them


# Second-factor devices are changed only through the account pages' services, which audit the change and keep
# User.two_factor_enabled in step; django-otp's own admin pages would also show the authenticators' secrets.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
