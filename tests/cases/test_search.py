"""The case search that forgives: accents, case, any part of a reference, phones in any writing, e-mails and
names in either order, the same on SQLite and PostgreSQL; refused queries; the search columns kept up to
date by every writer (services, an import of a batch, the anonymisation of a contract's end)."""

from importlib import import_module

import pytest
from django.apps import apps

from amiable.cases.models import ContactPoint, Debtor
from amiable.cases.search import (
    contact_search_value,
    debtor_search_name,
    fold,
    phone_digits,
    search_problem,
    search_terms,
)
from amiable.cases.selectors import case_list
from amiable.cases.services import contact_point_add
from amiable.intake.models import BatchSource
from amiable.intake.services import batch_import
from amiable.web.forms import CaseFilterForm
from tests.factories import make_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def found(users, reference):
    """Debtors with accents, a phone and an e-mail, and a look-alike of another creditor."""
    francois = make_case(
        structure=reference.csr, reference="CPAM-2026-000412", last_name="Dupont", first_name="François"
    )
    contact_point_add(debtor=francois.debtor, kind="phone", value="+33612345678", source="Fichier", actor=None)
    contact_point_add(
        debtor=francois.debtor, kind="email", value="Francois.Dupont@Exemple.FR", source="Fichier", actor=None
    )
    eric = make_case(structure=reference.cdop, reference="CPAM-2026-000977", last_name="Lefèvre", first_name="Éric")
    # A number written the French way by whoever typed it: the search still finds it in any writing.
    contact_point_add(debtor=eric.debtor, kind="phone", value="07 98 76 54 32", source="Appel", actor=None)
    other = make_case(
        structure=reference.other_structure, reference="AUT-2026-000413", last_name="Dupont", first_name="François"
    )
    contact_point_add(debtor=other.debtor, kind="phone", value="+33612345679", source="Fichier", actor=None)
    contact_point_add(debtor=other.debtor, kind="email", value="fdupont@autre.example", source="Fichier", actor=None)
    return type("Found", (), {"francois": francois, "eric": eric, "other": other})


def _refs(qs) -> set[str]:
    return {case.reference for case in qs}


FRANCOIS, ERIC, OTHER = "CPAM-2026-000412", "CPAM-2026-000977", "AUT-2026-000413"


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        # Accents and case.
        ("eric", {ERIC}),
        ("ERIC", {ERIC}),
        ("éric", {ERIC}),
        ("Éric", {ERIC}),
        ("lefevre", {ERIC}),
        ("LEFÈVRE", {ERIC}),
        ("FRANÇOIS", {FRANCOIS, OTHER}),
        ("francois", {FRANCOIS, OTHER}),
        ("françois", {FRANCOIS, OTHER}),
        ("franc", {FRANCOIS, OTHER}),
        # First and last name in either order, any spacing.
        ("François Dupont", {FRANCOIS, OTHER}),
        ("Dupont François", {FRANCOIS, OTHER}),
        ("  dupont    francois ", {FRANCOIS, OTHER}),
        ("Dupont Éric", set()),
        # Any part of a reference, any case.
        ("00041", {FRANCOIS, OTHER}),
        ("000412", {FRANCOIS}),
        ("cpam-2026-000412", {FRANCOIS}),
        ("2026-0009", {ERIC}),
        ("aut-", {OTHER}),
        # A phone in any common writing, stored as E.164 or as typed.
        ("06 12 34 56 78", {FRANCOIS}),
        ("0612345678", {FRANCOIS}),
        ("+33612345678", {FRANCOIS}),
        ("+33 6 12 34 56 78", {FRANCOIS}),
        ("06.12.34.56.78", {FRANCOIS}),
        ("06-12-34-56-78", {FRANCOIS}),
        ("0033 6 12 34 56 78", {FRANCOIS}),
        ("+33 (0)6 12 34 56 78", {FRANCOIS}),
        ("12 34 56 78", {FRANCOIS}),
        ("06 12 34 56", {FRANCOIS, OTHER}),
        ("07 98 76 54 32", {ERIC}),
        ("+33798765432", {ERIC}),
        ("0798765432", {ERIC}),
        # An e-mail, exact or a part, any case.
        ("francois.dupont@exemple.fr", {FRANCOIS}),
        ("FRANCOIS.DUPONT@EXEMPLE.FR", {FRANCOIS}),
        ("dupont@exemple", {FRANCOIS}),
        ("@autre.example", {OTHER}),
        # A word with a digit is no name: only references, phones and e-mails hold digits.
        ("Dupont 2026", set()),
        ("cpam 2026 000977", set()),
        ("2026 000977", set()),
        # Nothing found.
        ("zzz", set()),
        ("06 00 00 00 00", set()),
        ("", {FRANCOIS, ERIC, OTHER}),
    ],
)
def test_search_forgives(found, users, search, expected):
    assert _refs(case_list(user=users.agent, search=search)) == expected


