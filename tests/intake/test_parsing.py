"""`amiable.intake.parsing`: header wording, header row after title rows (CSV and XLSX), delimiters and
encodings, the creditor's own column names (`extra_headers` and `ColumnMapping`)."""

import importlib
import io
from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest

from amiable.cases.models import Case
from amiable.core.exceptions import ApplicationError
from amiable.intake.models import BatchSource, ColumnMapping
from amiable.intake.parsing import COLUMNS, normalise_header, parse
from amiable.intake.services import batch_import
from tests.intake.conftest import DATA


def excel_date(iso: str) -> datetime:
    """A spreadsheet date cell: a naive datetime at midnight, as openpyxl reads it (Excel has no time zone)."""
    return datetime.fromisoformat(iso)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def rows_of(parsed) -> list:
    return list(parsed.rows)


def xlsx(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- normalise_header --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Solde de la dette (€)", "soldedeladette"),
        ("Référence dossier", "referencedossier"),
        ("reference_dossier", "referencedossier"),
        ("RÉFÉRENCE-DOSSIER", "referencedossier"),
        ("  Code postal  ", "codepostal"),
        ("CODE_POSTAL", "codepostal"),
        ("Complément d'adresse", "complementdadresse"),
        ("Complément d’adresse", "complementdadresse"),
        ("Prénom", "prenom"),
        ("Civilité", "civilite"),
        ("Téléphone n°1", "telephonen1"),
        ("Date de la créance", "datedelacreance"),
        ("e-mail", "email"),
        ("Nom\u00a0de\tfamille", "nomdefamille"),
        ("", ""),
        (None, ""),
        (2025, "2025"),
    ],
)
def test_normalise_header(text, expected):
    assert normalise_header(text) == expected


# --- header detection --------------------------------------------------------------------------------


def test_csv_header_found_after_title_rows():
    content = (
        "Transmission des créances;;;\n"
        ";;;\n"
        "Référence dossier;Structure;Nom;Solde\n"
        "R1;CSR;Dupont;10,00\n"
        "\n"
        "R2;CSR;Martin;11,00\n"
    ).encode()

    parsed = parse(content, extra_headers={}, structure_given=False)

    assert parsed.layout.header_index == 2
    assert parsed.layout.positions == {"reference": 0, "structure": 1, "last_name": 2, "principal_amount": 3}
    rows = rows_of(parsed)
    assert [(r.line, r.file_line, r.values["reference"]) for r in rows] == [(1, 4, "R1"), (2, 6, "R2")]
    assert rows[1].values == {"reference": "R2", "structure": "CSR", "last_name": "Martin", "principal_amount": "11,00"}


TITLE = ["Transmission des créances — CPAM de Paris"]
HEADER = ["Structure de soins", "Référence dossier", "Nom", "Prénom", "Solde de la dette (€)", "Montant initial (€)",
          "Date de la créance", "Code postal", "Adresse"]  # fmt: skip


def test_xlsx_header_after_three_title_rows_with_number_and_date_cells():
    content = xlsx(
        [
            TITLE,
            [],
            ["Extrait du", excel_date("2026-11-20")],
            HEADER,
            ["CSR", "R-1", "Dupont", "Anne", 31.48, 40, excel_date("2025-06-18"), 75011, "1 rue A"],
            ["CDOP", "R-2", "Martin", "Paul", 12, 12.5, excel_date("2026-01-02"), "13005", "2 rue B"],
        ]
    )

    parsed = parse(content, extra_headers={}, structure_given=False)

    assert parsed.file_format == "xlsx"
    assert parsed.layout.header_index == 3
    first, second = rows_of(parsed)
    assert (first.line, first.file_line) == (1, 5)
    assert (second.line, second.file_line) == (2, 6)
    assert first.values["principal_amount"] == 31.48
    assert first.values["claim_date"] == excel_date("2025-06-18")
    assert first.values["postal_code"] == 75011


def test_xlsx_with_number_and_date_cells_imports(reference, gnupg_home, media):
    content = xlsx(
        [
            TITLE,
            [],
            ["Extrait du", excel_date("2026-11-20")],
            HEADER,
            ["CSR", "R-1", "Dupont", "Anne", 31.48, 40, excel_date("2025-06-18"), 75011, "1 rue A"],
            ["CDOP", "R-2", "Martin", "Paul", 12, 12.5, excel_date("2026-01-02"), "13005", "2 rue B"],
            ["CESA", "R-3", "Petit", "Léa", 0.005, 1, excel_date("2026-01-02"), "13005", "3 rue C"],
        ]
    )

    outcome = batch_import(
        creditor=reference.cpam, content=content, filename="lot.xlsx", source=BatchSource.COMMAND, actor=None
    )

    assert outcome.status == "accepted", outcome.error
    assert (outcome.rows, outcome.accepted, outcome.rejected) == (3, 2, 1)
    first = Case.objects.get(reference="R-1")
    assert first.principal_amount == Decimal("31.48")
    assert first.initial_amount == Decimal("40.00")
    assert first.claim_date.isoformat() == "2025-06-18"
    assert Case.objects.get(reference="R-2").principal_amount == Decimal("12.00")
    [rejected] = outcome.as_json()["rejected_rows"]
    assert (rejected["line"], rejected["file_line"], rejected["reference"]) == (3, 7, "R-3")
    assert rejected["errors"][0]["message"] == "plus de 2 décimales"
    assert outcome.batch.file_format == "xlsx"


