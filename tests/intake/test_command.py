"""`manage.py import_claims PATH --creditor SLUG [--structure CODE] [--json]`: its JSON contract, its exit
codes (0 accepted, 2 refused, 3 duplicate), its French errors and its human report."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from amiable.audit.models import AuditEvent
from amiable.cases.models import Case
from amiable.intake.models import Batch
from tests.intake.conftest import DATA

ANOMALIES = DATA / "cpam-lot-anomalies.csv"
EXEMPLE = DATA / "cpam-lot-exemple.csv"
JSON_KEYS = {
    "status",
    "batch",
    "rows",
    "accepted",
    "rejected",
    "accepted_balance_total",
    "rejected_rows",
    "flags",
    "acknowledgement",
    "error",
}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    """Run the command; (exit code, stdout, stderr). No SystemExit means exit code 0."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_claims", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return exit_.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def run_json(*args: str) -> tuple[int, dict]:
    code, out, _err = run(*args, "--json")
    return code, json.loads(out)  # exactly one JSON document, nothing else on stdout


def test_accepted_batch_with_rejected_rows_exits_0_with_the_json_contract(reference, gnupg_home, media):
    code, result = run_json(str(ANOMALIES), "--creditor", "cpam-paris")

    assert code == 0
    assert set(result) == JSON_KEYS
    batch = Batch.objects.get()
    assert result["status"] == "accepted"
    assert result["batch"] == batch.number
    assert (result["rows"], result["accepted"], result["rejected"]) == (40, 22, 18)
    assert result["accepted_balance_total"] == "1967.24"
    assert result["flags"] == {"formula_injection": 2, "invalid_email": 1}
    assert result["error"] is None

    assert len(result["rejected_rows"]) == 18
    for row in result["rejected_rows"]:
        assert {"line", "reference", "errors"} <= set(row)
        assert row["errors"]
        for error in row["errors"]:
            assert {"column", "message"} <= set(error)
            assert error["column"] and error["message"]
    by_line = {row["line"]: row for row in result["rejected_rows"]}
    assert by_line[9]["reference"] == "CPAM75-0000009"
    assert by_line[9]["errors"][0]["column"] == "solde"
    assert by_line[9]["errors"][0]["message"] == "solde absent"
    assert by_line[5]["reference"] == ""
    assert by_line[5]["errors"][0]["message"] == "référence absente"

    acknowledgement = result["acknowledgement"]
    assert set(acknowledgement) >= {"number", "pdf", "csv", "xlsx"}
    assert acknowledgement["number"] == batch.acknowledgement_number
    for kind in ("pdf", "csv", "xlsx"):
        path = Path(acknowledgement[kind])
        assert path.is_file()
        assert path.suffix == f".{kind}"
        assert path.is_relative_to(media)
    assert Path(acknowledgement["pdf"]).read_bytes().startswith(b"%PDF")
    assert Case.objects.count() == 22


def test_json_is_utf8_text_not_escaped(reference, gnupg_home, media):
    _code, out, _err = run(str(ANOMALIES), "--creditor", "cpam-paris", "--json")

    assert "référence absente" in out
    assert "\\u00e9" not in out


def test_refused_file_exits_2(reference, gnupg_home, media, tmp_path):
    path = tmp_path / "lot.pdf"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    code, result = run_json(str(path), "--creditor", "cpam-paris")

    assert code == 2
    assert set(result) == JSON_KEYS
    assert result["status"] == "refused"
    assert result["batch"] is None
    assert result["acknowledgement"] is None
    assert result["error"].startswith("Format non reconnu : le fichier n'est ni un CSV")
    assert (result["rows"], result["accepted"], result["rejected"], result["rejected_rows"]) == (0, 0, 0, [])
    assert Batch.objects.count() == 0
    assert AuditEvent.objects.filter(verb="batch.refused").count() == 1


def test_refused_file_human_report_goes_to_stderr(reference, gnupg_home, media, tmp_path):
    path = tmp_path / "vide.csv"
    path.write_bytes(b"")

    code, out, err = run(str(path), "--creditor", "cpam-paris")

    assert code == 2
    assert out == ""
    assert err.startswith("Fichier refusé : Le fichier est vide")


