from django.contrib import admin

from amiable.audit.admin import AuditedAdminMixin
from amiable.creditors.models import Agency, ContractTerms, Creditor, Structure


@admin.register(Agency)
class AgencyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "siret", "city"]

    def has_add_permission(self, request):
        return not Agency.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class StructureInline(admin.TabularInline):
    model = Structure
    extra = 0
    fields = ["code", "name", "postal_code", "city", "is_active"]
    show_change_link = True
    can_delete = False

    def has_change_permission(self, request, obj=None):
        return False  # structures are edited on their own page, where changes are audited

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Creditor)
class CreditorAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "referent", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StructureInline]


@admin.register(Structure)
class StructureAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "creditor", "is_active"]
    list_filter = ["creditor"]
    search_fields = ["code", "name"]


@admin.register(ContractTerms)
class ContractTermsAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_prefix = "terms"
    list_display = ["creditor", "commission_rate", "max_plan_months", "certificate_months"]
