"""`manage.py import_bank_statement PATH [--json]`: its JSON contract for each status, its exit codes (0
imported, 2 refused, 3 duplicate) and its French report."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from amiable.banking.models import BankEntry, BankStatement
from tests.banking.records import AGENCY_IBAN, DATA

pytestmark = pytest.mark.django_db
JSON_KEYS = {
    "status",
    "format",
    "account",
    "entries",
    "credits",
    "debits",
    "matched",
    "to_review",
    "matched_total",
    "error",
}


def run(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); no SystemExit means 0."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_bank_statement", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return exit_.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def run_json(name: str) -> tuple[int, dict]:
    code, out, _err = run(str(DATA / name), "--json")
    return code, json.loads(out)  # exactly one JSON document on stdout


def test_imported_exits_0(cases):
    code, result = run_json("camt053-001.02-agence.xml")
    assert code == 0 and set(result) == JSON_KEYS
    assert result == {
        "status": "imported",
        "format": "camt.053",
        "account": AGENCY_IBAN,
        "entries": 5,
        "credits": 4,
        "debits": 1,
        "matched": 2,
        "to_review": 2,
        "matched_total": "165.50",
        "error": None,
    }


def test_duplicate_exits_3(cases):
    run_json("cfonb120-banque-a.txt")
    code, result = run_json("cfonb120-banque-a.txt")
    assert code == 3
    assert result["status"] == "duplicate" and result["format"] == "cfonb120"
    assert (result["entries"], result["credits"], result["debits"]) == (6, 3, 3)
    assert (result["matched"], result["to_review"], result["matched_total"]) == (0, 0, "0.00")
    assert result["error"].startswith("Ce fichier a déjà été importé le ")


def test_overlap_imports_only_what_is_new(cases):
    run_json("cfonb120-banque-a.txt")
    code, result = run_json("cfonb120-banque-a-chevauchement.txt")
    assert code == 0 and (result["entries"], result["to_review"], result["matched"]) == (8, 1, 0)


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("camt053-001.08-autre-compte.xml", "Relevé d'un autre compte (FR76 3000 4008 2000 0987 6543 274)"),
        ("cfonb120-autre-compte.txt", "Relevé d'un autre compte (banque 30004, guichet 00820, compte 00098765432)"),
        ("camt053-001.02-usd.xml", "Relevé en USD : le compte des fonds de tiers est tenu en euros"),
    ],
)
def test_refused_exits_2_with_a_french_error(cases, name, start):
    code, result = run_json(name)
    assert code == 2 and set(result) == JSON_KEYS
    assert result["status"] == "refused" and result["error"].startswith(start)
    assert (result["matched"], result["to_review"], result["matched_total"]) == (0, 0, "0.00")
    assert BankStatement.objects.count() == 0 and BankEntry.objects.count() == 0


def test_human_report(cases):
    code, out, err = run(str(DATA / "camt053-001.02-agence.xml"))
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "Relevé camt.053 (ISO 20022) importé : 5 mouvement(s) dont 4 crédit(s) et 1 débit(s), 5 nouveau(x).",
        "2 crédit(s) rapproché(s) d'un dossier pour 165,50\u00a0€, 2 à examiner.",
        "Nouveau solde au 23/11/2026 : 1\u202f396,50\u00a0€.",
    ]
    code, out, err = run(str(DATA / "camt053-001.02-agence.xml"))
    assert code == 3 and out == "" and err.startswith("Ce fichier a déjà été importé le ")
    code, out, err = run(str(DATA / "camt053-001.02-usd.xml"))
    assert code == 2 and err.startswith("Relevé refusé : Relevé en USD")


def test_missing_file_is_a_command_error(reference, tmp_path):
    with pytest.raises(CommandError, match="Fichier illisible"):
        call_command("import_bank_statement", str(tmp_path / "absent.xml"))