def test_second_import_of_the_same_file_exits_3(reference, gnupg_home, media):
    first_code, first = run_json(str(EXEMPLE), "--creditor", "cpam-paris")
    cases = Case.objects.count()

    code, result = run_json(str(EXEMPLE), "--creditor", "cpam-paris")

    assert first_code == 0
    assert code == 3
    assert set(result) == JSON_KEYS
    assert result["status"] == "duplicate"
    assert result["batch"] == first["batch"]
    assert result["acknowledgement"] is None
    assert result["error"].startswith("Fichier déjà reçu")
    assert Batch.objects.count() == 1
    assert Case.objects.count() == cases == 60


def test_duplicate_human_report(reference, gnupg_home, media):
    run(str(EXEMPLE), "--creditor", "cpam-paris")

    code, out, err = run(str(EXEMPLE), "--creditor", "cpam-paris")

    assert code == 3
    assert out == ""
    assert "Fichier déjà reçu" in err
    assert "Rien n'a été enregistré." in err


def test_structure_option_for_a_file_without_structure_column(reference, gnupg_home, media, tmp_path):
    path = tmp_path / "sans-structure.csv"
    path.write_text("reference;nom;solde\nREF-1;Dupont;10,00\nREF-2;Martin;12,50\n", encoding="utf-8")

    refused_code, refused = run_json(str(path), "--creditor", "cpam-paris")
    code, result = run_json(str(path), "--creditor", "cpam-paris", "--structure", "CSR")

    assert refused_code == 2
    assert "« structure »" in refused["error"]
    assert code == 0
    assert result["accepted"] == 2
    assert set(Case.objects.values_list("structure__code", flat=True)) == {"CSR"}
    assert Batch.objects.get().default_structure == reference.csr


def test_structure_option_is_case_insensitive(reference, gnupg_home, media, tmp_path):
    path = tmp_path / "sans-structure.csv"
    path.write_text("reference;nom;solde\nREF-1;Dupont;10,00\n", encoding="utf-8")

    code, _result = run_json(str(path), "--creditor", "cpam-paris", "--structure", "cdop")

    assert code == 0
    assert Case.objects.get().structure == reference.cdop


def test_unknown_structure_is_a_french_command_error(reference, gnupg_home, media):
    with pytest.raises(CommandError, match="Structure inconnue pour .* : « AUT »"):
        run(str(EXEMPLE), "--creditor", "cpam-paris", "--structure", "AUT")

    assert Batch.objects.count() == 0


def test_unknown_creditor_is_a_french_command_error(reference, gnupg_home, media):
    with pytest.raises(CommandError) as error:
        run(str(EXEMPLE), "--creditor", "cpam-lyon")

    assert str(error.value) == "Créancier inconnu : « cpam-lyon »."
    assert Batch.objects.count() == 0


def test_missing_file_is_a_french_command_error(reference, gnupg_home, media, tmp_path):
    with pytest.raises(CommandError, match="Fichier illisible : "):
        run(str(tmp_path / "absent.csv"), "--creditor", "cpam-paris")


def test_human_report_lists_rejected_rows_with_their_file_line(reference, gnupg_home, media):
    code, out, err = run(str(ANOMALIES), "--creditor", "cpam-paris")

    assert code == 0
    assert err == ""
    batch = Batch.objects.get()
    lines = out.splitlines()
    assert lines[0].startswith(f"Lot {batch.number} accepté : 40 ligne(s), 22 créance(s) prise(s) en charge")
    assert "18 ligne(s) rejetée(s)." in lines[0]
    assert f"Accusé de réception {batch.acknowledgement_number}" in out
    assert f"Accusé de réception {batch.acknowledgement_number} : {media / batch.acknowledgement_pdf.name}" in out
    # Data line 9 is line 10 of the file (after the header).
    assert "  ligne 10 du fichier (CPAM75-0000009) — solde «  » : solde absent" in lines
    assert "  ligne 6 du fichier (sans référence) — référence «  » : référence absente" in lines
    assert any(
        line.startswith("  ligne 35 du fichier (CPAM75-0000034) — date de la créance « 31/02/2025 »") for line in lines
    )
    assert sum(1 for line in lines if line.startswith("  ligne ")) == 18


def test_encrypted_file_by_command(reference, gnupg_home, media):
    code, result = run_json(str(DATA / "cpam-lot-anomalies.csv.asc"), "--creditor", "cpam-paris")

    assert code == 0
    assert result["accepted"] == 22
    batch = Batch.objects.get()
    assert batch.was_encrypted is True
    assert batch.filename == "cpam-lot-anomalies.csv.asc"
    assert batch.source == "command"
    assert batch.received_by is None
