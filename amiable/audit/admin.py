"""The audit trail in the technical administration: readable, never editable; and a mixin so that every
change made through the administration is audited like a change made by a service."""

from django.contrib import admin
from django.forms.models import model_to_dict

from amiable.audit.models import AccessLogEntry, AuditEvent
from amiable.audit.services import audit_record


class AuditedAdminMixin:
    """Records who changed what through the administration, with the changed fields before and after."""

    audit_prefix: str = ""

    def _prefix(self, obj) -> str:
        return self.audit_prefix or obj._meta.model_name

    def save_model(self, request, obj, form, change):
        concrete = {f.name for f in obj._meta.concrete_fields}
        many = {f.name for f in obj._meta.many_to_many}
        fields = [name for name in form.changed_data if name in concrete]
        related = [name for name in form.changed_data if name in many]
        before = {}
        if change:
            original = type(obj).objects.get(pk=obj.pk)
            before = model_to_dict(original, fields=fields)
            before.update({name: sorted(str(o) for o in getattr(original, name).all()) for name in related})
        super().save_model(request, obj, form, change)
        after = model_to_dict(obj, fields=fields)
        after.update({name: sorted(str(o) for o in form.cleaned_data[name]) for name in related})
        audit_record(
            actor=request.user,
            verb=f"{self._prefix(obj)}.{'updated' if change else 'created'}",
            target=obj,
            before=before or None,
            after=after,
            ip_address=request.META.get("REMOTE_ADDR"),
        )

    def save_formset(self, request, form, formset, change):
        """Inline rows (e.g. a scenario's steps) are audited one by one too."""
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            audit_record(
                actor=request.user,
                verb=f"{obj._meta.model_name}.deleted",
                target=obj,
                ip_address=request.META.get("REMOTE_ADDR"),
            )
            obj.delete()
        for obj in instances:
            created = obj.pk is None
            obj.save()
            fields = [f.name for f in obj._meta.concrete_fields if f.name != "id"]
            audit_record(
                actor=request.user,
                verb=f"{obj._meta.model_name}.{'created' if created else 'updated'}",
                target=obj,
                after=model_to_dict(obj, fields=fields),
                ip_address=request.META.get("REMOTE_ADDR"),
            )
        formset.save_m2m()

    def delete_model(self, request, obj):
        audit_record(
            actor=request.user,
            verb=f"{self._prefix(obj)}.deleted",
            target=obj,
            ip_address=request.META.get("REMOTE_ADDR"),
        )
        super().delete_model(request, obj)

    def get_actions(self, request):
        # Bulk deletion would bypass delete_model and its audit event.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_label", "verb", "target_type", "target_label", "ip_address"]
    list_filter = ["verb", "target_type"]
    search_fields = ["actor_label", "verb", "target_label", "target_id"]
    date_hierarchy = "at"
    list_select_related = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessLogEntry)
class AccessLogAdmin(admin.ModelAdmin):
    """Agency admins consult who, of the agency's or the creditors' staff, viewed which case, document or
    export (L11); the filter by person answers « what did this person see? »."""

    list_display = ["at", "user_label", "kind", "label", "ip_address"]
    list_filter = [("user", admin.RelatedFieldListFilter), "kind", "creditor_pk"]
    search_fields = ["user_label", "label"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
