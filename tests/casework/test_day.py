"""« Ma journée »: the agent's queue of what needs doing today on their cases (tasks due, broken promises,
the creditor's recent decisions, creditor messages not answered), its filters, the supervisors' view of
another agent and bulk reassignment; agency staff only; a number of queries that does not grow."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from amiable.approvals.models import ApprovalRequest
from amiable.approvals.services import approval_decide, approval_request
from amiable.audit.models import AuditEvent
from amiable.cases.models import Case, Task
from amiable.cases.services import comment_add
from amiable.contact.models import PromiseStatus, PromiseToPay
from tests.factories import make_case, make_user
from tests.web.test_views import assert_every_control_labelled, assert_no_inline_code, parse

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 10, 9, 0, tzinfo=PARIS)  # a Tuesday
TODAY = date(2026, 11, 10)
URL = "/travail/ma-journee/"
REASSIGN = "/travail/ma-journee/reassigner/"

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def other_agent(reference):
    return make_user("agent")


def task(case, kind, due_on):
    return Task.objects.create(case=case, kind=kind, reason=f"Motif {kind}", due_on=due_on)


@pytest.fixture
def world(reference, users, other_agent):
    """The agent's cases, each needing something, and what must not show on their day."""
    agent = users.agent
    mine = {
        name: make_case(structure=reference.csr, reference=f"JOUR-{name.upper()}", assigned_agent=agent)
        for name in ("task", "promise", "decision", "message", "answered", "later")
    }
    other_creditor = make_case(
        structure=reference.other_structure, reference="JOUR-AUTRE-CREANCIER", assigned_agent=agent
    )
    colleague = make_case(structure=reference.csr, reference="JOUR-COLLEGUE", assigned_agent=other_agent)

    task(mine["task"], "address_investigation", TODAY - timedelta(days=3))
    task(mine["task"], "call", TODAY)
    task(mine["later"], "review", TODAY + timedelta(days=1))  # not due yet
    task(other_creditor, "callback", TODAY)
    task(colleague, "call", TODAY - timedelta(days=1))
    PromiseToPay.objects.create(
        case=mine["promise"], amount=Decimal("25.00"), due_on=TODAY - timedelta(days=2), status=PromiseStatus.BROKEN
    )
    PromiseToPay.objects.create(  # broken long ago: dealt with since
        case=mine["later"], amount=Decimal("5.00"), due_on=TODAY - timedelta(days=90), status=PromiseStatus.BROKEN
    )
    PromiseToPay.objects.create(case=colleague, amount=Decimal("9.00"), due_on=TODAY, status=PromiseStatus.BROKEN)
    approval = approval_request(case=mine["decision"], kind="court_action", proposal="Assigner ?", actor=agent)
    approval_decide(approval=approval, accept=False, comment="REFUS-DU-CREANCIER", actor=users.approver)
    old = approval_request(case=mine["later"], kind="exchange", proposal="Ancienne", actor=agent)
    approval_decide(approval=old, accept=True, comment="ANCIENNE-DECISION", actor=users.approver)
    ApprovalRequest.objects.filter(pk=old.pk).update(decided_at=timezone.now() - timedelta(days=8))
    comment_add(case=mine["message"], author=users.collaborator, body="QUESTION-SANS-REPONSE")
    comment_add(case=mine["message"], author=agent, body="Note", internal=True)  # an internal note is no answer
    comment_add(case=mine["answered"], author=users.collaborator, body="QUESTION-TRAITEE")
    comment_add(case=mine["answered"], author=agent, body="Réponse")
    comment_add(case=colleague, author=users.collaborator, body="QUESTION-DU-COLLEGUE")
    return {**mine, "other_creditor": other_creditor, "colleague": colleague}


