from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse

from amiable.audit.admin import AuditedAdminMixin
from amiable.creditors.models import Agency, ContractTerms, Creditor, Structure
from amiable.creditors.services import creditor_staff_sessions_end


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

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            creditor_staff_sessions_end(creditor=obj)


@admin.register(Structure)
class StructureAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "creditor", "is_active"]
    list_filter = ["creditor"]
    search_fields = ["code", "name"]

    def delete_view(self, request, object_id, extra_context=None):
        """A structure with cases or people limited to it is deactivated, never deleted: said in French on its
        page instead of the confirmation."""
        structure = self.get_object(request, object_id)
        refusal = structure.delete_refusal() if structure is not None else ""
        if refusal:
            self.message_user(request, refusal, messages.ERROR)
            return redirect(reverse("admin:creditors_structure_change", args=[structure.pk]))
        return super().delete_view(request, object_id, extra_context)


@admin.register(ContractTerms)
class ContractTermsAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_prefix = "terms"
    list_display = ["creditor", "commission_rate", "max_plan_months", "certificate_months"]
