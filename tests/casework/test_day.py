"""« Ma journée »: one list of everything due on the agent's cases (tasks due, the creditor's requests with
their clocks, broken promises, the creditor's recent decisions, creditor messages not answered) sorted by due
time, its filters, the supervisors' view of another agent and of the work nobody holds, bulk reassignment;
agency staff only; a number of queries that does not grow."""

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
from amiable.casework.selectors import day_queue
from amiable.contact.models import PromiseStatus, PromiseToPay
from amiable.creditor_requests.models import CreditorRequest
from amiable.creditor_requests.services import request_create
from amiable.creditors.models import Creditor
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
        for name in ("task", "promise", "decision", "message", "answered", "later", "request")
    }
    other_creditor = make_case(
        structure=reference.other_structure, reference="JOUR-AUTRE-CREANCIER", assigned_agent=agent
    )
    colleague = make_case(structure=reference.csr, reference="JOUR-COLLEGUE", assigned_agent=other_agent)
    nobody = make_case(structure=reference.csr, reference="JOUR-SANS-AGENT", assigned_agent=None)
    Creditor.objects.filter(pk=reference.cpam.pk).update(referent=agent)  # the CPAM's meetings are the agent's

    task(mine["task"], "address_investigation", TODAY - timedelta(days=3))
    task(mine["task"], "call", TODAY)
    task(mine["later"], "review", TODAY + timedelta(days=1))  # not due yet
    task(other_creditor, "callback", TODAY)
    task(colleague, "call", TODAY - timedelta(days=1))
    task(nobody, "address_investigation", TODAY - timedelta(days=1))
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
    # The creditor's requests, with their clocks: a question (5 working days), a statement asked three days
    # ago and not sent (48 h: late), a meeting about no case (3 days: the referent's).
    request_create(kind="question", body="QUESTION-AVEC-DELAI", actor=users.collaborator, case=mine["request"])
    CreditorRequest.objects.create(
        creditor=reference.cpam,
        case=mine["task"],
        kind="statement",
        body="DECOMPTE-EN-RETARD",
        asked_by=users.collaborator,
        asked_at=timezone.now() - timedelta(days=3),
        due_at=timezone.now() - timedelta(days=1),
    )
    request_create(kind="meeting", body="REUNION-DEMANDEE", actor=users.collaborator)
    request_create(kind="question", body="QUESTION-COLLEGUE", actor=users.collaborator, case=colleague)
    request_create(kind="question", body="QUESTION-SANS-AGENT", actor=users.collaborator, case=nobody)
    request_create(kind="meeting", body="REUNION-SANS-REFERENT", actor=users.other_admin)
    return {**mine, "other_creditor": other_creditor, "colleague": colleague, "nobody": nobody}


def page(client, user, url=URL) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def listed(queue) -> list[tuple[str, str | None]]:
    return [(item.kind, item.case.reference if item.case else item.detail) for item in queue.items]


MY_DAY = [
    ("tache", "JOUR-TASK"),  # due three days ago
    ("promesse", "JOUR-PROMISE"),  # promised for two days ago
    ("demande", "JOUR-TASK"),  # the statement, due yesterday morning
    ("decision", "JOUR-DECISION"),  # today's: the decision, the message, the tasks
    ("message", "JOUR-MESSAGE"),
    ("tache", "JOUR-TASK"),
    ("tache", "JOUR-AUTRE-CREANCIER"),
    ("demande", "REUNION-DEMANDEE"),  # in three days
    ("demande", "JOUR-REQUEST"),  # in five working days
]


def test_one_list_of_everything_due_sorted_by_due_time_overdue_first(users, world):
    queue = day_queue(agent=users.agent)

    assert listed(queue) == MY_DAY
    assert [item.late for item in queue.items] == [True, True, True] + [False] * 6
    assert {k: s.count for k, s in queue.sources.items()} == {
        "tache": 3,
        "demande": 3,
        "promesse": 1,
        "decision": 1,
        "message": 1,
    }
    meeting = queue.items[7]
    assert meeting.case is None and meeting.url == f"/demandes/#demande-{meeting.pk}"
    assert meeting.action == "Proposer des créneaux" and meeting.creditor.pk == world["task"].creditor_id


