"""`amiable.intake.services.batch_import`: whole-file refusals (with a French message, nothing stored but an
audit event), duplicates, references already open, files without a structure column and CSV dialects, the
creditor's encryption and signature policy, the acknowledgement of receipt, and atomicity."""

import csv
import io
import re
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.core import mail
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.cases.models import Case, ContactPoint, Debtor, Task
from amiable.core.dates import add_months
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import ContractTerms
from amiable.creditors.services import agency_save
from amiable.intake import crypto
from amiable.intake.models import Batch, BatchCase, BatchSource
from amiable.intake.services import batch_import
from tests.factories import make_case, pay_in_full
from tests.intake.conftest import DATA, KEYS, kill_gpg_agent, new_gnupg_home

EXEMPLE = DATA / "cpam-lot-exemple.csv"
EXEMPLE_GPG = DATA / "cpam-lot-exemple.csv.gpg"
ANOMALIES = DATA / "cpam-lot-anomalies.csv"
ANOMALIES_ASC = DATA / "cpam-lot-anomalies.csv.asc"
STORED = (Batch, Case, Debtor, ContactPoint, BatchCase, Task)
NOTHING_STORED = dict.fromkeys((model.__name__ for model in STORED), 0) | {"refused_events": 0}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def read_stored(file) -> bytes:
    """A stored document's bytes through the storage, as object storage allows (no path on disk)."""
    with file.open("rb") as handle:
        return handle.read()


def counts() -> dict[str, int]:
    """What an import may store, and how many refusals the audit trail holds."""
    stored = {model.__name__: model.objects.count() for model in STORED}
    return stored | {"refused_events": AuditEvent.objects.filter(verb="batch.refused").count()}


def do_import(creditor, content: bytes, *, filename="lot.csv", source=BatchSource.COMMAND, actor=None, **kwargs):
    return batch_import(creditor=creditor, content=content, filename=filename, source=source, actor=actor, **kwargs)


def assert_refused(outcome, before: dict, *fragments: str, creditor=None) -> None:
    """Refused with a French message containing every fragment; nothing stored; one `batch.refused` event."""
    assert outcome.status == "refused"
    assert outcome.batch is None
    assert outcome.error
    for fragment in fragments:
        assert fragment in outcome.error, outcome.error
    assert counts() == before | {"refused_events": before["refused_events"] + 1}  # nothing stored, one event
    result = outcome.as_json()
    assert result["status"] == "refused"
    assert result["batch"] is None
    assert result["acknowledgement"] is None
    assert result["error"] == outcome.error
    event = AuditEvent.objects.filter(verb="batch.refused").latest("pk")
    assert event.after["reason"] == outcome.error
    assert event.target_type == "intake.batch"
    if creditor is not None:
        assert event.creditor_pk == creditor.pk


def register_creditor_key(creditor):
    crypto.register_creditor_key(creditor=creditor, armored=(KEYS / "creditor-test-public.asc").read_text(), actor=None)


def gpg(home: Path, *args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--yes", "--pinentry-mode", "loopback", *args],
        input=stdin,
        check=True,
        capture_output=True,
    ).stdout


@pytest.fixture(scope="module")
def encrypted_to_another_key():
    """tests/data/cpam-lot-exemple.csv encrypted to a key that is not the agency's."""
    home = new_gnupg_home()
    try:
        gpg(home, "--passphrase", "", "--quick-gen-key", "Autre <autre@example.invalid>", "default", "default", "never")
        yield gpg(
            home, "--trust-model", "always", "--encrypt", "-r", "autre@example.invalid", stdin=EXEMPLE.read_bytes()
        )
    finally:
        kill_gpg_agent(home)
        shutil.rmtree(home, ignore_errors=True)


# --- whole-file refusals ---------------------------------------------------------------------------


def test_file_encrypted_to_another_key_is_refused(reference, gnupg_home, media, encrypted_to_another_key):
    before = counts()

    outcome = do_import(reference.cpam, encrypted_to_another_key, filename="lot.csv.gpg")

    assert_refused(
        outcome,
        before,
        "Le fichier est chiffré pour une autre clé que celle de l'agence",
        "impossible de le déchiffrer",
        creditor=reference.cpam,
    )
    assert before == NOTHING_STORED