@pytest.mark.parametrize("role", ["collaborator", "creditor_admin", "csr_only"])
@pytest.mark.parametrize(
    "search", ["francois", "Dupont François", "AUT-2026", "00041", "06 12 34 56 79", "+33612345679", "fdupont@autre"]
)
def test_a_creditor_user_never_finds_another_creditors_debtor(found, users, role, search):
    assert OTHER not in _refs(case_list(user=getattr(users, role), search=search))


def test_the_other_creditor_finds_only_its_own(found, users):
    assert _refs(case_list(user=users.other_admin, search="francois dupont")) == {OTHER}
    assert _refs(case_list(user=users.other_admin, search="0612345678")) == set()
    assert _refs(case_list(user=users.other_admin, search="francois.dupont@exemple.fr")) == set()
    assert _refs(case_list(user=users.csr_only, search="eric")) == set()  # CDOP: not in the user's structures


def test_a_debtor_with_several_matching_points_is_listed_once(found, users):
    contact_point_add(debtor=found.francois.debtor, kind="phone", value="06 12 34 56 78", source="Appel", actor=None)
    cases = list(case_list(user=users.agent, search="0612345678"))
    assert [case.reference for case in cases] == [FRANCOIS]


def test_search_query_count_does_not_grow_with_matches(found, users, reference, django_assert_num_queries):
    with django_assert_num_queries(1):
        list(case_list(user=users.agent, search="dupont"))
    for n in range(5):
        case = make_case(structure=reference.csr, last_name="Dupont", first_name=f"Jean{n}")
        contact_point_add(debtor=case.debtor, kind="phone", value=f"+3361234{n:04d}", source="Fichier", actor=None)
    with django_assert_num_queries(1):
        assert len(list(case_list(user=users.agent, search="dupont"))) == 7
    with django_assert_num_queries(1):
        assert len(list(case_list(user=users.agent, search="06 12 34 00"))) == 5


# --- folding -------------------------------------------------------------------------------------------


def test_folding_functions():
    assert fold("  Jean-François  L'Hôte ") == "jean francois l hote"
    assert fold("ŒUVRE Æsir STRAßE") == "oeuvre aesir strasse"
    assert debtor_search_name(first_name="Éric", last_name="LEFÈVRE") == "eric lefevre"
    for writing in ("06 12 34 56 78", "0612345678", "+33612345678", "+33 6 12 34 56 78", "06.12.34.56.78"):
        assert phone_digits(writing) == "33612345678", writing
    assert contact_search_value(kind="phone", value="", raw_value="06 12 34 56 78") == "33612345678"
    assert contact_search_value(kind="email", value=" Jean@Exemple.FR ") == "jean@exemple.fr"
    assert contact_search_value(kind="address", value="", raw_value="1 rue X") == ""


def test_short_queries_are_not_phones():
    """A run of digits shorter than a phone's part is a reference's part: « 00041 » must not match every phone
    holding « 041 »."""
    assert search_terms("00041").phone is None
    assert search_terms("06 12 34").phone is None
    assert search_terms("06 12 34 5").phone == "612345"
    assert search_terms("00 33 6 12 34 56 78").phone == "33612345678"


