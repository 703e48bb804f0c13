"""The real case list: filters (agent, age, balance, due today, open cases), sort on every column with its
« prochaine action », « Mes dossiers » by default for an agent, bulk and case-page assignment, and the CSV /
XLSX export of the filtered list."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from amiable.accounts.models import User
from amiable.audit.models import AccessLogEntry, AuditEvent
from amiable.cases.models import Case
from amiable.cases.selectors import CASE_COLUMNS, CASE_SORTS, case_list
from amiable.cases.services import task_close, task_open
from amiable.core.dates import add_months
from tests.factories import make_case, make_user, pay_in_full

CASE_LINK = re.compile(r'href="/dossiers/(\d+)/"')
TODAY = timezone.localdate()


def pks(response) -> list[int]:
    return [int(pk) for pk in CASE_LINK.findall(response.content.decode())]


def refs(qs) -> set[str]:
    return {c.reference for c in qs}


@pytest.fixture
def board(reference, users):
    """Five CPAM cases of various ages, balances, agents and tasks, and one of another creditor."""
    colleague = make_user("agent")
    User.objects.filter(pk=colleague.pk).update(first_name="Zoé", last_name="Zola")
    colleague.refresh_from_db()
    young = make_case(
        structure=reference.csr,
        reference="R-JEUNE",
        principal="50.00",
        last_name="Abel",
        received_on=TODAY - timedelta(days=10),
        assigned_agent=users.agent,
    )
    four = make_case(
        structure=reference.cdop,
        reference="R-QUATRE",
        principal="250.00",
        last_name="Bruno",
        received_on=add_months(TODAY, -4),
        assigned_agent=colleague,
    )
    nine = make_case(
        structure=reference.cesa,
        reference="R-NEUF",
        principal="800.00",
        last_name="Carle",
        received_on=add_months(TODAY, -9),
    )
    old = make_case(
        structure=reference.csr,
        reference="R-VIEUX",
        principal="3000.00",
        last_name="Dumas",
        received_on=add_months(TODAY, -13),
    )
    paid = make_case(
        structure=reference.cdop,
        reference="R-SOLDE",
        principal="100.00",
        last_name="Emile",
        received_on=add_months(TODAY, -2),
    )
    pay_in_full(paid)
    other = make_case(structure=reference.other_structure, reference="R-AUTRE", last_name="Fabre")
    # Tasks: overdue on « quatre », later on « neuf » (and a closed, earlier one that must not count), today on
    # « jeune », none on the others.
    task_open(case=four, kind="call", reason="Appeler", due_on=TODAY - timedelta(days=3))
    task_open(case=four, kind="review", reason="Revoir", due_on=TODAY + timedelta(days=20))
    task_open(case=nine, kind="review", reason="Revoir", due_on=TODAY + timedelta(days=5))
    done, _ = task_open(case=nine, kind="call", reason="Appeler", due_on=TODAY - timedelta(days=30))
    task_close(task=done, actor=users.agent)
    task_open(case=young, kind="callback", reason="Rappeler", due_on=TODAY)
    return type(
        "Board",
        (),
        {"young": young, "four": four, "nine": nine, "old": old, "paid": paid, "other": other, "colleague": colleague},
    )


# --- selectors -----------------------------------------------------------------------------------------


def test_next_action_is_the_earliest_due_date_of_the_open_tasks(board, users):
    listed = {c.reference: c for c in case_list(user=users.supervisor)}
    assert listed["R-QUATRE"].next_action_on == TODAY - timedelta(days=3)
    assert listed["R-QUATRE"].next_action_kind == "call"
    assert listed["R-NEUF"].next_action_on == TODAY + timedelta(days=5)  # the closed task does not count
    assert listed["R-JEUNE"].next_action_on == TODAY
    assert listed["R-VIEUX"].next_action_on is None


def test_filters_by_agent_and_unassigned(board, users):
    assert refs(case_list(user=users.supervisor, agent_id=users.agent.pk)) == {"R-JEUNE"}
    assert refs(case_list(user=users.supervisor, agent_id=board.colleague.pk)) == {"R-QUATRE"}
    assert refs(case_list(user=users.supervisor, unassigned=True)) == {"R-NEUF", "R-VIEUX", "R-SOLDE", "R-AUTRE"}
    assert refs(case_list(user=users.supervisor, unassigned=True, status="ouverts")) == {
        "R-NEUF",
        "R-VIEUX",
        "R-AUTRE",
    }


@pytest.mark.parametrize(
    ("band", "expected"),
    [
        ("moins-3-mois", {"R-JEUNE", "R-SOLDE", "R-AUTRE"}),
        ("3-6-mois", {"R-QUATRE"}),
        ("6-12-mois", {"R-NEUF"}),
        ("plus-12-mois", {"R-VIEUX"}),
        ("n'importe quoi", {"R-JEUNE", "R-QUATRE", "R-NEUF", "R-VIEUX", "R-SOLDE", "R-AUTRE"}),
    ],
)
def test_filters_by_age_band(board, users, band, expected):
    assert refs(case_list(user=users.supervisor, age_band=band)) == expected


def test_age_band_limits_are_whole_months(board, users):
    exactly_three = make_case(structure=board.young.structure, reference="R-TROIS", received_on=add_months(TODAY, -3))
    assert exactly_three in case_list(user=users.supervisor, age_band="3-6-mois")
    assert exactly_three not in case_list(user=users.supervisor, age_band="moins-3-mois")


@pytest.mark.parametrize(
    ("band", "expected"),
    [
        ("moins-100", {"R-JEUNE", "R-SOLDE"}),  # a paid case has nothing left due
        ("100-500", {"R-QUATRE", "R-AUTRE"}),
        ("500-2000", {"R-NEUF"}),
        ("plus-2000", {"R-VIEUX"}),
    ],
)
def test_filters_by_balance_band(board, users, band, expected):
    assert refs(case_list(user=users.supervisor, balance_band=band)) == expected


def test_filters_what_is_due_today(board, users):
    assert refs(case_list(user=users.supervisor, due_today=True)) == {"R-JEUNE", "R-QUATRE"}
    task_open(case=board.old, kind="review", reason="Sans date", due_on=None)
    assert refs(case_list(user=users.supervisor, due_today=True)) == {"R-JEUNE", "R-QUATRE", "R-VIEUX"}


ORDER_KEYS = {
    "reference": lambda c: c.reference,
    "debiteur": lambda c: c.debtor.last_name,
    "structure": lambda c: c.structure.code,
    "recu": lambda c: c.received_on,
    "solde": lambda c: c.balance,
}


@pytest.mark.parametrize("column", sorted(CASE_COLUMNS))
def test_every_column_sorts_both_ways(board, users, column):
    ascending, descending = CASE_COLUMNS[column]
    up = list(case_list(user=users.supervisor, sort=ascending))
    down = list(case_list(user=users.supervisor, sort=descending))
    assert len(up) == 6
    assert CASE_SORTS[ascending][-1] == "pk" and CASE_SORTS[descending][-1] == "-pk"
    if column in ORDER_KEYS:
        assert [ORDER_KEYS[column](c) for c in up] == sorted(ORDER_KEYS[column](c) for c in up)
        assert [ORDER_KEYS[column](c) for c in down] == sorted((ORDER_KEYS[column](c) for c in up), reverse=True)
    elif column == "action":  # cases without a dated open task come last either way
        assert [c.reference for c in up][:3] == ["R-QUATRE", "R-JEUNE", "R-NEUF"]
        assert [c.reference for c in down][:3] == ["R-NEUF", "R-JEUNE", "R-QUATRE"]
        assert {c.reference for c in up[3:]} == {c.reference for c in down[3:]} == {"R-VIEUX", "R-SOLDE", "R-AUTRE"}
    elif column == "gestionnaire":  # « Nom<n> » before « Zola »; unassigned last either way
        assert [c.reference for c in up][:2] == ["R-JEUNE", "R-QUATRE"]
        assert [c.reference for c in down][:2] == ["R-QUATRE", "R-JEUNE"]
    elif column == "statut":  # the life of a case: new before paid
        assert up[-1].reference == "R-SOLDE"
        assert down[0].reference == "R-SOLDE"


# --- the page ------------------------------------------------------------------------------------------


def test_an_agent_sees_their_own_cases_by_default_and_may_widen(client, board, users):
    client.force_login(users.agent)
    response = client.get("/dossiers/")
    assert pks(response) == [board.young.pk]
    html = response.content.decode()
    assert '<option value="moi" selected>Mes dossiers</option>' in html
    assert "Voir tous les dossiers" in html
    assert len(pks(client.get("/dossiers/?agent="))) == 6
    # A search spans every case the agent may see (the search form sends only the query).
    assert pks(client.get("/dossiers/?q=R-VIEUX")) == [board.old.pk]
    # The agent's home links to their own cases.
    assert 'href="/dossiers/?agent=moi"' in client.get("/").content.decode()


def test_a_supervisor_sees_every_case_by_default(client, board, users):
    client.force_login(users.supervisor)
    assert len(pks(client.get("/dossiers/"))) == 6


def test_the_unassigned_banner_opens_the_open_unassigned_cases(client, board, users):
    client.force_login(users.supervisor)
    home = client.get("/").content.decode()
    link = re.search(r'<a href="([^"]+)">(\d+) dossiers ouverts sans gestionnaire\.</a>', home)
    assert link is not None and link.group(2) == "3"
    listed = client.get(link.group(1).replace("&amp;", "&"))
    assert set(pks(listed)) == {board.nine.pk, board.old.pk, board.other.pk}


def test_headers_sort_with_aria_sort_and_keep_the_filters(client, board, users):
    client.force_login(users.supervisor)
    html = client.get("/dossiers/?status=new&sort=solde&page=1").content.decode()
    header = re.search(r'<th scope="col" class="num" aria-sort="ascending"><a href="([^"]+)"', html)
    assert header is not None
    assert header.group(1).replace("&amp;", "&") == "?status=new&sort=montant"  # the other direction, page 1
    assert html.count("aria-sort=") == 1
    down = client.get("/dossiers/?status=new&sort=montant")
    assert pks(down) == [board.old.pk, board.nine.pk, board.four.pk, board.other.pk, board.young.pk]
    assert 'aria-sort="descending"' in down.content.decode()


def test_filters_live_in_the_address_and_pagination_keeps_them(client, reference, users):
    for n in range(30):
        make_case(structure=reference.csr, reference=f"P-{n:02d}", principal="150.00")
    client.force_login(users.supervisor)
    html = client.get("/dossiers/?agent=aucun&solde=100-500&sort=reference").content.decode()
    assert "30 dossiers trouvés." in html
    assert 'href="?agent=aucun&amp;solde=100-500&amp;sort=reference&amp;page=2"' in html
    second = client.get("/dossiers/?agent=aucun&solde=100-500&sort=reference&page=2")
    assert len(pks(second)) == 5


def test_the_list_shows_the_next_action_and_the_agent(client, board, users):
    client.force_login(users.supervisor)
    html = client.get("/dossiers/?sort=reference").content.decode()
    row = html[html.index("R-QUATRE</a>") :]
    row = row[: row.index("</tr>")]
    assert f"{(TODAY - timedelta(days=3)):%d/%m/%Y} <strong>(en retard)</strong>" in row
    assert "Appel à passer" in row
    assert str(board.colleague) in row
    old = html[html.index("R-VIEUX</a>") :]
    assert "Non attribué" in old[: old.index("</tr>")]


def test_creditor_users_see_neither_agents_nor_tasks_nor_the_bulk_form(client, board, users):
    client.force_login(users.collaborator)
    response = client.get("/dossiers/")
    html = response.content.decode()
    assert len(pks(response)) == 5
    assert "Gestionnaire" not in html
    assert "Prochaine action" not in html
    assert 'name="cases"' not in html
    assert "export" not in html
    assert client.get("/dossiers/?agent=aucun&a_traiter=on").status_code == 200


# --- assignment -----------------------------------------------------------------------------------------


def test_a_supervisor_assigns_ticked_cases_in_bulk_and_returns_to_the_same_list(client, board, users):
    client.force_login(users.supervisor)
    html = client.get("/dossiers/?agent=aucun&status=ouverts").content.decode()
    assert 'name="cases"' in html and 'id="attribution"' in html
    response = client.post(
        "/travail/dossiers/attribuer/",
        {
            "cases": [board.nine.pk, board.old.pk],
            "agent": board.colleague.pk,
            "retour": "agent=aucun&status=ouverts&page=1",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/dossiers/?agent=aucun&status=ouverts&page=1"
    assert f"2 dossiers attribués à {board.colleague}." in response.content.decode()
    assert set(pks(response)) == {board.other.pk}
    assert set(Case.objects.filter(assigned_agent=board.colleague).values_list("reference", flat=True)) == {
        "R-QUATRE",
        "R-NEUF",
        "R-VIEUX",
    }
    assert AuditEvent.objects.filter(verb="case.assigned", actor=users.supervisor).count() == 2


def test_bulk_assignment_never_redirects_elsewhere_and_says_what_is_missing(client, board, users):
    client.force_login(users.supervisor)
    response = client.post(
        "/travail/dossiers/attribuer/", {"agent": board.colleague.pk, "retour": "https://ailleurs.example/"}
    )
    assert response.url.startswith("/dossiers/")
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Dossiers : Sélectionnez au moins un dossier."]


@pytest.mark.parametrize("role", ["agent", "collaborator", "creditor_admin"])
def test_only_supervisors_assign_in_bulk(client, board, users, role):
    client.force_login(getattr(users, role))
    response = client.post("/travail/dossiers/attribuer/", {"cases": [board.nine.pk], "agent": users.agent.pk})
    assert response.status_code == 403
    assert Case.objects.get(pk=board.nine.pk).assigned_agent is None


def test_a_supervisor_reassigns_from_the_case_page(client, board, users):
    client.force_login(users.supervisor)
    html = client.get(f"/dossiers/{board.young.pk}/").content.decode()
    assert "Réattribuer à" in html
    response = client.post(f"/travail/dossiers/{board.young.pk}/attribuer/", {"agent": board.colleague.pk}, follow=True)
    assert f"Dossier R-JEUNE attribué à {board.colleague}." in response.content.decode()
    assert Case.objects.get(pk=board.young.pk).assigned_agent == board.colleague


def test_an_agent_takes_an_unassigned_case_but_not_a_colleagues(client, board, users):
    client.force_login(users.agent)
    assert "Prendre ce dossier" in client.get(f"/dossiers/{board.nine.pk}/").content.decode()
    assert "Prendre ce dossier" not in client.get(f"/dossiers/{board.four.pk}/").content.decode()
    response = client.post(f"/travail/dossiers/{board.nine.pk}/attribuer/", follow=True)
    assert "Vous suivez désormais le dossier R-NEUF." in response.content.decode()
    assert Case.objects.get(pk=board.nine.pk).assigned_agent == users.agent
    # Naming another agent changes nothing: an agent only takes for themselves, and not a colleague's case.
    response = client.post(f"/travail/dossiers/{board.four.pk}/attribuer/", {"agent": users.agent.pk}, follow=True)
    assert f"est suivi par {board.colleague}" in response.content.decode()
    assert Case.objects.get(pk=board.four.pk).assigned_agent == board.colleague
    # An ended case cannot be taken.
    response = client.post(f"/travail/dossiers/{board.paid.pk}/attribuer/", follow=True)
    assert "il ne peut plus être pris" in response.content.decode()


def test_creditor_users_cannot_assign_from_the_case_page(client, board, users):
    client.force_login(users.creditor_admin)
    assert client.post(f"/travail/dossiers/{board.nine.pk}/attribuer/", {"agent": users.agent.pk}).status_code == 403
    client.force_login(users.other_admin)
    assert client.post(f"/travail/dossiers/{board.nine.pk}/attribuer/", {"agent": users.agent.pk}).status_code == 404
    assert Case.objects.get(pk=board.nine.pk).assigned_agent is None


# --- export ---------------------------------------------------------------------------------------------


def test_csv_export_holds_the_filtered_list_neutralised_and_is_logged(client, board, users):
    make_case(structure=board.old.structure, reference="=HYPERLINK(1)", principal="900.00")
    client.force_login(users.supervisor)
    response = client.get("/dossiers/export.csv?agent=aucun&status=ouverts&sort=reference")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:3] == ["Référence", "Créancier", "Structure"]
    # =HYPERLINK… is text, never a formula: the apostrophe keeps a spreadsheet from running it.
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(1)", "R-AUTRE", "R-NEUF", "R-VIEUX"]
    neuf = rows[3]
    assert neuf[4] == board.nine.received_on.strftime("%d/%m/%Y")
    assert neuf[7] == "800,00"
    assert neuf[9] == (TODAY + timedelta(days=5)).strftime("%d/%m/%Y")
    assert neuf[10] == "Revue du dossier"
    assert neuf[11] == "Non attribué"
    entry = AccessLogEntry.objects.get(user=users.supervisor, kind="export")
    assert entry.label == "Liste des dossiers (4 dossiers, CSV)"


def test_xlsx_export_for_an_agent_defaults_to_their_cases(client, board, users):
    client.force_login(users.agent)
    html = client.get("/dossiers/").content.decode()
    assert 'href="/dossiers/export.xlsx?agent=moi"' in html
    response = client.get("/dossiers/export.xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]
    values = [row for row in sheet.iter_rows(min_row=3, values_only=True) if row[0]]
    assert [row[0] for row in values] == ["R-JEUNE"]
    assert values[0][7] == Decimal("50") or values[0][7] == 50


@pytest.mark.parametrize("role", ["collaborator", "creditor_admin", "other_admin"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_creditor_users_cannot_export_the_list(client, board, users, role, fmt):
    client.force_login(getattr(users, role))
    assert client.get(f"/dossiers/export.{fmt}").status_code == 403
    assert not AccessLogEntry.objects.filter(kind="export").exists()


def test_an_export_beyond_the_cap_is_refused_with_a_message(client, board, users, monkeypatch):
    from amiable.web import views

    monkeypatch.setattr(views, "EXPORT_MAX_ROWS", 3)
    client.force_login(users.supervisor)
    response = client.get("/dossiers/export.csv?status=new", follow=True)
    assert escape("L'export est limité à 3 dossiers ; la liste en compte 5 : affinez les filtres.") in (
        response.content.decode()
    )


# --- at scale -------------------------------------------------------------------------------------------


def _cases(reference, users, count: int, prefix: str) -> None:
    structures = [reference.csr, reference.cdop, reference.cesa]
    for n in range(count):
        case = make_case(
            structure=structures[n % 3],
            reference=f"{prefix}-{n:03d}",
            assigned_agent=users.agent if n % 2 else None,
        )
        if n % 3 == 0:
            task_open(case=case, kind="call", reason="Appeler", due_on=TODAY + timedelta(days=n))


@pytest.mark.parametrize("role", ["agent", "supervisor"])
@pytest.mark.parametrize(
    "url", ["/dossiers/", "/dossiers/?agent=&sort=-action", "/dossiers/?a_traiter=on&sort=gestionnaire"]
)
def test_list_query_count_is_the_same_for_5_and_50_cases(
    client, reference, users, role, url, django_assert_max_num_queries
):
    client.force_login(getattr(users, role))
    _cases(reference, users, 5, "PEU")
    client.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(url).status_code == 200
        return len(context.captured_queries)

    few = count()
    _cases(reference, users, 45, "BEAUCOUP")
    assert count() == few
    with django_assert_max_num_queries(24):  # + the agents of the filter, the totals, the page's counters
        client.get(url)
