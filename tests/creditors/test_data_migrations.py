"""The data migration that gives an existing CPAM de Paris the mandate reference its acknowledgements
used to find by slug."""

import importlib

from django.apps import apps

from amiable.audit.models import AuditEvent
from amiable.creditors import reference_data
from amiable.creditors.models import ContractTerms


def test_data_migration_gives_an_existing_cpam_its_mandate_reference(reference):
    migration = importlib.import_module("amiable.creditors.migrations.0005_cpam_mandate_reference")
    terms = ContractTerms.objects.get(creditor=reference.cpam)
    ContractTerms.objects.filter(pk=terms.pk).update(mandate_reference="")

    migration.forwards(apps, None)
    migration.forwards(apps, None)  # a value already set is left alone

    terms.refresh_from_db()
    assert terms.mandate_reference == reference_data.CPAM_TERMS["mandate_reference"]
    assert ContractTerms.objects.get(creditor=reference.other).mandate_reference == ""
    event = AuditEvent.objects.filter(verb="terms.updated").get()
    assert (event.target_id, event.creditor_pk) == (str(terms.pk), reference.cpam.pk)
    assert event.after == {"mandate_reference": reference_data.CPAM_TERMS["mandate_reference"]}
