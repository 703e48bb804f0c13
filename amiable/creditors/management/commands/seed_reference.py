"""`manage.py seed_reference`: the agency identity, the CPAM de Paris, its three structures and default terms."""

from django.core.management.base import BaseCommand
from django.db import transaction

from amiable.creditors import reference_data
from amiable.creditors.models import Agency, ContractTerms, Creditor, Structure
from amiable.creditors.services import agency_save, creditor_save, structure_save, terms_save


class Command(BaseCommand):
    help = "Crée ou met à jour les données de référence (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        # Creates what is missing and never overwrites: an admin's later edits survive every re-run.
        if not Agency.objects.exists():
            agency_save(actor=None, **reference_data.AGENCY)
        cpam = Creditor.objects.filter(slug=reference_data.CPAM["slug"]).first()
        if cpam is None:
            values = {k: v for k, v in reference_data.CPAM.items() if k != "slug"}
            cpam = creditor_save(slug=reference_data.CPAM["slug"], actor=None, **values)
        for structure in reference_data.CPAM_STRUCTURES:
            if not Structure.objects.filter(creditor=cpam, code=structure["code"]).exists():
                fields = {k: v for k, v in structure.items() if k != "code"}
                structure_save(creditor=cpam, code=structure["code"], actor=None, **fields)
        if not ContractTerms.objects.filter(creditor=cpam).exists():
            terms_save(creditor=cpam, actor=None, **reference_data.CPAM_TERMS)
        self.stdout.write(
            f"Données de référence à jour : {Creditor.objects.count()} créancier(s), "
            f"{cpam.structures.count()} structures pour {cpam.name}."
        )