def test_the_agent_sees_what_needs_doing_on_their_cases_only(client, users, world):
    html = page(client, users.agent)

    for shown in (
        "JOUR-TASK",
        "Recherche d&#x27;adresse",
        "Appel à passer",
        "JOUR-PROMISE",
        "Promesse de 25,00",
        "JOUR-DECISION",
        "REFUS-DU-CREANCIER",
        "JOUR-MESSAGE",
        "QUESTION-SANS-REPONSE",
        "JOUR-AUTRE-CREANCIER",
        "QUESTION-AVEC-DELAI",
        "DECOMPTE-EN-RETARD",
        "REUNION-DEMANDEE",
        "Décompte financier du dossier",
    ):
        assert shown in html, shown
    for hidden in (
        "JOUR-LATER",
        "JOUR-ANSWERED",
        "QUESTION-TRAITEE",
        "ANCIENNE-DECISION",
        "JOUR-COLLEGUE",
        "QUESTION-DU-COLLEGUE",
        "QUESTION-COLLEGUE",
        "JOUR-SANS-AGENT",
        "QUESTION-SANS-AGENT",
        "REUNION-SANS-REFERENT",
    ):
        assert hidden not in html, hidden
    # In due order on the page too, each late one marked, the clock of a request spelled out.
    positions = [html.index(marker) for marker in ("Motif address_investigation", "JOUR-PROMISE", "DECOMPTE")]
    positions += [html.index(marker) for marker in ("REFUS-DU-CREANCIER", "REUNION-DEMANDEE", "QUESTION-AVEC")]
    assert positions == sorted(positions)
    assert html.count('<strong class="clock late">en retard</strong>') == 3
    assert "en retard de 1 j" in html  # the statement's 48 h ran out yesterday
    assert "reste 3 j" in html  # the meeting
    assert '9 éléments à traiter sur vos dossiers, dont <strong class="clock late">3 en retard</strong>' in html
    for chip in ("Tout (9)", "Tâches (3)", "Demandes du créancier (3)", "Promesses non tenues (1)"):
        assert chip in html, chip
    assert "Décisions du créancier (1)" in html and "Messages du créancier (1)" in html
    assert "<h1>Ma journée</h1>" in html
    assert 'name="cases"' not in html  # an agent does not reassign
    # A link to act on each: the case's section, or the requests page for a meeting.
    assert f'href="/dossiers/{world["message"].pk}/#commentaires">Répondre' in html
    assert f'href="/dossiers/{world["request"].pk}/#demandes">Répondre' in html
    assert f'href="/dossiers/{world["decision"].pk}/#decisions">Voir la décision' in html
    assert 'href="/demandes/#demande-' in html


def test_an_unread_message_is_marked_until_the_agent_opens_the_case(client, users, world):
    assert '<span class="badge badge-new">non lu</span>' in page(client, users.agent)
    client.get(f"/dossiers/{world['message'].pk}/")
    html = page(client, users.agent)
    assert "QUESTION-SANS-REPONSE" in html  # read, still not answered
    assert '<span class="badge badge-new">non lu</span>' not in html


def test_an_answered_request_leaves_the_day(users, world):
    CreditorRequest.objects.filter(body="DECOMPTE-EN-RETARD").update(status="answered")
    assert ("demande", "JOUR-TASK") not in listed(day_queue(agent=users.agent))


def test_filters_by_kind_task_kind_and_creditor(client, users, world, reference):
    html = page(client, users.agent, f"{URL}?type=demande")
    assert "QUESTION-AVEC-DELAI" in html and "REUNION-DEMANDEE" in html
    assert "QUESTION-SANS-REPONSE" not in html and "Motif address_investigation" not in html
    assert '<a href="/travail/ma-journee/?type=demande" aria-current="page">Demandes du créancier (3)</a>' in html
    assert "3 éléments à traiter" in html

    html = page(client, users.agent, f"{URL}?kind=call")
    assert "Appel à passer" in html
    assert "Motif address_investigation" not in html and "JOUR-PROMISE" not in html

    html = page(client, users.agent, f"{URL}?creditor={reference.other.pk}")
    assert "JOUR-AUTRE-CREANCIER" in html
    assert "1 élément à traiter" in html
    for hidden in ("JOUR-TASK", "JOUR-PROMISE", "JOUR-DECISION", "JOUR-MESSAGE", "REUNION-DEMANDEE"):
        assert hidden not in html
    # The chips keep the creditor picked.
    assert f'href="/travail/ma-journee/?creditor={reference.other.pk}&amp;type=tache"' in html