def test_xlsx_header_on_row_11_is_found():
    content = xlsx([[f"Titre {n}"] for n in range(10)] + [HEADER, ["CSR", "R-1", "Dupont", "Anne", 1]])

    parsed = parse(content, extra_headers={}, structure_given=False)

    assert parsed.layout.header_index == 10
    assert len(rows_of(parsed)) == 1


def test_xlsx_header_on_row_12_is_not_found():
    content = xlsx([[f"Titre {n}"] for n in range(11)] + [HEADER, ["CSR", "R-1", "Dupont", "Anne", 1]])

    with pytest.raises(ApplicationError) as error:
        parse(content, extra_headers={}, structure_given=False)

    assert error.value.message.startswith("Ligne d'en-tête introuvable : aucune des 11 premières lignes")


def test_csv_header_on_line_12_is_not_found():
    content = ("titre\n" * 11 + "reference;structure;nom;solde\nR1;CSR;Dupont;10\n").encode()

    with pytest.raises(ApplicationError) as error:
        parse(content, extra_headers={}, structure_given=False)

    assert "Ligne d'en-tête introuvable" in error.value.message


def test_header_row_needs_two_known_columns():
    """A title that names a single column ("Nom") is not taken for the header."""
    content = b"Nom du fichier : lot de novembre\nNom\nreference;structure;nom;solde\nR1;CSR;Dupont;10\n"

    parsed = parse(content, extra_headers={}, structure_given=False)

    assert parsed.layout.header_index == 2


def test_missing_required_columns_are_all_named():
    with pytest.raises(ApplicationError) as error:
        parse(b"nom;prenom\nDupont;Anne\n", extra_headers={}, structure_given=False)

    message = error.value.message
    assert message.startswith("Colonne obligatoire absente : ")
    for label in ("« référence »", "« solde »", "« structure »"):
        assert label in message
    assert "« nom »" not in message


def test_structure_not_required_when_given_for_the_batch():
    parsed = parse(b"reference;nom;solde\nR1;Dupont;10\n", extra_headers={}, structure_given=True)

    assert "structure" not in parsed.layout.positions


def test_unknown_columns_are_listed_and_duplicated_columns_kept_first():
    content = b"reference;structure;nom;solde;Commentaire;Nom\nR1;CSR;Dupont;10;RAS;Autre\n"

    parsed = parse(content, extra_headers={}, structure_given=False)

    assert parsed.layout.unknown == ["Commentaire", "Nom"]
    assert rows_of(parsed)[0].values["last_name"] == "Dupont"


def test_short_rows_give_missing_values():
    parsed = parse(b"reference;structure;nom;solde;ville\nR1;CSR;Dupont\n", extra_headers={}, structure_given=False)

    values = rows_of(parsed)[0].values
    assert values["principal_amount"] is None
    assert values["city"] is None


# --- delimiters and encodings --------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", ",", "\t"], ids=["semicolon", "comma", "tab"])
def test_delimiter_is_detected(delimiter):
    lines = [["reference", "structure", "nom", "solde", "adresse2"], ["R1", "CSR", "Dupont", "10", "Bât. B"]]
    content = "\n".join(delimiter.join(line) for line in lines).encode()

    parsed = parse(content, extra_headers={}, structure_given=False)

    assert rows_of(parsed)[0].values == {
        "reference": "R1",
        "structure": "CSR",
        "last_name": "Dupont",
        "principal_amount": "10",
        "address_line2": "Bât. B",
    }


def test_semicolon_wins_over_commas_inside_values():
    content = (
        "reference;structure;nom;solde;adresse2\nR1;CSR;Dupont, Martin;10,50;Esc. 1, 2e étage, porte 3, code 1234\n"
    ).encode()

    parsed = parse(content, extra_headers={}, structure_given=False)

    assert rows_of(parsed)[0].values["address_line2"] == "Esc. 1, 2e étage, porte 3, code 1234"
    assert rows_of(parsed)[0].values["principal_amount"] == "10,50"


def test_comma_sample_with_quoted_fields():
    parsed = parse((DATA / "cpam-lot-virgule.csv").read_bytes(), extra_headers={}, structure_given=False)

    assert parsed.encoding == "utf-8-sig"
    second = rows_of(parsed)[1]
    assert second.values["address_line2"] == "Esc. 1, 8e étage"
    assert second.values["reference"] == "CPAM75-0000002"


