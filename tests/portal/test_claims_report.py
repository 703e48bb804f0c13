"""The claims report (état des créances, C40) as XLSX: one row per case the user may see, never another
creditor's; formula injection neutralised; the export is written to the access log."""

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from amiable.audit.models import AccessLogEntry
from amiable.cases.services import case_transition, comment_add
from amiable.reporting.claims import HEADER
from tests.factories import make_case

URL = "/etat-des-creances.xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def cases(reference):
    return type(
        "Cases",
        (),
        {
            "csr_b": make_case(structure=reference.csr, reference="CSR-B", principal="200.00"),
            "csr_a": make_case(structure=reference.csr, reference="CSR-A", last_name="Martin", first_name="=1+1"),
            "cdop": make_case(structure=reference.cdop, reference="CDOP-1", principal="75.25"),
            "cesa": make_case(structure=reference.cesa, reference="CESA-1"),
            "other": make_case(structure=reference.other_structure, reference="AUTRE-1", last_name="Autre"),
        },
    )


def download(client, user, query: str = ""):
    client.force_login(user)
    return client.get(URL + query)


def read(response) -> tuple[list, list, list[list]]:
    """(title row, header row, data rows) of the only sheet."""
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["État des créances"]
    rows = [list(r) for r in workbook.active.iter_rows(values_only=True)]
    return rows[0], rows[1], rows[2:]


def references(rows) -> list[str]:
    return [row[0] for row in rows]


def test_creditor_collaborator_gets_every_case_of_their_creditor(client, reference, users, cases):
    response = download(client, users.collaborator)

    title, header, rows = read(response)
    today = timezone.localdate()
    assert title[0] == f"État des créances — {reference.cpam.name} — {today:%d/%m/%Y}"
    assert header == HEADER
    assert len(header) == 12
    assert references(rows) == ["CDOP-1", "CESA-1", "CSR-A", "CSR-B"]
    assert all(len(row) == len(HEADER) for row in rows)
    assert "AUTRE-1" not in str(rows)
    assert response["Content-Disposition"] == (
        f'attachment; filename="etat-des-creances-{reference.cpam.slug}-{today:%Y-%m-%d}.xlsx"'
    )


def test_row_contents(client, users, cases):
    _, header, rows = read(download(client, users.approver))

    row = dict(zip(header, rows[0], strict=True))  # CDOP-1
    assert row["Référence"] == "CDOP-1"
    assert row["Structure"] == "CDOP"
    assert row["Civilité"] == "Mme"
    assert row["Nom"] == "Dupont"
    assert row["Prénom"] == "Marie"
    assert row["Reçu le"].date() == date(2026, 11, 2)  # a serial date: openpyxl reads a naive datetime
    assert Decimal(str(row["Montant réclamé"])) == Decimal("75.25")
    assert row["Montant recouvré"] == 0
    assert Decimal(str(row["Reste dû"])) == Decimal("75.25")
    assert row["Statut"] == "Nouveau"
    assert row["Dernière action"] == "Dossier reçu"
    assert isinstance(row["Date de la dernière action"], datetime)


def test_status_and_last_action_follow_the_case(client, users, cases):
    case_transition(case=cases.cesa, to="in_progress", actor=users.agent, reason="Premier appel")

    _, header, rows = read(download(client, users.collaborator))

    row = dict(zip(header, rows[1], strict=True))
    assert row["Référence"] == "CESA-1"
    assert row["Statut"] == "En cours"
    assert row["Dernière action"] == "Changement de statut"


def test_formula_in_a_debtor_name_is_neutralised(client, users, cases):
    _, header, rows = read(download(client, users.collaborator))

    row = dict(zip(header, rows[2], strict=True))
    assert row["Référence"] == "CSR-A"
    assert row["Nom"] == "Martin"
    assert row["Prénom"] == "'=1+1"
    workbook = load_workbook(io.BytesIO(download(client, users.collaborator).content))
    cell = workbook.active["E5"]
    assert cell.value == "'=1+1"
    assert cell.data_type == "s"  # text, not a formula


def test_structure_limited_user_gets_only_their_structure(client, users, cases):
    _, _, rows = read(download(client, users.csr_only))

    assert references(rows) == ["CSR-A", "CSR-B"]


def test_export_is_written_to_the_access_log(client, reference, users, cases):
    download(client, users.collaborator)

    entry = AccessLogEntry.objects.get()
    assert entry.kind == "export"
    assert entry.user == users.collaborator
    assert entry.user_label == users.collaborator.email
    assert entry.creditor_pk == reference.cpam.pk
    assert entry.label == "État des créances cpam-paris"
    assert entry.ip_address == "127.0.0.1"
    assert entry.case_pk is None


def test_agency_staff_must_choose_the_creditor(client, reference, users, cases):
    assert download(client, users.agent).status_code == 404
    assert download(client, users.agent, "?creditor=").status_code == 404
    assert download(client, users.agent, "?creditor=999999").status_code == 404

    _, _, rows = read(download(client, users.agent, f"?creditor={reference.cpam.pk}"))
    assert references(rows) == ["CDOP-1", "CESA-1", "CSR-A", "CSR-B"]
    title, _, rows = read(download(client, users.supervisor, f"?creditor={reference.other.pk}"))
    assert references(rows) == ["AUTRE-1"]
    assert title[0].startswith("État des créances — Autre créancier — ")
    # Agency exports are logged too, under the creditor whose data they hold (L11).
    logged = AccessLogEntry.objects.order_by("pk").values_list("user", "kind", "creditor_pk", "label")
    assert list(logged) == [
        (users.agent.pk, "export", reference.cpam.pk, "État des créances cpam-paris"),
        (users.supervisor.pk, "export", reference.other.pk, "État des créances autre-creancier"),
    ]


def test_agency_with_a_malformed_creditor_gets_404(client, users, cases):
    assert download(client, users.agent, "?creditor=cpam").status_code == 404


def test_other_creditor_never_gets_cpam_rows(client, reference, users, cases):
    for query in ("", f"?creditor={reference.cpam.pk}"):
        title, _, rows = read(download(client, users.other_admin, query))
        assert references(rows) == ["AUTRE-1"]
        assert reference.cpam.name not in title[0]
    assert {e.creditor_pk for e in AccessLogEntry.objects.all()} == {reference.other.pk}


def test_empty_report_has_the_header_only(client, users):
    _, header, rows = read(download(client, users.collaborator))

    assert header == HEADER
    assert rows == []


def test_anonymous_is_sent_to_login(client, cases):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/connexion/")
    assert not AccessLogEntry.objects.exists()


def test_report_link_on_the_creditor_home(client, users):
    client.force_login(users.collaborator)

    assert f'href="{URL}"' in client.get("/").content.decode()


def test_report_does_not_reveal_agency_internal_notes(client, users, cases):
    comment_add(case=cases.cdop, author=users.agent, body="Note interne", internal=True)

    _, header, rows = read(download(client, users.collaborator))

    row = dict(zip(header, rows[0], strict=True))
    assert row["Référence"] == "CDOP-1"
    assert row["Dernière action"] != "comment.internal_added"