# --- refused queries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ("x" * 101, "La recherche est limitée à 100 caractères (vous en avez saisi 101)"),
        ("-- !", "Saisissez au moins 2 lettres ou chiffres"),
        ("é", "Saisissez au moins 2 lettres ou chiffres"),
    ],
)
def test_refused_queries_say_why(users, search, message):
    assert message in search_problem(search)
    form = CaseFilterForm({"q": search}, user=users.agent)
    assert not form.is_valid()
    assert message in form.errors["q"][0]


@pytest.mark.parametrize("search", ["x" * 100, "ab", "06", "  Dupont  ", ""])
def test_accepted_queries(users, search):
    assert search_problem(search) is None
    assert CaseFilterForm({"q": search}, user=users.agent).is_valid()


# --- the search columns are kept by every writer ---------------------------------------------------------


def test_search_columns_follow_a_change_of_name_or_contact_point(found, users):
    debtor = found.eric.debtor
    debtor.first_name, debtor.last_name = "Hélène", "Bérard"
    debtor.save(update_fields=["first_name", "last_name"])
    assert Debtor.objects.get(pk=debtor.pk).search_name == "helene berard"
    assert _refs(case_list(user=users.agent, search="helene berard")) == {ERIC}
    assert _refs(case_list(user=users.agent, search="lefevre")) == set()

    point = ContactPoint.objects.get(debtor=debtor, kind="phone")
    point.value = "+33 1 44 55 66 77"
    point.save(update_fields=["value"])
    assert ContactPoint.objects.get(pk=point.pk).search_value == "33144556677"
    assert _refs(case_list(user=users.agent, search="01 44 55 66 77")) == {ERIC}
    assert _refs(case_list(user=users.agent, search="07 98 76 54 32")) == set()


def test_search_columns_of_an_imported_batch(reference, users, gnupg_home, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    content = (
        "reference_dossier;structure;nom;prenom;telephone;email;solde\n"
        "LOT-0001;CSR;Bérénice;Zoé;06 11 22 33 44;Zoe.Berenice@Exemple.fr;10,00\n"
        "LOT-0002;CDOP;N'Guessan;Jean-Éric;+33 7 55 66 77 88;;20,00\n"
    ).encode()

    outcome = batch_import(
        creditor=reference.cpam, content=content, filename="lot.csv", source=BatchSource.COMMAND, actor=None
    )

    assert outcome.status == "accepted", outcome.error
    assert set(Debtor.objects.filter(cases__reference__startswith="LOT-").values_list("search_name", flat=True)) == {
        "zoe berenice",
        "jean eric n guessan",
    }
    values = ContactPoint.objects.filter(debtor__cases__reference="LOT-0001").values_list("kind", "search_value")
    assert ("phone", "33611223344") in values
    assert ("email", "zoe.berenice@exemple.fr") in values
    assert _refs(case_list(user=users.agent, search="zoe berenice")) == {"LOT-0001"}
    assert _refs(case_list(user=users.agent, search="eric n'guessan")) == {"LOT-0002"}
    assert _refs(case_list(user=users.agent, search="07.55.66.77.88")) == {"LOT-0002"}
    assert _refs(case_list(user=users.agent, search="zoe.berenice@")) == {"LOT-0001"}


def test_backfill_migration_fills_the_columns_of_existing_rows(found, users):
    Debtor.objects.update(search_name="")
    ContactPoint.objects.update(search_value="")
    assert _refs(case_list(user=users.agent, search="eric")) == set()

    import_module("amiable.cases.migrations.0013_backfill_search_columns").backfill(apps, None)

    assert Debtor.objects.get(pk=found.eric.debtor_id).search_name == "eric lefevre"
    assert _refs(case_list(user=users.agent, search="eric")) == {ERIC}
    assert _refs(case_list(user=users.agent, search="+33612345678")) == {FRANCOIS}