def test_windows_1252_sample_is_decoded():
    parsed = parse((DATA / "cpam-lot-anomalies.csv").read_bytes(), extra_headers={}, structure_given=False)

    assert parsed.encoding == "windows-1252"
    assert rows_of(parsed)[0].values["first_name"] == "François"


def test_utf8_is_preferred_when_valid():
    parsed = parse(
        "reference;structure;nom;solde\nR1;CSR;Bénard;10\n".encode(), extra_headers={}, structure_given=False
    )

    assert parsed.encoding == "utf-8"
    assert rows_of(parsed)[0].values["last_name"] == "Bénard"


def test_bom_followed_by_windows_1252_is_read_as_windows_1252(reference, gnupg_home, media):
    content = b"\xef\xbb\xbf" + "reference;structure;nom;solde\nR1;CSR;Hervé;10,00\n".encode("cp1252")

    outcome = batch_import(
        creditor=reference.cpam, content=content, filename="lot.csv", source=BatchSource.COMMAND, actor=None
    )

    assert outcome.status == "accepted", outcome.error
    assert outcome.batch.encoding == "windows-1252"
    assert Case.objects.get(reference="R1").debtor.last_name == "Hervé"


# --- the creditor's own column names -------------------------------------------------------------------


OWN_WORDING = "N° de créance;Centre;Débiteur;Somme à recouvrer\nR1;CSR;Dupont;10,00\nR2;CDOP;Martin;20,00\n"


def test_extra_headers_map_the_creditor_wording():
    with pytest.raises(ApplicationError):
        parse(OWN_WORDING.encode(), extra_headers={}, structure_given=False)

    parsed = parse(
        OWN_WORDING.encode(),
        extra_headers={"N° de créance": "reference", "Débiteur": "last_name", "somme a recouvrer": "principal_amount"},
        structure_given=False,
    )

    assert parsed.layout.positions == {"reference": 0, "structure": 1, "last_name": 2, "principal_amount": 3}
    assert rows_of(parsed)[1].values["last_name"] == "Martin"


def test_column_mapping_of_the_creditor_is_used_by_the_import(reference, gnupg_home, media):
    refused = batch_import(
        creditor=reference.cpam, content=OWN_WORDING.encode(), filename="a.csv", source=BatchSource.COMMAND, actor=None
    )
    assert refused.status == "refused"
    assert "Ligne d'en-tête introuvable" in refused.error  # only « Centre » is known without the mapping

    for header, column in [
        ("N° de créance", "reference"),
        ("Débiteur", "last_name"),
        ("Somme à recouvrer", "principal_amount"),
    ]:
        ColumnMapping.objects.create(creditor=reference.cpam, header=header, column=column)

    outcome = batch_import(
        creditor=reference.cpam, content=OWN_WORDING.encode(), filename="b.csv", source=BatchSource.COMMAND, actor=None
    )

    assert outcome.status == "accepted", outcome.error
    assert outcome.accepted == 2
    assert dict(Case.objects.values_list("reference", "debtor__last_name")) == {"R1": "Dupont", "R2": "Martin"}
    assert Case.objects.get(reference="R2").principal_amount == Decimal("20.00")


def test_column_mapping_of_another_creditor_is_not_used(reference, gnupg_home, media):
    for header, column in [
        ("N° de créance", "reference"),
        ("Débiteur", "last_name"),
        ("Somme à recouvrer", "principal_amount"),
    ]:
        ColumnMapping.objects.create(creditor=reference.other, header=header, column=column)

    outcome = batch_import(
        creditor=reference.cpam, content=OWN_WORDING.encode(), filename="a.csv", source=BatchSource.COMMAND, actor=None
    )

    assert outcome.status == "refused"
    assert Case.objects.count() == 0


def test_column_mappings_saved_under_the_former_french_names_are_renamed(reference):
    """Mappings recorded before the fields had English names ("nom", "solde") keep working."""
    from django.apps import apps

    migration = importlib.import_module("amiable.intake.migrations.0003_column_mapping_field_names")
    ColumnMapping.objects.create(creditor=reference.cpam, header="Débiteur", column="nom")
    ColumnMapping.objects.create(creditor=reference.cpam, header="Somme à recouvrer", column="solde")
    ColumnMapping.objects.create(creditor=reference.cpam, header="N° de créance", column="reference")

    migration.forwards(apps, None)

    assert dict(ColumnMapping.objects.values_list("header", "column")) == {
        "Débiteur": "last_name",
        "Somme à recouvrer": "principal_amount",
        "N° de créance": "reference",
    }
    assert set(migration.RENAMED.values()) | {"reference", "structure", "email"} == set(COLUMNS)


def test_column_mappings_are_listed_in_french_in_the_administration(client, reference, users):
    ColumnMapping.objects.create(creditor=reference.cpam, header="Somme à recouvrer", column="principal_amount")
    client.force_login(users.agency_admin)

    html = client.get("/admin/intake/columnmapping/").content.decode()

    assert "Somme à recouvrer" in html
    assert ">solde<" in html
    assert "principal_amount" not in html
