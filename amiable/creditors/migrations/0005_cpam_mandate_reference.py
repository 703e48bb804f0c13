"""Give an existing CPAM de Paris its mandate reference, which the acknowledgement of receipt used to
find keyed by the creditor's slug; audited like a change made in the administration."""

from django.db import migrations
from django.utils import timezone

CPAM_SLUG = "cpam-paris"
CPAM_MANDATE_REFERENCE = "l'article 1.2 du cahier des clauses techniques particulières (CCTP) du marché"


def forwards(apps, schema_editor):
    ContractTerms = apps.get_model("creditors", "ContractTerms")
    AuditEvent = apps.get_model("audit", "AuditEvent")
    terms = ContractTerms.objects.filter(creditor__slug=CPAM_SLUG, mandate_reference="").first()
    if terms is None:
        return
    terms.mandate_reference = CPAM_MANDATE_REFERENCE
    terms.save(update_fields=["mandate_reference"])
    creditor_name = terms.creditor.name
    AuditEvent.objects.create(
        at=timezone.now(),
        actor=None,
        actor_label="Système",
        verb="terms.updated",
        target_type="creditors.contractterms",
        target_id=str(terms.pk),
        target_label=f"Conditions — {creditor_name}"[:255],
        creditor_pk=terms.creditor_id,
        before={"mandate_reference": ""},
        after={"mandate_reference": CPAM_MANDATE_REFERENCE},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_access_log"),
        ("creditors", "0004_contractterms_mandate_reference"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
