"""Every sample batch of tests/data imported end to end, checked line by line against its `.expected.json`:
counts, totals, rejected lines and their reasons, the flags of accepted lines, what is stored (cases,
contact points, tasks), and the signature of the OpenPGP samples."""

import csv
import json
import re
from collections import Counter
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from amiable.cases.models import Case, ContactPoint, Task
from amiable.intake import crypto
from amiable.intake.models import Batch, BatchCase, BatchSource
from amiable.intake.services import batch_import
from tests.intake.conftest import DATA, KEYS

SAMPLES = [
    ("cpam-lot-exemple.csv", "cpam-lot-exemple.expected.json"),
    ("cpam-lot-exemple.csv.gpg", "cpam-lot-exemple.csv.gpg.expected.json"),
    ("cpam-lot-anomalies.csv", "cpam-lot-anomalies.expected.json"),
    ("cpam-lot-anomalies.csv.asc", "cpam-lot-anomalies.csv.asc.expected.json"),
    ("cpam-lot-excel.xlsx", "cpam-lot-excel.expected.json"),
    ("cpam-lot-virgule.csv", "cpam-lot-virgule.expected.json"),
]
# The French message the application gives for each reason label of the expected files.
FRENCH_REASONS = {
    "missing_reference": "référence absente",
    "duplicate_in_file": "référence présente plusieurs fois dans le fichier (lignes ",
    "missing_balance": "solde absent",
    "zero_balance": "solde nul",
    "negative_balance": "solde négatif",
    "non_numeric_balance": "solde illisible : ce n'est pas un montant",
    "three_decimals": "plus de 2 décimales",
    "missing_name": "nom absent",
    "unknown_structure": "structure inconnue pour ce créancier",
    "balance_above_initial": "le solde dépasse le montant initial",
    "invalid_date": "date invalide (attendu jj/mm/aaaa ou aaaa-mm-jj)",
}
CREDITOR_SIGNER = "CPAM de Paris TEST"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def register_creditor_key(creditor):
    return crypto.register_creditor_key(
        creditor=creditor, armored=(KEYS / "creditor-test-public.asc").read_text(), actor=None
    )


def import_sample(creditor, name: str):
    return batch_import(
        creditor=creditor,
        content=(DATA / name).read_bytes(),
        filename=name,
        source=BatchSource.COMMAND,
        actor=None,
    )


def test_every_sample_file_is_covered():
    samples = {p.name for p in DATA.iterdir() if p.is_file() and not p.name.endswith(".json") and p.name != "README.md"}
    assert samples == {name for name, _ in SAMPLES}
    for _name, expected in SAMPLES:
        assert (DATA / expected).is_file()


@pytest.mark.parametrize(("name", "expected_name"), SAMPLES, ids=[name for name, _ in SAMPLES])
def test_sample_imports_exactly_as_expected(name, expected_name, reference, gnupg_home, media):
    expected = json.loads((DATA / expected_name).read_text())
    register_creditor_key(reference.cpam)

    outcome = import_sample(reference.cpam, name)

    result = outcome.as_json()
    assert result["status"] == "accepted", result["error"]
    assert result["error"] is None
    assert result["rows"] == expected["rows"] == len(expected["lines"])
    assert result["accepted"] == expected["accepted"]
    assert result["rejected"] == expected["rejected"]
    assert result["accepted_balance_total"] == expected["accepted_balance_total"]

    expected_rejected = {line["line"]: line for line in expected["lines"] if line["status"] == "rejected"}
    expected_accepted = {line["line"]: line for line in expected["lines"] if line["status"] == "accepted"}
    assert {row["line"]: row["reference"] for row in result["rejected_rows"]} == {
        line: item["reference"] for line, item in expected_rejected.items()
    }
    assert len(result["rejected_rows"]) == len(expected_rejected)  # each rejected line listed once

    # Every rejected row says why, in French, naming the column; the reasons are those expected.
    batch = outcome.batch
    stored_rejected = {row["line"]: row for row in batch.rejected_rows}
    for line, item in expected_rejected.items():
        errors = stored_rejected[line]["errors"]
        assert {error["reason"] for error in errors} == set(item["reasons"]), f"line {line}"
        for error in errors:
            assert error["column"]
            assert error["message"].startswith(FRENCH_REASONS[error["reason"]]), error
    for row in result["rejected_rows"]:
        assert row["errors"]
        assert set(row["errors"][0]) == {"column", "value", "message"}

    # Accepted lines: one case each, with the expected reference and flags.
    lines = {bc.line: bc for bc in BatchCase.objects.filter(batch=batch).select_related("case")}
    assert set(lines) == set(expected_accepted)
    for line, item in expected_accepted.items():
        assert lines[line].case.reference == item["reference"], f"line {line}"
        assert sorted(lines[line].flags) == sorted(item["flags"]), f"line {line}"
    expected_flags = Counter(flag for item in expected_accepted.values() for flag in item["flags"])
    assert result["flags"] == dict(expected_flags)

    total = Decimal(expected["accepted_balance_total"])
    assert Case.objects.count() == expected["accepted"]
    assert Case.objects.filter(creditor=reference.cpam).count() == expected["accepted"]
    assert Case.objects.aggregate(total=Sum("principal_amount"))["total"] == total
    assert batch.accepted_total == total
    assert (batch.row_count, batch.accepted_count, batch.rejected_count) == (
        expected["rows"],
        expected["accepted"],
        expected["rejected"],
    )
    assert Batch.objects.count() == 1