def page(client, user, url=URL) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_agent_sees_what_needs_doing_on_their_cases_only(client, users, world):
    html = page(client, users.agent)

    for shown in (
        "JOUR-TASK",
        "Recherche d&#x27;adresse",
        "Appel à passer",
        "JOUR-PROMISE",
        "JOUR-DECISION",
        "REFUS-DU-CREANCIER",
        "JOUR-MESSAGE",
        "QUESTION-SANS-REPONSE",
        "JOUR-AUTRE-CREANCIER",
    ):
        assert shown in html, shown
    for hidden in (
        "JOUR-LATER",
        "JOUR-ANSWERED",
        "QUESTION-TRAITEE",
        "ANCIENNE-DECISION",
        "JOUR-COLLEGUE",
        "QUESTION-DU-COLLEGUE",
    ):
        assert hidden not in html, hidden
    assert "Tâches à faire (3)" in html
    assert "Promesses de paiement non tenues (1)" in html
    assert "Décisions du créancier des 7 derniers jours (1)" in html
    assert "Messages du créancier sans réponse (1)" in html
    assert "6 éléments à traiter" in html
    assert "<h1>Ma journée</h1>" in html
    assert 'name="cases"' not in html  # an agent does not reassign


def test_filters_by_task_kind_and_creditor(client, users, world, reference):
    html = page(client, users.agent, f"{URL}?kind=call")
    assert "Tâches à faire (1)" in html
    assert "Appel à passer" in html
    assert "Motif address_investigation" not in html

    html = page(client, users.agent, f"{URL}?creditor={reference.other.pk}")
    assert "JOUR-AUTRE-CREANCIER" in html
    assert "Tâches à faire (1)" in html
    for hidden in ("JOUR-TASK", "JOUR-PROMISE", "JOUR-DECISION", "JOUR-MESSAGE"):
        assert hidden not in html


def test_a_closed_task_or_a_recalled_case_leaves_the_day(client, users, world):
    Task.objects.filter(case=world["task"], kind="call").update(status="done", closed_at=timezone.now())
    assert "Tâches à faire (2)" in page(client, users.agent)


def test_an_agent_may_not_look_at_a_colleagues_day(client, users, world, other_agent):
    client.force_login(users.agent)
    assert client.get(f"{URL}?agent={other_agent.pk}").status_code == 403


@pytest.mark.parametrize("role", ["supervisor", "agency_admin"])
def test_supervisors_pick_an_agent_and_see_their_day(client, users, world, role):
    own = page(client, getattr(users, role))
    assert "<h1>Ma journée</h1>" in own
    assert "JOUR-TASK" not in own

    html = page(client, getattr(users, role), f"{URL}?agent={users.agent.pk}")
    assert f"<h1>Journée de {users.agent.get_full_name()}</h1>" in html
    assert "JOUR-TASK" in html and "JOUR-MESSAGE" in html
    assert "JOUR-COLLEGUE" not in html
    assert f'name="cases" value="{world["task"].pk}"' in html
    assert_every_control_labelled(html)


def test_supervisor_reassigns_selected_cases_in_one_go(client, users, world, other_agent):
    client.force_login(users.supervisor)
    picked = [world["task"], world["promise"]]

    response = client.post(REASSIGN, {"cases": [c.pk for c in picked], "agent": other_agent.pk, "vue": users.agent.pk})

    assert response.status_code == 302
    assert response["Location"] == f"{URL}?agent={users.agent.pk}"
    assert flash(response) == [f"2 dossiers confiés à {other_agent.get_full_name()}."]
    for case in picked:
        case.refresh_from_db()
        assert case.assigned_agent == other_agent
    assert AuditEvent.objects.filter(verb="case.assigned", actor=users.supervisor).count() == 2
    assert Case.objects.get(pk=world["message"].pk).assigned_agent == users.agent
    # The cases moved to the colleague's day.
    assert "JOUR-TASK" in page(client, users.supervisor, f"{URL}?agent={other_agent.pk}")
    assert "JOUR-TASK" not in page(client, users.agent)


