"""Test data built through the services (so every row is valid and audited), with readable defaults."""

import itertools
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from django.core.management import call_command

from amiable.accounts.services import user_create
from amiable.audit.models import AuditEvent
from amiable.cases.models import Case
from amiable.cases.services import case_create, contact_point_add, debtor_create
from amiable.creditors.models import Agency, ContractTerms, Creditor, Structure
from amiable.creditors.reference_data import DEFAULT_TERMS
from amiable.creditors.services import creditor_save, structure_save, terms_save

PASSWORD = "Un-mot-de-passe-solide-2026"
_seq = itertools.count(1)
# The tables `seed_reference` writes to (checked when the test session seeds them).
REFERENCE_TABLES = tuple(model._meta.db_table for model in (Agency, Creditor, Structure, ContractTerms, AuditEvent))


def seed_reference() -> SimpleNamespace:
    """The reference data, but with the CPAM's encryption and signature policy (C5) off: most tests import the
    clear sample files to test something else; the tests of the policy switch it on themselves."""
    call_command("seed_reference", stdout=open("/dev/null", "w"))  # noqa: SIM115
    cpam = Creditor.objects.get(slug="cpam-paris")
    # A plain update, not terms_save: the test data keeps the audit trail of the real seeding only.
    ContractTerms.objects.filter(creditor=cpam).update(require_encryption=False, require_signature=False)
    other = creditor_save(
        slug="autre-creancier",
        actor=None,
        name="Autre créancier",
        address_line1="1, rue de l'Exemple",
        postal_code="69001",
        city="Lyon",
        siret="21690123100011",
    )
    other_structure = structure_save(
        creditor=other,
        code="AUT",
        actor=None,
        name="Centre Autre",
        address_line1="2, rue X",
        postal_code="69001",
        city="Lyon",
    )
    terms_save(creditor=other, actor=None, **DEFAULT_TERMS)
    structures = {s.code: s for s in Structure.objects.filter(creditor=cpam)}
    return SimpleNamespace(
        cpam=cpam,
        other=other,
        csr=structures["CSR"],
        cdop=structures["CDOP"],
        cesa=structures["CESA"],
        other_structure=other_structure,
    )


def reference_get() -> SimpleNamespace | None:
    """The rows `seed_reference` builds, read back (two queries) as the same namespace; None when any is missing."""
    creditors = {c.slug: c for c in Creditor.objects.filter(slug__in=("cpam-paris", "autre-creancier"))}
    if len(creditors) != 2:
        return None
    cpam, other = creditors["cpam-paris"], creditors["autre-creancier"]
    structures = {(s.creditor_id, s.code): s for s in Structure.objects.filter(creditor__in=(cpam, other))}
    wanted = [(cpam.pk, "CSR"), (cpam.pk, "CDOP"), (cpam.pk, "CESA"), (other.pk, "AUT")]
    if any(key not in structures for key in wanted):
        return None
    other_structure = structures[(other.pk, "AUT")]
    other_structure.creditor = other  # as structure_save leaves it
    return SimpleNamespace(
        cpam=cpam,
        other=other,
        csr=structures[(cpam.pk, "CSR")],
        cdop=structures[(cpam.pk, "CDOP")],
        cesa=structures[(cpam.pk, "CESA")],
        other_structure=other_structure,
    )


def make_user(role: str, *, creditor=None, structures=(), email: str | None = None, **extra):
    n = next(_seq)
    return user_create(
        email=email or f"{role}-{n}@test.example",
        password=PASSWORD,
        role=role,
        actor=None,
        first_name=f"Prénom{n}",
        last_name=f"Nom{n}",
        creditor=creditor,
        structures=structures,
        **extra,
    )


def make_case(
    *,
    structure: Structure,
    reference: str | None = None,
    principal: str = "120.50",
    last_name: str = "Dupont",
    first_name: str = "Marie",
    actor=None,
    **extra,
) -> Case:
    n = next(_seq)
    debtor = debtor_create(civility="MME", last_name=last_name, first_name=first_name, actor=actor)
    contact_point_add(
        debtor=debtor,
        kind="address",
        source="Fichier du créancier",
        actor=actor,
        line1=f"{n} rue de la Paix",
        postal_code="75002",
        city="Paris",
        quality="valid",
    )
    return case_create(
        creditor=structure.creditor,
        structure=structure,
        debtor=debtor,
        reference=reference or f"REF-{n:06d}",
        principal_amount=Decimal(principal),
        received_on=extra.pop("received_on", date(2026, 11, 2)),
        actor=actor,
        **extra,
    )


def pay_in_full(case: Case, *, actor=None) -> Case:
    """Record a transfer of the whole balance: the case becomes « Soldé » by itself, as in real life."""
    from django.utils import timezone

    from amiable.payments.services import payment_record

    payment_record(
        case=case,
        amount=case.balance,
        collected_on=timezone.localdate(),
        method="transfer",
        source="bank" if actor is None else "agent",
        actor=actor,
    )
    case.refresh_from_db()
    return case
