"""The date of a recall for the cases recalled before it was kept on the case (C13): from the audit trail's
`case.recalled` event, else from the status change of a case still « retourné au créancier »."""

from django.db import migrations


def backfill(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    AuditEvent = apps.get_model("audit", "AuditEvent")
    missing = set(Case.objects.filter(recalled_at__isnull=True).values_list("pk", flat=True))
    if not missing:
        return
    events = AuditEvent.objects.filter(verb="case.recalled", case_pk__isnull=False).order_by("at")
    for case_pk, at in events.values_list("case_pk", "at").iterator():
        if case_pk in missing:
            Case.objects.filter(pk=case_pk, recalled_at__isnull=True).update(recalled_at=at)
    for case in Case.objects.filter(recalled_at__isnull=True, status="recalled").only("pk", "status_changed_at"):
        Case.objects.filter(pk=case.pk).update(recalled_at=case.status_changed_at)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0009_case_recalled_at"),
        ("audit", "0004_access_log_list_view_kind"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