def test_a_closed_task_or_a_recalled_case_leaves_the_day(client, users, world):
    Task.objects.filter(case=world["task"], kind="call").update(status="done", closed_at=timezone.now())
    assert "Tâches (2)" in page(client, users.agent)


def test_an_agent_may_not_look_at_a_colleagues_day_nor_at_unassigned_work(client, users, world, other_agent):
    client.force_login(users.agent)
    assert client.get(f"{URL}?agent={other_agent.pk}").status_code == 403
    assert client.get(f"{URL}?agent=none").status_code == 403
    assert "JOUR-TASK" in page(client, users.agent, f"{URL}?agent={users.agent.pk}")  # their own: fine
    # The colleague sees their own day, never the agent's items.
    html = page(client, other_agent)
    assert "JOUR-COLLEGUE" in html and "QUESTION-COLLEGUE" in html
    for hidden in ("JOUR-TASK", "JOUR-MESSAGE", "REUNION-DEMANDEE", "JOUR-SANS-AGENT"):
        assert hidden not in html, hidden


@pytest.mark.parametrize("role", ["supervisor", "agency_admin"])
def test_supervisors_pick_an_agent_and_see_their_day(client, users, world, role):
    own = page(client, getattr(users, role))
    assert "<h1>Ma journée</h1>" in own
    assert "JOUR-TASK" not in own

    html = page(client, getattr(users, role), f"{URL}?agent={users.agent.pk}")
    assert f"<h1>Journée de {users.agent.get_full_name()}</h1>" in html
    assert "JOUR-TASK" in html and "JOUR-MESSAGE" in html
    assert "JOUR-COLLEGUE" not in html and "JOUR-SANS-AGENT" not in html
    assert f'name="cases" value="{world["task"].pk}"' in html
    assert f'<option value="{users.agent.pk}" selected>' in html
    assert_every_control_labelled(html)


@pytest.mark.parametrize("role", ["supervisor", "agency_admin"])
def test_supervisors_see_the_work_nobody_holds(client, users, world, role):
    html = page(client, getattr(users, role), f"{URL}?agent=none")

    assert "<h1>Travail non attribué</h1>" in html
    assert '<option value="none" selected>Non attribués</option>' in html
    # The task and the request on a case without agent, and the meeting of a creditor without referent.
    for shown in ("JOUR-SANS-AGENT", "Motif address_investigation", "QUESTION-SANS-AGENT", "REUNION-SANS-REFERENT"):
        assert shown in html, shown
    for hidden in ("JOUR-TASK", "JOUR-COLLEGUE", "REUNION-DEMANDEE", "QUESTION-AVEC-DELAI"):
        assert hidden not in html, hidden
    assert "3 éléments à traiter sur les dossiers sans gestionnaire, dont" in html
    assert f'name="cases" value="{world["nobody"].pk}"' in html
    assert '<input type="hidden" name="vue" value="none">' in html