# --- signatures and encryption ---------------------------------------------------------------------


def test_signed_sample_with_registered_creditor_key_is_signed(reference, gnupg_home, media):
    register_creditor_key(reference.cpam)

    batch = import_sample(reference.cpam, "cpam-lot-exemple.csv.gpg").batch

    assert batch.signature_status == "signed"
    assert CREDITOR_SIGNER in batch.signer
    assert batch.signer_fingerprint
    assert batch.was_encrypted is True


def test_signed_sample_without_registered_key_is_refused(reference, gnupg_home, media):
    outcome = import_sample(reference.cpam, "cpam-lot-exemple.csv.gpg")

    assert outcome.status == "refused"
    assert outcome.error.startswith("Signature du fichier invalide (clé inconnue")  # French reason
    assert Batch.objects.count() == 0 and Case.objects.count() == 0


def test_signed_sample_with_key_of_another_creditor_is_refused(reference, gnupg_home, media):
    register_creditor_key(reference.other)

    outcome = import_sample(reference.cpam, "cpam-lot-exemple.csv.gpg")

    assert outcome.status == "refused"
    assert outcome.error.startswith("Signature du fichier invalide (clé non enregistrée pour ce créancier")
    assert Batch.objects.count() == 0 and Case.objects.count() == 0


def test_armored_sample_is_encrypted_but_not_signed(reference, gnupg_home, media):
    register_creditor_key(reference.cpam)

    batch = import_sample(reference.cpam, "cpam-lot-anomalies.csv.asc").batch

    assert batch.signature_status == "not_signed"
    assert batch.signer == ""
    assert batch.was_encrypted is True
    assert batch.sha256 != ""


@pytest.mark.parametrize("name", ["cpam-lot-exemple.csv", "cpam-lot-excel.xlsx", "cpam-lot-virgule.csv"])
def test_clear_samples_are_neither_encrypted_nor_signed(name, reference, gnupg_home, media):
    batch = import_sample(reference.cpam, name).batch

    assert batch.signature_status == "not_signed"
    assert batch.was_encrypted is False


def test_formats_and_encodings_are_recorded(reference, gnupg_home, media):
    anomalies = import_sample(reference.cpam, "cpam-lot-anomalies.csv").batch
    excel = import_sample(reference.cpam, "cpam-lot-excel.xlsx").batch
    virgule = import_sample(reference.cpam, "cpam-lot-virgule.csv").batch

    assert (anomalies.file_format, anomalies.encoding) == ("csv", "windows-1252")
    assert excel.file_format == "xlsx"
    assert (virgule.file_format, virgule.encoding) == ("csv", "utf-8-sig")
    assert virgule.unknown_columns == ["Commentaire interne", "Code agent"]


# --- what is stored for accepted rows (cpam-lot-exemple.csv) ---------------------------------------


def _exemple_rows() -> dict[int, dict]:
    with (DATA / "cpam-lot-exemple.csv").open(encoding="utf-8", newline="") as handle:
        return dict(enumerate(csv.DictReader(handle, delimiter=";"), start=1))


@pytest.fixture
def exemple(reference, gnupg_home, media):
    outcome = import_sample(reference.cpam, "cpam-lot-exemple.csv")
    assert outcome.status == "accepted"
    lines = {bc.line: bc.case for bc in BatchCase.objects.filter(batch=outcome.batch).select_related("case__debtor")}
    return outcome, lines


def test_doubtful_postcode_opens_an_address_investigation(exemple):
    _outcome, lines = exemple
    case = lines[8]  # postal code 750111

    task = Task.objects.get(case=case)
    assert task.kind == "address_investigation"
    assert task.status == "open"
    assert "code postal" in task.reason
    address = ContactPoint.objects.get(debtor=case.debtor, kind="address")
    assert address.quality == "doubtful"
    assert address.postal_code == "750111"
    assert address.line1 == "237 rue de Rivoli"


