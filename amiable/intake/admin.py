from django import forms
from django.contrib import admin

from amiable.audit.admin import AuditedAdminMixin
from amiable.intake.models import Batch, ColumnMapping, CreditorKey
from amiable.intake.parsing import COLUMNS


class ColumnMappingForm(forms.ModelForm):
    column = forms.ChoiceField(label="Colonne", choices=[(key, label) for key, (label, _syn) in COLUMNS.items()])

    class Meta:
        model = ColumnMapping
        fields = ["creditor", "header", "column"]


@admin.register(ColumnMapping)
class ColumnMappingAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Agency admins map a creditor's own header wording to one of our columns."""

    form = ColumnMappingForm
    list_display = ["creditor", "header", "column_name"]
    list_filter = ["creditor"]

    @admin.display(description="Colonne", ordering="column")
    def column_name(self, obj: ColumnMapping) -> str:
        """The column's French name: the stored value is the field name used in code."""
        return COLUMNS[obj.column][0] if obj.column in COLUMNS else obj.column


@admin.register(CreditorKey)
class CreditorKeyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Keys are registered with `manage.py gpg_import_key --creditor`, which imports them into GnuPG."""

    list_display = ["creditor", "user_id", "fingerprint", "is_active", "added_at"]
    readonly_fields = ["creditor", "fingerprint", "user_id", "armored", "added_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["number", "creditor", "received_at", "accepted_count", "rejected_count", "acknowledgement_number"]
    list_filter = ["creditor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
