"""A person limited to some structures never sees more than them (S2), even when those structures go away:
« all structures » is said explicitly on the account, an empty limit means none. A structure that has cases or
people limited to it cannot be deleted (it is deactivated instead)."""

import importlib

import pytest
from django.apps import apps
from django.db.models import ProtectedError

from amiable.cases.models import Case
from amiable.creditors.models import Structure
from amiable.reporting.clocks import Scope
from tests.factories import make_case, make_user


def _fresh(user):
    return type(user).objects.select_related("creditor").get(pk=user.pk)


def test_an_empty_selection_gives_every_structure_explicitly(reference, users):
    assert users.collaborator.all_structures is True
    assert users.collaborator.allowed_structure_ids is None
    assert users.csr_only.all_structures is False
    assert users.csr_only.allowed_structure_ids == [reference.csr.pk]


def test_a_person_whose_structures_are_gone_sees_nothing(reference, users):
    """Before, an empty list read as « all »: removing the only structure widened the access to every one."""
    make_case(structure=reference.cdop, reference="LIM-1")
    make_case(structure=reference.csr, reference="LIM-2")
    limited = make_user("creditor_collaborator", creditor=reference.cpam, structures=[reference.csr])
    assert list(Case.objects.visible_to(_fresh(limited)).values_list("reference", flat=True)) == ["LIM-2"]

    # The link goes away as it would with a structure deleted in bulk (QuerySet.delete cascades to the link).
    limited.structures.clear()
    limited = _fresh(limited)

    assert limited.allowed_structure_ids == []
    assert not Case.objects.visible_to(limited).exists()
    assert not Structure.objects.visible_to(limited).exists()
    assert Scope.of(limited).structure_ids == frozenset()


def test_a_structure_with_people_limited_to_it_cannot_be_deleted(reference, users):
    with pytest.raises(ProtectedError) as exc:
        reference.csr.delete()
    assert "Des comptes sont limités à la structure" in exc.value.args[0]
    assert Structure.objects.filter(pk=reference.csr.pk).exists()
    assert _fresh(users.csr_only).allowed_structure_ids == [reference.csr.pk]


def test_a_structure_with_cases_cannot_be_deleted(reference):
    make_case(structure=reference.cdop, reference="LIM-3")
    with pytest.raises(ProtectedError):
        reference.cdop.delete()
    assert Structure.objects.filter(pk=reference.cdop.pk).exists()


def test_the_administration_refuses_the_deletion_in_french(client, reference, users):
    client.force_login(users.agency_admin)
    response = client.post(f"/admin/creditors/structure/{reference.csr.pk}/delete/", {"post": "yes"}, follow=True)
    assert "désactivez-la au lieu de la supprimer" in response.content.decode()
    assert Structure.objects.filter(pk=reference.csr.pk).exists()


def test_a_structure_nobody_uses_can_still_be_deleted(reference):
    spare = Structure.objects.create(
        creditor=reference.cpam, code="VIDE", name="Vide", address_line1="1 rue", postal_code="75001", city="Paris"
    )
    spare.delete()
    assert not Structure.objects.filter(code="VIDE").exists()


def test_the_data_migration_keeps_todays_meaning(reference, users):
    """Accounts with structures become limited to them; accounts without keep « all »."""
    type(users.csr_only).objects.update(all_structures=True)  # as every account was before the migration
    migration = importlib.import_module("amiable.accounts.migrations.0004_user_all_structures")
    migration.keep_todays_limits(apps, None)
    assert _fresh(users.csr_only).all_structures is False
    assert _fresh(users.collaborator).all_structures is True
    assert _fresh(users.agent).all_structures is True