def test_only_rows_with_unknown_or_doubtful_address_get_a_task(exemple):
    outcome, lines = exemple
    investigated = {
        bc.line
        for bc in BatchCase.objects.filter(batch=outcome.batch)
        if {"invalid_postcode", "missing_address"} & set(bc.flags)
    }

    assert investigated == {8}
    assert set(Task.objects.values_list("case_id", flat=True)) == {lines[8].pk}
    assert Task.objects.filter(kind="address_investigation", status="open").count() == 1


def test_valid_addresses_are_stored_valid_and_primary(exemple):
    _outcome, lines = exemple
    address = ContactPoint.objects.get(debtor=lines[2].debtor, kind="address")

    assert address.quality == "valid"
    assert (address.line1, address.line2) == ("195 impasse des Épinettes", "Esc. 1, 2e étage")
    assert (address.postal_code, address.city, address.country) == ("75018", "PARIS", "FR")
    assert address.is_primary is True
    assert address.source == "Fichier du créancier"


def test_invalid_phone_is_kept_doubtful_with_its_raw_value(exemple):
    _outcome, lines = exemple
    phone = ContactPoint.objects.get(debtor=lines[40].debtor, kind="phone")

    assert phone.quality == "doubtful"
    assert phone.raw_value == "+33 0 00 00 00 00"
    assert phone.value == ""


@pytest.mark.parametrize(("line", "raw"), [(17, "x@y"), (26, "jean.dupont@"), (56, "pas d'email")])
def test_invalid_email_is_kept_doubtful_with_its_raw_value(exemple, line, raw):
    _outcome, lines = exemple
    email = ContactPoint.objects.get(debtor=lines[line].debtor, kind="email")

    assert email.quality == "doubtful"
    assert email.raw_value == raw
    assert email.value == ""


def test_valid_phones_are_stored_in_e164(exemple):
    _outcome, lines = exemple
    phones = ContactPoint.objects.filter(kind="phone", quality="valid")

    assert phones.count() > 30
    for phone in phones:
        assert re.fullmatch(r"\+33[1-9]\d{8}", phone.value), phone.value
        assert phone.raw_value
    by_line = {line: ContactPoint.objects.get(debtor=lines[line].debtor, kind="phone") for line in (2, 5, 18)}
    assert by_line[2].value == "+33151450612"  # 01.51.45.06.12
    assert by_line[5].value == "+33689290075"  # 0689290075
    assert by_line[18].value == "+33730582157"  # +33 7 30 58 21 57


def test_valid_emails_are_stored_valid(exemple):
    _outcome, lines = exemple
    email = ContactPoint.objects.get(debtor=lines[5].debtor, kind="email")

    assert email.quality == "valid"
    assert email.value == "michel.roux3@gmail.com"


def test_civility_is_normalised(exemple):
    _outcome, lines = exemple
    expected = {"M.": "M", "M": "M", "MR": "M", "Monsieur": "M", "Mme": "MME", "Mme.": "MME", "MME": "MME"}
    expected |= {"Madame": "MME", "": ""}
    rows = _exemple_rows()
    assert {"Monsieur", "Mme."} <= {row["civilite"] for row in rows.values()}

    for line, case in lines.items():
        assert case.debtor.civility == expected[rows[line]["civilite"]], f"line {line}"
    assert lines[1].debtor.civility == "M"  # "Monsieur"
    assert lines[6].debtor.civility == "MME"  # "Mme."


def test_formula_text_is_stored_as_given(exemple):
    _outcome, lines = exemple

    assert lines[53].debtor.first_name == "@SUM(1+1)"
    assert lines[20].debtor.first_name == "@SUM(1+1)"
    assert lines[31].debtor.first_name == "+cmd|' /C calc'!A0"


def test_case_fields_come_from_the_row(exemple):
    outcome, lines = exemple
    case = lines[2]

    assert case.structure.code == "CDOP"
    assert case.initial_amount == Decimal("125.48")
    assert case.principal_amount == Decimal("119.78")
    assert case.claim_date.isoformat() == "2025-09-20"
    assert case.basis == "Reste à charge consultation"
    assert case.status == "new"
    assert (case.debtor.last_name, case.debtor.first_name) == ("LAMBERT", "Chloé")
    assert case.received_on == timezone.localdate(outcome.batch.received_at)


def test_excel_sample_reads_number_and_date_cells(reference, gnupg_home, media):
    import_sample(reference.cpam, "cpam-lot-excel.xlsx")

    first = Case.objects.get(reference="CPAM75-0000001")
    second = Case.objects.get(reference="CPAM75-0000002")
    assert first.principal_amount == Decimal("31.48")
    assert first.initial_amount == Decimal("31.48")
    assert second.principal_amount == Decimal("27.97")
    assert second.claim_date.isoformat() == "2026-02-05"
    assert first.claim_date.isoformat() == "2026-10-17"
