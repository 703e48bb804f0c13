"""The system checks of the reference data: every active creditor has contract terms (an error), the
agency's identity exists (a warning); both only when a database is asked for, and silent before the
tables exist."""

import io
from unittest import mock

import pytest
from django.core.checks import Error, Warning, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import OperationalError

from amiable.creditors.checks import AGENCY_MISSING, TERMS_MISSING
from amiable.creditors.models import Agency, ContractTerms, Creditor
from amiable.creditors.services import creditor_save


def _issues(**kwargs) -> list:
    return [issue for issue in run_checks(**kwargs) if issue.id in {TERMS_MISSING, AGENCY_MISSING}]


def _creditor(slug: str, name: str, **extra) -> Creditor:
    return creditor_save(
        slug=slug, actor=None, name=name, address_line1="1, rue X", postal_code="75001", city="Paris", **extra
    )


def test_reference_data_passes_the_checks(reference):
    assert _issues(databases=["default"]) == []


def test_an_active_creditor_without_terms_is_an_error_naming_it(reference):
    bare = _creditor("sans-conditions", "Centre sans conditions")
    _creditor("ancien", "Ancien client", is_active=False)  # inactive: its terms are not needed

    [issue] = _issues(databases=["default"])

    assert isinstance(issue, Error)
    assert issue.id == "amiable.E001"
    assert issue.msg == (
        f"Le créancier actif « Centre sans conditions » (n° {bare.pk}) n'a pas de conditions contractuelles."
    )
    assert "administration" in issue.hint


def test_check_database_fails_on_missing_terms(reference):
    """Registered by the app: `check --database default` stops with the error."""
    ContractTerms.objects.filter(creditor=reference.other).delete()

    with pytest.raises(SystemCheckError, match="Autre créancier"):
        call_command("check", "--database", "default", stdout=io.StringIO(), stderr=io.StringIO())


def test_a_missing_agency_is_only_a_warning(db):
    assert not Agency.objects.exists()

    [issue] = _issues(databases=["default"])

    assert isinstance(issue, Warning)
    assert issue.id == "amiable.W001"
    assert issue.msg == "L'identité de l'agence n'est pas renseignée : aucun document ne peut être émis."
    # A warning does not stop a command.
    call_command("check", "--database", "default", stdout=io.StringIO(), stderr=io.StringIO())


def test_the_checks_do_not_run_without_a_database(reference):
    """`runserver` and a plain `check` ask for no database: these checks stay out of their way."""
    _creditor("sans-conditions", "Centre sans conditions")

    assert _issues() == []
    call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


def test_the_checks_are_silent_before_the_tables_exist(db):
    """The first `migrate` of a fresh install checks a database without tables."""
    no_table = OperationalError("no such table: creditors_creditor")
    with (
        mock.patch.object(Creditor.objects, "using", side_effect=no_table),
        mock.patch.object(Agency.objects, "using", side_effect=no_table),
    ):
        assert _issues(databases=["default"]) == []