def test_supervisor_assigns_unassigned_work_and_it_moves_to_the_agents_day(client, users, world, other_agent):
    client.force_login(users.supervisor)
    response = client.post(REASSIGN, {"cases": [world["nobody"].pk], "agent": other_agent.pk, "vue": "none"})

    assert response["Location"] == f"{URL}?agent=none"
    assert "JOUR-SANS-AGENT" not in page(client, users.supervisor, f"{URL}?agent=none")
    html = page(client, other_agent)
    assert "JOUR-SANS-AGENT" in html and "QUESTION-SANS-AGENT" in html


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
    assert client.get(f"{URL}?agent=none").status_code == 403
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
    """Cases of the agent with a task due, a broken promise, a decision, a creditor question and a request
    each, and as many on cases nobody holds."""
    for n in range(start, start + count):
        for agent in (users.agent, None):
            case = make_case(
                structure=[reference.csr, reference.cdop, reference.cesa][n % 3],
                reference=f"VOL-{'A' if agent else 'N'}{n:04d}",
                assigned_agent=agent,
            )
            task(case, ["call", "callback", "address_investigation"][n % 3], TODAY - timedelta(days=n % 4))
            PromiseToPay.objects.create(
                case=case, amount=Decimal("3.00"), due_on=TODAY - timedelta(days=1), status=PromiseStatus.BROKEN
            )
            approval = approval_request(
                case=case, kind=["exchange", "long_plan"][n % 2], proposal="?", actor=users.agent
            )
            approval_decide(approval=approval, accept=True, comment="", actor=users.approver)
            comment_add(case=case, author=users.collaborator, body=f"Question {n}")
            request_create(kind="question", body=f"Situation {n} ?", actor=users.collaborator, case=case)
        request_create(kind="meeting", body=f"Réunion {n}", actor=users.collaborator)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("agent", URL),
        ("agent", f"{URL}?kind=call"),
        ("supervisor", "AGENT"),
        ("supervisor", f"{URL}?agent=none"),
    ],
)
def test_query_count_does_not_grow_with_data(client, reference, users, role, url, django_assert_max_num_queries):
    if url == "AGENT":
        url = f"{URL}?agent={users.agent.pk}"
    Creditor.objects.filter(pk=reference.cpam.pk).update(referent=users.agent)
    _add_cases(reference, users, 3, 0)
    client.force_login(getattr(users, role))
    client.get(url)  # warm-up
    few = _queries(client, url)

    _add_cases(reference, users, 27, 3)
    html = client.get(url).content.decode()
    assert "VOL-A0027" in html or "VOL-N0027" in html  # the new data shows
    many = _queries(client, url)

    assert few == many
    with django_assert_max_num_queries(14):  # session, user, nav badge, filters (and agents), five sources
        client.get(url)


def test_each_source_is_capped_and_counted_in_full(users, reference):
    for n in range(4):
        case = make_case(structure=reference.csr, reference=f"CAP-{n}", assigned_agent=users.agent)
        task(case, "call", TODAY - timedelta(days=n))
    queue = day_queue(agent=users.agent, limit=2)
    assert queue.count("tache") == 4 and queue.capped
    assert [item.case.reference for item in queue.items] == ["CAP-3", "CAP-2"]  # the most overdue kept


def test_a_backlog_beyond_the_cap_is_counted_as_at_least(client, users, reference, monkeypatch):
    """A source counts its rows only up to DAY_COUNT_CAP + 1: a large backlog reads « au moins … »."""
    monkeypatch.setattr("amiable.casework.selectors.DAY_COUNT_CAP", 2)
    for n in range(5):
        case = make_case(structure=reference.csr, reference=f"ARRIERE-{n}", assigned_agent=users.agent)
        task(case, "call", TODAY - timedelta(days=n))
    queue = day_queue(agent=users.agent, limit=2)
    assert queue.count("tache") == 3 and queue.more
    assert day_queue(agent=users.agent, limit=10).count("tache") == 5  # under the limit: the rows are the count
    client.force_login(users.agent)
    html = client.get(URL).content.decode()
    assert "au moins 5 éléments à traiter" in html


def test_the_tasks_are_read_by_the_agent_they_carry_not_through_their_cases(users, world):
    """At a million cases, joining every open task to its case to find the agent's cost most of the page: a task
    carries its case's agent (`Task.agent`, kept by the database) and the day filters on it."""
    with CaptureQueriesContext(connection) as queries:
        day_queue(agent=users.agent, today=TODAY)
    sql = next(q["sql"] for q in queries.captured_queries if q["sql"].split(" FROM ")[1].startswith('"cases_task"'))
    where = sql.split(" WHERE ")[1]
    assert '"cases_task"."agent_id" =' in where
    assert "assigned_agent_id" not in where