def test_reassignment_is_all_or_nothing(client, users, world, other_agent):
    client.force_login(users.supervisor)
    before = AuditEvent.objects.count()

    response = client.post(REASSIGN, {"cases": [world["task"].pk, 999999], "agent": other_agent.pk})

    assert flash(response) == ["Un des dossiers sélectionnés est introuvable."]
    assert Case.objects.get(pk=world["task"].pk).assigned_agent == users.agent
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"agent": "AGENT"}, "Dossiers : Sélectionnez au moins un dossier."),
        ({"cases": "CASE"}, "Confier à : Ce champ est obligatoire."),
        ({"cases": "CASE", "agent": "COLLABORATOR"}, "Confier à : Gestionnaire inconnu."),
        ({"cases": "x", "agent": "AGENT"}, "Dossiers : Dossier inconnu : x."),
    ],
)
def test_reassignment_form_errors_are_french(client, users, world, other_agent, data, message):
    values = {"AGENT": other_agent.pk, "CASE": world["task"].pk, "COLLABORATOR": users.collaborator.pk}
    client.force_login(users.supervisor)
    response = client.post(REASSIGN, {k: values.get(v, v) for k, v in data.items()})
    assert message in flash(response)
    assert Case.objects.get(pk=world["task"].pk).assigned_agent == users.agent


def test_an_agent_may_not_reassign(client, users, world, other_agent):
    client.force_login(users.agent)
    response = client.post(REASSIGN, {"cases": [world["task"].pk], "agent": other_agent.pk})
    assert response.status_code == 403
    assert Case.objects.get(pk=world["task"].pk).assigned_agent == users.agent


@pytest.mark.parametrize("who", ["collaborator", "approver", "creditor_admin", "csr_only", "other_admin"])
def test_creditor_users_have_no_day_and_no_link_to_it(client, users, world, who, other_agent):
    client.force_login(getattr(users, who))
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}?agent={users.agent.pk}").status_code == 403
    assert client.post(REASSIGN, {"cases": [world["task"].pk], "agent": other_agent.pk}).status_code == 403
    assert Case.objects.get(pk=world["task"].pk).assigned_agent == users.agent
    assert "Ma journée" not in client.get("/").content.decode()


def test_agency_staff_have_the_link_in_the_navigation(client, users):
    html = page(client, users.agent, "/")
    assert f'<a href="{URL}">Ma journée</a>' in html
    assert f'<a href="{URL}" aria-current="page">Ma journée</a>' in page(client, users.agent)


def test_page_is_accessible_and_has_no_inline_code(client, users, world):
    html = page(client, users.supervisor, f"{URL}?agent={users.agent.pk}")
    parsed = parse(html)
    assert parsed.count("h1") == 1
    assert parsed.first_index("main", id="contenu") is not None
    assert_no_inline_code(html)
    assert_every_control_labelled(page(client, users.agent))


# --- number of queries --------------------------------------------------------------------------


def _add_cases(reference, users, count: int, start: int) -> None:
    """Cases of the agent with a task due, a broken promise, a decision and a creditor question each."""
    for n in range(start, start + count):
        case = make_case(
            structure=[reference.csr, reference.cdop, reference.cesa][n % 3],
            reference=f"VOL-{n:04d}",
            assigned_agent=users.agent,
        )
        task(case, ["call", "callback", "address_investigation"][n % 3], TODAY - timedelta(days=n % 4))
        PromiseToPay.objects.create(
            case=case, amount=Decimal("3.00"), due_on=TODAY - timedelta(days=1), status=PromiseStatus.BROKEN
        )
        approval = approval_request(case=case, kind="exchange", proposal="?", actor=users.agent)
        approval_decide(approval=approval, accept=True, comment="", actor=users.approver)
        comment_add(case=case, author=users.collaborator, body=f"Question {n}")


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


@pytest.mark.parametrize(
    ("role", "url"),
    [("agent", URL), ("agent", f"{URL}?kind=call"), ("supervisor", "AGENT")],
)
def test_query_count_does_not_grow_with_data(client, reference, users, role, url, django_assert_max_num_queries):
    if url == "AGENT":
        url = f"{URL}?agent={users.agent.pk}"
    _add_cases(reference, users, 3, 0)
    client.force_login(getattr(users, role))
    client.get(url)  # warm-up
    few = _queries(client, url)

    _add_cases(reference, users, 27, 3)
    html = client.get(url).content.decode()
    assert "Tâches à faire (" in html and "VOL-0029" in html
    many = _queries(client, url)

    assert few == many
    with django_assert_max_num_queries(16):  # session, user, nav badge, filters, four sections (and agents)
        client.get(url)
