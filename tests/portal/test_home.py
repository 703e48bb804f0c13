"""« Ce qui vous attend » on the home pages: decisions to take, open and late requests, unread notifications,
cases with unread messages; the claims report link for creditor staff."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from amiable.approvals.services import approval_decide, approval_request
from amiable.cases.services import comment_add
from amiable.creditor_requests import hooks
from amiable.creditor_requests.services import request_answer, request_create
from amiable.notifications.services import notify
from tests.factories import make_case


@pytest.fixture
def cases(reference, users):
    reference.cpam.referent = users.supervisor
    reference.cpam.save()
    return type(
        "Cases",
        (),
        {
            "csr": make_case(structure=reference.csr, reference="ACC-CSR", assigned_agent=users.agent),
            "cdop": make_case(structure=reference.cdop, reference="ACC-CDOP", assigned_agent=users.agent),
            "other": make_case(structure=reference.other_structure, reference="ACC-AUTRE", assigned_agent=users.agent),
        },
    )


@pytest.fixture
def statement_by_hand(monkeypatch):
    """No statement provider: statement requests stay open on their clock, as when the statement cannot be
    drawn up automatically, so that the counters below see them."""
    monkeypatch.setattr(hooks, "_statement_provider", None)


def home(client, user) -> str:
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def ask_approval(case, users, proposal="Proposition"):
    return approval_request(case=case, kind="court_action", proposal=proposal, actor=users.agent)


# --- creditor home ----------------------------------------------------------------------------------------


def test_creditor_home_counts_decisions_to_take(client, cases, users):
    ask_approval(cases.csr, users)
    ask_approval(cases.cdop, users)
    decided = ask_approval(cases.cdop, users)
    approval_decide(approval=decided, accept=True, comment="", actor=users.creditor_admin)
    ask_approval(cases.other, users)  # the other creditor's

    html = home(client, users.approver)

    assert '<h2 id="attente-titre">Ce qui vous attend</h2>' in html
    assert '<a href="/validations/">2 décisions à prendre</a>' in html
    assert '<a href="/demandes/">0 demande en cours auprès de l\'agence</a>' in html
    assert '<a href="/etat-des-creances.xlsx">Télécharger l\'état des créances (Excel)</a>' in html


def test_creditor_home_singular_and_zero(client, cases, users):
    assert '<a href="/validations/">0 décision à prendre</a>' in home(client, users.creditor_admin)
    ask_approval(cases.csr, users)
    assert '<a href="/validations/">1 décision à prendre</a>' in home(client, users.creditor_admin)


def test_collaborator_sees_decisions_awaiting_the_approvers(client, cases, users):
    ask_approval(cases.csr, users)
    ask_approval(cases.cdop, users)
    ask_approval(cases.other, users)

    html = home(client, users.collaborator)
    assert '<a href="/validations/">2 décisions en attente chez les valideurs</a>' in html
    assert "à prendre" not in html

    # Limited to CSR: only the CSR case's decision.
    html = home(client, users.csr_only)
    assert '<a href="/validations/">1 décision en attente chez les valideurs</a>' in html


def test_other_creditor_counts_none_of_the_cpam(client, cases, users):
    ask_approval(cases.csr, users)
    request_create(kind="question", body="Q", actor=users.collaborator, case=cases.csr)
    request_create(kind="meeting", body="Réunion", actor=users.collaborator)

    html = home(client, users.other_admin)

    assert '<a href="/validations/">0 décision à prendre</a>' in html
    assert '<a href="/demandes/">0 demande en cours auprès de l\'agence</a>' in html


def test_creditor_home_counts_open_requests_and_notifications(client, cases, users, statement_by_hand):
    request_create(kind="question", body="Q1", actor=users.collaborator, case=cases.csr)
    request_create(kind="statement", body="", actor=users.approver, case=cases.cdop)
    request_create(kind="meeting", body="Réunion", actor=users.collaborator)
    answered = request_create(kind="question", body="Q2", actor=users.collaborator, case=cases.csr)
    request_answer(request=answered, answer="Réponse", actor=users.agent)  # notifies the collaborator
    notify(recipients=[users.collaborator], kind="x", title="Autre")

    html = home(client, users.collaborator)

    assert '<a href="/demandes/">3 demandes en cours auprès de l\'agence</a>' in html
    assert '<a href="/notifications/">2 notifications non lues</a>' in html
    # csr_only does not see the statement on the CDOP case.
    assert '<a href="/demandes/">2 demandes en cours auprès de l\'agence</a>' in home(client, users.csr_only)


# --- agent home -------------------------------------------------------------------------------------------


def test_agent_home_shows_open_and_late_requests(client, cases, users, statement_by_hand):
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        request_create(kind="statement", body="", actor=users.collaborator, case=cases.csr)  # 48 h: late
    request_create(kind="question", body="Q", actor=users.collaborator, case=cases.cdop)
    request_create(kind="statement", body="", actor=users.other_admin, case=cases.other)
    answered = request_create(kind="question", body="Q", actor=users.collaborator, case=cases.csr)
    request_answer(request=answered, answer="R", actor=users.agent)

    html = home(client, users.agent)

    assert '<h2 id="attente-titre">Ce qui vous attend</h2>' in html
    assert (
        '<a href="/demandes/">3 demandes du créancier à traiter</a> — <span class="clock late">1 en retard</span>'
    ) in html


def test_agent_home_without_late_requests_shows_no_red(client, cases, users):
    request_create(kind="question", body="Q", actor=users.collaborator, case=cases.csr)

    html = home(client, users.agent)

    assert '<a href="/demandes/">1 demande du créancier à traiter</a></li>' in html
    assert "en retard" not in html
    assert "clock late" not in html


def test_agent_home_counts_decisions_received(client, cases, users):
    accepted = ask_approval(cases.csr, users)
    refused = ask_approval(cases.cdop, users)
    ask_approval(cases.csr, users)  # still pending
    approval_decide(approval=accepted, accept=True, comment="", actor=users.approver)
    approval_decide(approval=refused, accept=False, comment="Non", actor=users.approver)

    html = home(client, users.agent)

    assert '<a href="/validations/">2 décisions du créancier reçues sur vos demandes</a>' in html
    assert '<a href="/validations/">0 décision du créancier reçue sur vos demandes</a>' in home(
        client, users.supervisor
    )


# --- unread messages --------------------------------------------------------------------------------------


def test_agent_home_lists_cases_with_unread_creditor_messages(client, cases, users):
    comment_add(case=cases.csr, author=users.collaborator, body="Question")
    comment_add(case=cases.cdop, author=users.supervisor, body="Note du référent", internal=True)

    html = home(client, users.agent)

    assert "<h3>Messages non lus</h3>" in html
    assert f'<a href="/dossiers/{cases.csr.pk}/#commentaires">Dossier ACC-CSR</a>' in html
    assert f'href="/dossiers/{cases.cdop.pk}/#commentaires"' not in html  # an agency note is not a message

    client.get(f"/dossiers/{cases.csr.pk}/")
    html = home(client, users.agent)
    assert "Messages non lus" not in html

    comment_add(case=cases.csr, author=users.approver, body="Relance")
    assert f'<a href="/dossiers/{cases.csr.pk}/#commentaires">Dossier ACC-CSR</a>' in home(client, users.agent)


def test_creditor_home_lists_cases_with_agency_answers(client, cases, users):
    comment_add(case=cases.csr, author=users.collaborator, body="Question")
    comment_add(case=cases.csr, author=users.agent, body="Réponse")
    comment_add(case=cases.cdop, author=users.agent, body="Note interne", internal=True)
    comment_add(case=cases.other, author=users.agent, body="Réponse à l'autre créancier")

    html = home(client, users.approver)
    assert "<h3>Messages non lus</h3>" in html
    assert f'href="/dossiers/{cases.csr.pk}/#commentaires"' in html
    assert f'href="/dossiers/{cases.cdop.pk}/#commentaires"' not in html
    assert f'href="/dossiers/{cases.other.pk}/#commentaires"' not in html

    html = home(client, users.other_admin)
    assert f'href="/dossiers/{cases.other.pk}/#commentaires"' in html
    assert f'href="/dossiers/{cases.csr.pk}/#commentaires"' not in html


def test_own_messages_are_not_unread(client, cases, users):
    comment_add(case=cases.csr, author=users.collaborator, body="Ma question")

    assert "Messages non lus" not in home(client, users.collaborator)