def test_truncated_encrypted_file_is_refused(reference, gnupg_home, media):
    data = EXEMPLE_GPG.read_bytes()
    before = counts()

    outcome = do_import(reference.cpam, data[: len(data) // 2], filename="lot.csv.gpg")

    assert_refused(outcome, before, "Le fichier chiffré est incomplet ou endommagé", creditor=reference.cpam)


@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        b"\x00\x01\x02\x03binary\x00\xff\xfe\x00" * 64,
        b"reference;nom;solde;structure\nR1;Dupont;\x00\x00\x00;CSR\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ],
    ids=["pdf", "binary-with-nul", "text-with-nul", "png"],
)
def test_file_neither_csv_nor_xlsx_is_refused(reference, gnupg_home, media, content):
    before = counts()

    outcome = do_import(reference.cpam, content, filename="lot.csv")

    assert_refused(
        outcome,
        before,
        "Format non reconnu : le fichier n'est ni un CSV",
        "ni un classeur XLSX",
        creditor=reference.cpam,
    )


def test_corrupt_xlsx_is_refused(reference, gnupg_home, media):
    before = counts()

    outcome = do_import(reference.cpam, b"PK\x03\x04garbage", filename="lot.xlsx")

    assert_refused(outcome, before, "Le classeur XLSX est endommagé.", creditor=reference.cpam)


def test_zip_that_is_not_a_workbook_is_refused(reference, gnupg_home, media):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lot.csv", "reference;nom;solde;structure\nR1;Dupont;10;CSR\n")
    before = counts()

    outcome = do_import(reference.cpam, buffer.getvalue(), filename="lot.xlsx")

    assert_refused(outcome, before, "Le classeur XLSX est illisible", creditor=reference.cpam)


@pytest.mark.parametrize("content", [b"", b"\n\r\n  \n"], ids=["empty", "blank"])
def test_empty_file_is_refused(reference, gnupg_home, media, content):
    before = counts()

    outcome = do_import(reference.cpam, content)

    assert_refused(outcome, before, "Le fichier est vide", creditor=reference.cpam)


@pytest.mark.parametrize(
    "content",
    [
        EXEMPLE.read_bytes().splitlines(keepends=True)[0],
        EXEMPLE.read_bytes().splitlines(keepends=True)[0] + b";;;;;;;;;;;;;;;\n\n",
    ],
    ids=["header-only", "header-and-blank-rows"],
)
def test_header_only_file_is_refused(reference, gnupg_home, media, content):
    before = counts()

    outcome = do_import(reference.cpam, content)

    assert_refused(
        outcome,
        before,
        "Le fichier ne contient aucune ligne de données (seulement l'en-tête).",
        creditor=reference.cpam,
    )


def test_header_only_xlsx_is_refused(reference, gnupg_home, media):
    workbook = openpyxl.Workbook()
    workbook.active.append(["Référence", "Structure", "Nom", "Solde"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    before = counts()

    outcome = do_import(reference.cpam, buffer.getvalue(), filename="lot.xlsx")

    assert_refused(outcome, before, "aucune ligne de données", creditor=reference.cpam)


def _without_column(path: Path, column: str) -> bytes:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8")), delimiter=";"))
    index = rows[0].index(column)
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\n").writerows([r[:index] + r[index + 1 :] for r in rows])
    return out.getvalue().encode("utf-8")


@pytest.mark.parametrize(
    ("column", "label"),
    [
        ("solde", "« solde »"),
        ("nom", "« nom »"),
        ("reference_dossier", "« référence »"),
        ("structure", "« structure »"),
    ],
)
def test_file_lacking_a_required_column_is_refused(reference, gnupg_home, media, column, label):
    before = counts()

    outcome = do_import(reference.cpam, _without_column(EXEMPLE, column))

    assert_refused(outcome, before, "Colonne obligatoire absente : ", label, creditor=reference.cpam)
    assert outcome.error.count("«") == 1  # only the missing column is named


def test_header_not_found_is_refused(reference, gnupg_home, media):
    before = counts()

    outcome = do_import(reference.cpam, b"ceci;est;un;texte\nsans;en-tete;reconnu;du tout\n")

    assert_refused(outcome, before, "Ligne d'en-tête introuvable", creditor=reference.cpam)


def test_default_structure_of_another_creditor_is_refused(reference, gnupg_home, media):
    before = counts()

    outcome = do_import(reference.cpam, EXEMPLE.read_bytes(), default_structure=reference.other_structure)

    assert_refused(outcome, before, "La structure AUT n'appartient pas à", creditor=reference.cpam)


def test_file_above_the_size_limit_is_refused(reference, gnupg_home, media, settings):
    settings.AMIABLE_BATCH_MAX_MB = 0
    before = counts()

    outcome = do_import(reference.cpam, EXEMPLE.read_bytes())

    assert_refused(outcome, before, "Le fichier dépasse la taille maximale de 0 Mo.", creditor=reference.cpam)


def test_unknown_source_is_a_programming_error(reference, media):
    with pytest.raises(ValueError):
        do_import(reference.cpam, EXEMPLE.read_bytes(), source="fax")


# --- duplicates ------------------------------------------------------------------------------------


def test_same_file_twice_is_a_duplicate_and_stores_nothing(reference, gnupg_home, media):
    first = do_import(reference.cpam, EXEMPLE.read_bytes(), filename="lot-1.csv")
    before = counts()
    events = AuditEvent.objects.count()

    second = do_import(reference.cpam, EXEMPLE.read_bytes(), filename="lot-2.csv")

    assert first.status == "accepted"
    assert second.status == "duplicate"
    assert second.error.startswith("Fichier déjà reçu : son contenu est celui du lot ")
    assert first.batch.number in second.error
    assert second.error.endswith("Rien n'a été enregistré.")
    assert second.batch.pk == first.batch.pk
    assert counts() == before
    assert Batch.objects.count() == 1
    assert Case.objects.count() == 60
    assert AuditEvent.objects.count() == events + 1
    assert AuditEvent.objects.latest("pk").verb == "batch.duplicate"
    result = second.as_json()
    assert result["status"] == "duplicate"
    assert result["acknowledgement"] is None
    assert result["error"] == second.error


def test_encrypted_copy_of_an_accepted_clear_file_is_a_duplicate(reference, gnupg_home, media):
    first = do_import(reference.cpam, ANOMALIES.read_bytes(), filename="lot.csv")
    before = counts()

    second = do_import(reference.cpam, ANOMALIES_ASC.read_bytes(), filename="lot.csv.asc")

    assert first.status == "accepted"
    assert second.status == "duplicate"
    assert "Fichier déjà reçu" in second.error
    assert counts() == before


def test_clear_copy_of_an_accepted_encrypted_file_is_a_duplicate(reference, gnupg_home, media):
    register_creditor_key(reference.cpam)
    first = do_import(reference.cpam, EXEMPLE_GPG.read_bytes(), filename="lot.csv.gpg")
    before = counts()

    second = do_import(reference.cpam, EXEMPLE.read_bytes(), filename="lot.csv")

    assert first.status == "accepted"
    assert second.status == "duplicate"
    assert counts() == before


def test_duplicate_detection_is_per_creditor(reference, gnupg_home, media):
    content = b"reference;nom;solde\nREF-1;Dupont;10,00\n"

    first = do_import(reference.cpam, content, default_structure=reference.csr)
    second = do_import(reference.other, content, default_structure=reference.other_structure)

    assert (first.status, second.status) == ("accepted", "accepted")
    assert Case.objects.filter(reference="REF-1").count() == 2


# --- references already open -------------------------------------------------------------------------


def test_reference_already_open_for_the_creditor_is_rejected(reference, gnupg_home, media):
    existing = make_case(structure=reference.csr, reference="CPAM75-0000001")

    outcome = do_import(reference.cpam, EXEMPLE.read_bytes())

    assert outcome.status == "accepted"
    assert (outcome.accepted, outcome.rejected) == (59, 1)
    [row] = outcome.as_json()["rejected_rows"]
    assert (row["line"], row["reference"]) == (1, "CPAM75-0000001")
    assert [(e["column"], e["message"]) for e in row["errors"]] == [
        ("référence", "un dossier ouvert porte déjà cette référence")
    ]
    assert Case.objects.filter(reference="CPAM75-0000001").get() == existing


def test_same_reference_open_for_another_creditor_is_accepted(reference, gnupg_home, media):
    make_case(structure=reference.other_structure, reference="CPAM75-0000001")

    outcome = do_import(reference.cpam, EXEMPLE.read_bytes())

    assert (outcome.accepted, outcome.rejected) == (60, 0)
    assert Case.objects.filter(reference="CPAM75-0000001", creditor=reference.cpam).count() == 1


def test_reference_of_an_ended_case_may_be_sent_again(reference, gnupg_home, media):
    ended = make_case(structure=reference.csr, reference="CPAM75-0000001")
    pay_in_full(ended)

    outcome = do_import(reference.cpam, EXEMPLE.read_bytes())

    assert (outcome.accepted, outcome.rejected) == (60, 0)
    assert Case.objects.filter(reference="CPAM75-0000001", creditor=reference.cpam).count() == 2


def test_references_differing_only_by_inner_spaces_are_duplicates(reference, gnupg_home, media):
    content = "reference;structure;nom;solde;adresse1;code_postal;ville\n"
    content += "REF  1;CSR;Dupont;10,00;1 rue A;75011;Paris\nREF 1;CSR;Martin;12,00;2 rue B;75011;Paris\n"
    content += "REF 2;CSR;Durand;14,00;3 rue C;75011;Paris\n"

    outcome = do_import(reference.cpam, content.encode())

    assert outcome.status == "accepted"
    assert {row["line"] for row in outcome.as_json()["rejected_rows"]} == {1, 2}


def test_reference_already_open_is_found_whatever_its_inner_spaces(reference, gnupg_home, media):
    make_case(structure=reference.csr, reference="REF 1")
    content = "reference;structure;nom;solde;adresse1;code_postal;ville\n"
    content += "REF  1;CSR;Dupont;10,00;1 rue A;75011;Paris\nREF 2;CSR;Durand;14,00;3 rue C;75011;Paris\n"

    outcome = do_import(reference.cpam, content.encode())

    assert outcome.status == "accepted"
    assert [row["line"] for row in outcome.as_json()["rejected_rows"]] == [1]


def test_balance_too_large_to_store_rejects_the_row_not_the_file(reference, gnupg_home, media):
    content = "reference;structure;nom;solde;adresse1;code_postal;ville\n"
    content += "R1;CSR;Dupont;185017512345678;1 rue A;75011;Paris\nR2;CSR;Martin;12,00;2 rue B;75011;Paris\n"

    outcome = do_import(reference.cpam, content.encode())

    assert outcome.status == "accepted"
    assert outcome.accepted == 1
    assert [row["line"] for row in outcome.as_json()["rejected_rows"]] == [1]


# --- files without a structure column, CSV dialects -------------------------------------------------


NO_STRUCTURE_ROWS = [
    ["reference", "civilite", "nom", "prenom", "adresse1", "code_postal", "ville", "solde", "date_creance"],
    ["REF-001", "Mme", "Bénard", "Hélène", "3 rue de l'Église", "75011", "Paris", "12,50", "01/02/2025"],
    ["REF-002", "M.", "Lefèvre", "Jérôme", "5 place Léon Blum", "75011", "Paris", "1 234,56", "2025-03-04"],
]


def _csv(rows, delimiter=";", encoding="utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def _assert_two_cases(outcome, structure):
    assert outcome.status == "accepted", outcome.error
    assert (outcome.rows, outcome.accepted, outcome.rejected) == (2, 2, 0)
    first, second = Case.objects.get(reference="REF-001"), Case.objects.get(reference="REF-002")
    assert first.structure == second.structure == structure
    assert (first.debtor.last_name, first.debtor.first_name) == ("Bénard", "Hélène")
    assert second.debtor.last_name == "Lefèvre"
    assert first.principal_amount == Decimal("12.50")
    assert second.principal_amount == Decimal("1234.56")
    assert first.claim_date == date(2025, 2, 1)
    assert second.claim_date == date(2025, 3, 4)
    assert ContactPoint.objects.get(debtor=first.debtor, kind="address").line1 == "3 rue de l'Église"


def test_file_without_structure_column_needs_a_default_structure(reference, gnupg_home, media):
    before = counts()

    outcome = do_import(reference.cpam, _csv(NO_STRUCTURE_ROWS))

    assert_refused(outcome, before, "Colonne obligatoire absente : « structure »")


def test_semicolon_file_with_default_structure(reference, gnupg_home, media):
    outcome = do_import(reference.cpam, _csv(NO_STRUCTURE_ROWS), default_structure=reference.cdop)

    _assert_two_cases(outcome, reference.cdop)
    assert outcome.batch.default_structure == reference.cdop
    assert (outcome.batch.file_format, outcome.batch.encoding) == ("csv", "utf-8")


def test_tab_delimited_file(reference, gnupg_home, media):
    outcome = do_import(reference.cpam, _csv(NO_STRUCTURE_ROWS, delimiter="\t"), default_structure=reference.csr)

    _assert_two_cases(outcome, reference.csr)


def test_comma_delimited_file(reference, gnupg_home, media):
    rows = [
        [cell.replace("1 234,56", "1234.56").replace("12,50", "12.50") for cell in row] for row in NO_STRUCTURE_ROWS
    ]

    outcome = do_import(reference.cpam, _csv(rows, delimiter=","), default_structure=reference.csr)

    _assert_two_cases(outcome, reference.csr)


def test_windows_1252_file_with_accents(reference, gnupg_home, media):
    rows = [
        ["Référence", "Civilité", "Nom", "Prénom", "Adresse", "Code postal", "Ville", "Solde", "Date de la créance"]
    ]
    rows += NO_STRUCTURE_ROWS[1:]

    outcome = do_import(reference.cpam, _csv(rows, encoding="cp1252"), default_structure=reference.cesa)

    _assert_two_cases(outcome, reference.cesa)
    assert outcome.batch.encoding == "windows-1252"


def test_utf8_file_with_bom(reference, gnupg_home, media):
    outcome = do_import(reference.cpam, b"\xef\xbb\xbf" + _csv(NO_STRUCTURE_ROWS), default_structure=reference.csr)

    _assert_two_cases(outcome, reference.csr)
    assert outcome.batch.encoding == "utf-8-sig"
    assert outcome.batch.unknown_columns == []  # the BOM did not hide the first header


def test_quoted_fields_with_delimiter_and_line_break(reference, gnupg_home, media):
    content = (
        "reference;nom;prenom;adresse1;code_postal;ville;solde\r\n"
        'REF-001;"Dupont; Martin";Anne;"12 rue X\r\nBât. B";75011;Paris;"10,00"\r\n'
        'REF-002;"Durand";"Paul ""Polo""";"3 rue Y";75011;Paris;0,00\r\n'
        "REF-003;Petit;Léa;4 rue Z;75011;Paris;5,00\r\n"
    ).encode()

    outcome = do_import(reference.cpam, content, default_structure=reference.csr)

    assert outcome.status == "accepted", outcome.error
    assert (outcome.rows, outcome.accepted, outcome.rejected) == (3, 2, 1)
    first = Case.objects.get(reference="REF-001")
    assert first.debtor.last_name == "Dupont; Martin"
    address = ContactPoint.objects.get(debtor=first.debtor, kind="address")
    assert address.line1.startswith("12 rue X") and address.line1.endswith("Bât. B")
    [rejected] = outcome.as_json()["rejected_rows"]
    assert (rejected["line"], rejected["file_line"], rejected["reference"]) == (2, 4, "REF-002")
    assert Case.objects.get(reference="REF-003").principal_amount == Decimal("5.00")


def test_structure_column_wins_over_the_default_and_blank_cells_take_it(reference, gnupg_home, media):
    content = "reference;structure;nom;solde\nREF-1;CESA;Dupont;10,00\nREF-2;;Martin;11,00\nREF-3;csr;Petit;12,00\n"

    outcome = do_import(reference.cpam, content.encode(), default_structure=reference.cdop)

    assert outcome.accepted == 3
    codes = dict(Case.objects.values_list("reference", "structure__code"))
    assert codes == {"REF-1": "CESA", "REF-2": "CDOP", "REF-3": "CSR"}


def test_blank_structure_without_default_rejects_the_row(reference, gnupg_home, media):
    content = "reference;structure;nom;solde\nREF-1;CESA;Dupont;10,00\nREF-2;;Martin;11,00\n"

    outcome = do_import(reference.cpam, content.encode())

    [row] = outcome.as_json()["rejected_rows"]
    assert row["reference"] == "REF-2"
    assert [(e["column"], e["message"]) for e in row["errors"]] == [("structure", "structure absente")]


# --- the creditor's policy (C5) -------------------------------------------------------------------
# The policy holds for every way in: the command, the creditor's upload and the agency's upload.

UPLOADS = [BatchSource.CREDITOR_UPLOAD, BatchSource.AGENCY_UPLOAD]


def _terms(reference, **values):
    assert ContractTerms.objects.filter(creditor=reference.cpam).exists()
    ContractTerms.objects.filter(creditor=reference.cpam).update(**values)


def _uploader(users, source):
    return users.creditor_admin if source == BatchSource.CREDITOR_UPLOAD else users.agent


def test_required_encryption_refuses_a_clear_file_sent_by_command(reference, gnupg_home, media):
    _terms(reference, require_encryption=True)
    before = counts()

    outcome = do_import(reference.cpam, EXEMPLE.read_bytes(), source=BatchSource.COMMAND)

    assert_refused(
        outcome,
        before,
        f"{reference.cpam.name} exige des fichiers chiffrés (OpenPGP) : fichier en clair refusé. "
        "Chiffrez-le pour la clé de l'agence, puis transmettez-le à nouveau.",
        creditor=reference.cpam,
    )


@pytest.mark.parametrize("source", UPLOADS)
def test_required_encryption_refuses_a_clear_file_uploaded_by_a_person(reference, gnupg_home, media, users, source):
    _terms(reference, require_encryption=True, require_signature=True)
    agency_save(actor=None, key_fingerprint="A" * 40)
    before = counts()

    outcome = do_import(reference.cpam, EXEMPLE.read_bytes(), source=source, actor=_uploader(users, source))

    assert_refused(
        outcome,
        before,
        f"{reference.cpam.name} exige des fichiers chiffrés (OpenPGP) : fichier en clair refusé. Chiffrez-le pour "
        f"la clé de l'agence (empreinte {' '.join(['AAAA'] * 10)}) et signez-le avec votre clé enregistrée "
        "auprès de l'agence, puis transmettez-le à nouveau.",
        creditor=reference.cpam,
    )


@pytest.mark.parametrize("source", [BatchSource.COMMAND, *UPLOADS])
def test_required_encryption_accepts_an_encrypted_file(reference, gnupg_home, media, users, source):
    _terms(reference, require_encryption=True)

    outcome = do_import(reference.cpam, ANOMALIES_ASC.read_bytes(), source=source, actor=_uploader(users, source))

    assert outcome.status == "accepted"
    assert outcome.batch.was_encrypted


@pytest.mark.parametrize("source", [BatchSource.COMMAND, *UPLOADS])
def test_required_signature_refuses_an_encrypted_unsigned_file(reference, gnupg_home, media, users, source):
    _terms(reference, require_signature=True, require_encryption=True)
    register_creditor_key(reference.cpam)
    before = counts()

    outcome = do_import(
        reference.cpam,
        ANOMALIES_ASC.read_bytes(),
        filename="lot.csv.asc",
        source=source,
        actor=_uploader(users, source),
    )

    assert_refused(
        outcome,
        before,
        f"{reference.cpam.name} exige des fichiers signés par une clé enregistrée : fichier non signé. Signez-le "
        "avec la clé de signature que l'agence a enregistrée pour vous, puis transmettez-le à nouveau.",
        creditor=reference.cpam,
    )


@pytest.mark.parametrize("required", [True, False])
def test_a_signature_by_an_unregistered_key_refuses_the_file(reference, gnupg_home, media, required):
    _terms(reference, require_signature=required)
    before = counts()

    outcome = do_import(reference.cpam, EXEMPLE_GPG.read_bytes(), filename="lot.csv.gpg")

    assert_refused(
        outcome,
        before,
        "Signature du fichier invalide (clé inconnue ",
        "fichier refusé, rien n'a été enregistré",
        f"Un fichier signé doit l'être par une clé enregistrée pour {reference.cpam.name}",
        creditor=reference.cpam,
    )


@pytest.fixture(scope="module")
def signed_exemple():
    """tests/data/cpam-lot-exemple.csv signed (not encrypted, not compressed) with the creditor's test key, so
    that its amounts can be edited in place after signing."""
    home = new_gnupg_home()
    try:
        gpg(home, "--import", str(KEYS / "creditor-test-secret.asc"))
        yield gpg(home, "--passphrase", "", "--compress-algo", "none", "--sign", stdin=EXEMPLE.read_bytes())
    finally:
        kill_gpg_agent(home)
        shutil.rmtree(home, ignore_errors=True)


def test_a_signed_clear_file_is_accepted_as_signed(reference, gnupg_home, media, signed_exemple):
    register_creditor_key(reference.cpam)

    outcome = do_import(reference.cpam, signed_exemple, filename="lot.csv.gpg")

    assert outcome.status == "accepted", outcome.error
    assert (outcome.batch.was_encrypted, outcome.batch.signature_status) == (False, "signed")


@pytest.mark.parametrize("required", [True, False])
def test_a_signed_file_edited_after_signing_is_refused_whole(reference, gnupg_home, media, signed_exemple, required):
    """The first claim's balance 82,41 becomes 92,41: the file must not be imported with the altered amount,
    whether or not the creditor's terms require a signature."""
    _terms(reference, require_signature=required)
    register_creditor_key(reference.cpam)
    assert signed_exemple.count(b";82,41;") == 1
    altered = signed_exemple.replace(b";82,41;", b";92,41;")
    before = counts()

    outcome = do_import(reference.cpam, altered, filename="lot.csv.gpg")

    assert_refused(
        outcome,
        before,
        "Signature du fichier invalide (signature incorrecte (contenu modifié après signature) : CPAM de Paris TEST",
        "fichier refusé, rien n'a été enregistré",
        creditor=reference.cpam,
    )
    assert not Case.objects.filter(principal_amount=Decimal("92.41")).exists()


@pytest.mark.parametrize("source", [BatchSource.COMMAND, *UPLOADS])
def test_required_signature_accepts_a_file_signed_by_the_registered_key(reference, gnupg_home, media, users, source):
    _terms(reference, require_signature=True, require_encryption=True)
    register_creditor_key(reference.cpam)
    actor = _uploader(users, source)

    outcome = do_import(reference.cpam, EXEMPLE_GPG.read_bytes(), filename="lot.csv.gpg", source=source, actor=actor)

    assert outcome.status == "accepted"
    batch = outcome.batch
    assert (batch.source, batch.was_encrypted, batch.signature_status) == (source, True, "signed")
    assert batch.signer_fingerprint
    if actor is not None:
        assert batch.received_by == actor


def test_without_the_policy_a_clear_upload_is_accepted(reference, gnupg_home, media, users):
    _terms(reference, require_encryption=False, require_signature=False)

    outcome = do_import(
        reference.cpam, EXEMPLE.read_bytes(), source=BatchSource.CREDITOR_UPLOAD, actor=users.creditor_admin
    )

    assert outcome.status == "accepted"
    assert (outcome.batch.was_encrypted, outcome.batch.signature_status) == (False, "not_signed")


# --- acknowledgement of receipt ----------------------------------------------------------------------


def test_acknowledgement_of_an_accepted_batch(reference, gnupg_home, media, django_capture_on_commit_callbacks):
    today = timezone.localdate()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = do_import(reference.cpam, EXEMPLE.read_bytes(), filename="cpam-lot-exemple.csv")

    batch = Batch.objects.get()
    assert outcome.batch == batch
    assert re.fullmatch(r"AR-\d{4}-\d{6}", batch.acknowledgement_number)
    assert batch.acknowledgement_number.startswith(f"AR-{today.year}-")
    assert re.fullmatch(r"LOT-\d{4}-\d{6}", batch.number)
    cases = list(Case.objects.all())
    assert len(cases) == 60
    for case in cases:
        assert case.received_on == today
        assert case.acknowledged_on == today
        assert case.certificate_due_on == add_months(today, 12)

    # The three documents are stored under MEDIA_ROOT; on a local disk the JSON gives their absolute paths.
    documents = (batch.acknowledgement_pdf, batch.acknowledgement_csv, batch.acknowledgement_xlsx)
    for field in documents:
        assert (media / field.name).is_file()
    pdf = read_stored(batch.acknowledgement_pdf)
    assert pdf.startswith(b"%PDF")
    result = outcome.as_json()["acknowledgement"]
    assert result["number"] == batch.acknowledgement_number
    assert [result["pdf"], result["csv"], result["xlsx"]] == [str(media / field.name) for field in documents]

    # E-mailed to the creditor's transmission address, with the PDF.
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [reference.cpam.transmission_email]
    assert batch.acknowledgement_number in message.subject
    assert "Accusé de réception" in message.subject
    [(name, content, mimetype)] = message.attachments
    assert name == f"{batch.acknowledgement_number}.pdf"
    assert mimetype == "application/pdf"
    assert content == pdf
    assert batch.acknowledgement_sent_at is not None

    # Audit: one event per case (with its case_pk), one for the batch, one for the e-mail.
    created = AuditEvent.objects.filter(verb="case.created")
    assert created.count() == 60
    assert set(created.values_list("case_pk", flat=True)) == {case.pk for case in cases}
    assert AuditEvent.objects.filter(verb="batch.imported").count() == 1
    assert AuditEvent.objects.get(verb="batch.imported").target_id == str(batch.pk)
    assert AuditEvent.objects.filter(verb="batch.acknowledgement_sent").count() == 1


def test_acknowledgement_mail_waits_for_the_commit(reference, gnupg_home, media):
    outcome = do_import(reference.cpam, EXEMPLE.read_bytes())

    assert outcome.status == "accepted"
    assert mail.outbox == []  # the test transaction never commits
    assert Batch.objects.get().acknowledgement_sent_at is None


def test_acknowledgement_mail_falls_back_to_the_contact_address(
    reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    reference.cpam.transmission_email = ""
    reference.cpam.contact_email = "contact@cpam.example"
    reference.cpam.save()

    with django_capture_on_commit_callbacks(execute=True):
        do_import(reference.cpam, EXEMPLE.read_bytes())

    assert [m.to for m in mail.outbox] == [["contact@cpam.example"]]


def test_certificate_delay_follows_the_contract(reference, gnupg_home, media):
    _terms(reference, certificate_months=6)
    today = timezone.localdate()

    do_import(reference.cpam, EXEMPLE.read_bytes())

    assert set(Case.objects.values_list("certificate_due_on", flat=True)) == {add_months(today, 6)}


def _annex_cell(rows, reference_value: str, column: str):
    header_index = next(i for i, row in enumerate(rows) if row and row[0] == "Ligne")
    header = list(rows[header_index])
    row = next(r for r in rows[header_index + 1 :] if r[1] == reference_value)
    return row[header.index(column)]


def test_annexes_neutralise_formula_text(reference, gnupg_home, media):
    outcome = do_import(reference.cpam, EXEMPLE.read_bytes())
    batch = outcome.batch

    workbook = openpyxl.load_workbook(io.BytesIO(read_stored(batch.acknowledgement_xlsx)))
    rows = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    assert _annex_cell(rows, "CPAM75-0000053", "Prénom") == "'@SUM(1+1)"
    assert _annex_cell(rows, "CPAM75-0000031", "Prénom") == "'+cmd|' /C calc'!A0"
    assert _annex_cell(rows, "CPAM75-0000001", "Prénom") == "Raphaël"
    assert sum(1 for row in rows if row and isinstance(row[0], int)) == 60
    for row in workbook.worksheets[0].iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate

    text = read_stored(batch.acknowledgement_csv).decode("utf-8-sig")
    csv_rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert _annex_cell(csv_rows, "CPAM75-0000053", "Prénom") == "'@SUM(1+1)"
    # ...while the case keeps the text as received.
    assert Case.objects.get(reference="CPAM75-0000053").debtor.first_name == "@SUM(1+1)"


# --- atomicity ---------------------------------------------------------------------------------------


def test_failure_while_acknowledging_stores_nothing(reference, gnupg_home, media, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("panne du générateur")

    monkeypatch.setattr("amiable.intake.services.acknowledgement_build", explode)
    events_before = AuditEvent.objects.count()

    with pytest.raises(RuntimeError, match="panne du générateur"):
        do_import(reference.cpam, EXEMPLE.read_bytes())

    assert counts() == NOTHING_STORED
    assert not AuditEvent.objects.filter(verb__in=["case.created", "batch.imported"]).exists()
    assert AuditEvent.objects.count() == events_before


def test_business_error_while_acknowledging_refuses_and_stores_nothing(reference, gnupg_home, media, monkeypatch):
    def refuse(**kwargs):
        raise ApplicationError("L'identité de l'agence n'est pas renseignée.")

    monkeypatch.setattr("amiable.intake.services.acknowledgement_build", refuse)
    before = counts()

    outcome = do_import(reference.cpam, EXEMPLE.read_bytes())

    assert_refused(outcome, before, "L'identité de l'agence n'est pas renseignée.", creditor=reference.cpam)
    assert not AuditEvent.objects.filter(verb="case.created").exists()


def test_failure_after_a_first_chunk_stores_nothing(reference, gnupg_home, media, monkeypatch):
    """Rows are written chunk by chunk: a failure after the first chunk rolls back the chunks already written."""
    monkeypatch.setattr("amiable.intake.pipeline.CHUNK", 10)
    from amiable.intake import pipeline

    real_write = pipeline.write_chunk
    calls = []

    def write_then_fail(rows, *, destination):
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("coupure")
        return real_write(rows, destination=destination)

    monkeypatch.setattr(pipeline, "write_chunk", write_then_fail)

    with pytest.raises(RuntimeError):
        do_import(reference.cpam, EXEMPLE.read_bytes())

    assert calls == [10, 10, 10]
    assert counts() == NOTHING_STORED


def test_progress_is_reported(reference, gnupg_home, media):
    phases = []

    do_import(
        reference.cpam, EXEMPLE.read_bytes(), progress=lambda phase, done, total: phases.append((phase, done, total))
    )

    assert phases[0] == ("lecture", 0, 0)
    assert ("accusé de réception", 60, 60) in phases
    assert phases[-1] == ("terminé", 60, 60)


def test_case_page_shows_the_batch_on_the_timeline_and_the_investigation_task_to_the_agency(
    client, reference, users, gnupg_home
):
    outcome = batch_import(
        creditor=reference.cpam,
        content=(DATA / "cpam-lot-exemple.csv").read_bytes(),
        filename="cpam-lot-exemple.csv",
        source=BatchSource.COMMAND,
        actor=None,
    )
    case = Case.objects.get(reference="CPAM75-0000008")  # postcode 750111: doubtful address
    batch = outcome.batch
    client.force_login(users.agent)
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert f"lot {batch.number}, ligne 8 — accusé de réception {batch.acknowledgement_number}" in html
    assert "Recherche d&#x27;adresse" in html and "Adresse douteuse (code postal invalide)" in html
    client.force_login(users.collaborator)
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert f"lot {batch.number}, ligne 8" in html
    assert "Tâches à faire" not in html
