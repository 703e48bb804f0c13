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
from amiable.payments.models import Payment
from amiable.payments.services import payment_record, payment_reverse
from amiable.reporting.claims import HEADER, MONEY_COLUMNS
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


def read_all(response) -> tuple[list, list, list[list], list | None]:
    """(title row, header row, data rows, totals row or None) of the only sheet; the totals come after an
    empty row."""
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["État des créances"]
    rows = [list(r) for r in workbook.active.iter_rows(values_only=True)]
    data, totals = rows[2:], None
    if data and data[-1][0] and str(data[-1][0]).startswith("Total"):
        assert all(value is None for value in data[-2])  # the empty row between data and totals
        data, totals = data[:-2], data[-1]
    return rows[0], rows[1], data, totals


def read(response) -> tuple[list, list, list[list]]:
    """(title row, header row, data rows) of the only sheet."""
    title, header, data, _totals = read_all(response)
    return title, header, data


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


# --- amounts recovered and remaining, totals -------------------------------------------------------------


def _pay(case, amount: str, users):
    payment_record(case=case, amount=amount, collected_on=date(2026, 11, 10), method="transfer", actor=users.agent)


def test_recovered_and_remaining_follow_the_payments(client, users, cases):
    _pay(cases.csr_b, "40.00", users)  # 200,00 € claimed
    _pay(cases.cdop, "80.00", users)  # 75,25 € claimed: 4,75 € owed back to the debtor, not recovered
    _pay(cases.csr_a, "50.00", users)
    payment_reverse(
        payment=Payment.objects.get(case=cases.csr_a),
        reversed_on=date(2026, 11, 12),
        reason="Chèque impayé",
        actor=users.agent,
    )

    _, header, rows, totals = read_all(download(client, users.collaborator))

    by_ref = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    amounts = {
        ref: tuple(Decimal(str(row[c])) for c in ("Montant réclamé", "Montant recouvré", "Reste dû"))
        for ref, row in by_ref.items()
    }
    assert amounts == {
        "CDOP-1": (Decimal("75.25"), Decimal("75.25"), Decimal("0")),
        "CESA-1": (Decimal("120.50"), Decimal("0"), Decimal("120.50")),
        "CSR-A": (Decimal("120.50"), Decimal("0"), Decimal("120.50")),  # the bounced cheque restored it
        "CSR-B": (Decimal("200.00"), Decimal("40.00"), Decimal("160.00")),
    }
    assert by_ref["CDOP-1"]["Statut"] == "Soldé"
    assert totals[0] == "Total (4 dossiers)"
    total = dict(zip(header, totals, strict=True))
    assert Decimal(str(total["Montant réclamé"])) == Decimal("516.25")
    assert Decimal(str(total["Montant recouvré"])) == Decimal("115.25")
    assert Decimal(str(total["Reste dû"])) == Decimal("401.00")
    assert all(total[c] is None for c in header if c not in {"Référence", *MONEY_COLUMNS})


def test_totals_are_the_visible_cases_only_and_in_bold_money(client, users, cases):
    _pay(cases.csr_b, "40.00", users)
    _pay(cases.cdop, "10.00", users)

    response = download(client, users.csr_only)
    _, header, rows, totals = read_all(response)

    assert references(rows) == ["CSR-A", "CSR-B"]
    total = dict(zip(header, totals, strict=True))
    assert totals[0] == "Total (2 dossiers)"
    assert Decimal(str(total["Montant recouvré"])) == Decimal("40.00")
    assert Decimal(str(total["Reste dû"])) == Decimal("280.50")
    sheet = load_workbook(io.BytesIO(response.content)).active
    cell = sheet.cell(row=sheet.max_row, column=header.index("Reste dû") + 1)
    assert cell.font.b and cell.number_format == '#,##0.00 "€"'
    assert sheet.auto_filter.ref == f"A2:L{2 + len(rows)}"  # sorting the rows leaves the totals out


def test_report_queries_do_not_grow_with_cases_or_payments(
    client, reference, users, cases, django_assert_max_num_queries
):
    client.force_login(users.collaborator)
    assert client.get(URL).status_code == 200
    with django_assert_max_num_queries(12) as few:
        client.get(URL)
    for n in range(10):
        _pay(make_case(structure=reference.csr, reference=f"VOL-{n}"), f"{n + 1}.00", users)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(URL)
