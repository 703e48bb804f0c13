"""The case page's summary (reference, debtor, status, balance, agent, next action) and its history, newest
first, with the authors' names, never their e-mail addresses."""

import re
from datetime import date

import pytest
from django.utils.html import escape

from amiable.cases.services import case_assign, case_transition, comment_add, task_open
from tests.factories import make_case


def _section(html: str, title_id: str) -> str:
    match = re.search(rf'<section aria-labelledby="{title_id}".*?</section>', html, re.S)
    assert match, title_id
    return match.group(0)


@pytest.fixture
def case(reference, users):
    case = make_case(
        structure=reference.csr, reference="CSR-0042", principal="250.00", last_name="Roux", first_name="Léa"
    )
    case_assign(case=case, agent=users.agent, actor=users.supervisor)
    case_transition(case=case, to="in_progress", actor=users.agent, reason="Premier appel")
    comment_add(case=case, author=users.collaborator, body="Où en est ce dossier ?")
    return case


def test_agency_summary_has_the_balance_the_agent_and_no_action_when_none_is_planned(client, case, users):
    client.force_login(users.supervisor)
    summary = _section(client.get(f"/dossiers/{case.pk}/").content.decode(), "resume-titre")
    assert "<dt>Référence</dt><dd" in summary and "CSR-0042" in summary
    assert "Mme ROUX Léa" in summary
    assert "En cours" in summary
    assert "250,00" in summary
    assert f"<dt>Gestionnaire</dt><dd>{escape(users.agent.get_full_name())}</dd>" in summary
    assert "<dt>Prochaine action</dt><dd>Aucune action prévue</dd>" in summary


def test_summary_next_action_is_the_open_task_due_first(client, case, users):
    task_open(case=case, kind="review", reason="Revoir", due_on=None)
    task_open(case=case, kind="callback", reason="Rappeler", due_on=date(2026, 12, 10))
    task_open(case=case, kind="call", reason="Appeler", due_on=date(2026, 12, 3))
    client.force_login(users.agent)
    summary = _section(client.get(f"/dossiers/{case.pk}/").content.decode(), "resume-titre")
    assert "<dt>Prochaine action</dt><dd>Appel à passer, pour le 03/12/2026</dd>" in summary
    # The agency's to-do list is not the creditor's: its staff see the balance, not the tasks planned.
    client.force_login(users.collaborator)
    summary = _section(client.get(f"/dossiers/{case.pk}/").content.decode(), "resume-titre")
    assert "250,00" in summary
    assert "Prochaine action" not in summary and "Appel à passer" not in summary


def test_history_is_newest_first_with_names_for_the_agency(client, case, users):
    client.force_login(users.agent)
    history = _section(client.get(f"/dossiers/{case.pk}/").content.decode(), "historique-titre")
    labels = re.findall(r"<strong>([^<]+)</strong>", history)
    assert labels.index("Changement de statut") < labels.index("Dossier confié") < labels.index("Dossier reçu")
    assert escape(f"{users.agent.get_full_name()} (gestionnaire)") in history
    assert escape(f"{users.supervisor.get_full_name()} (superviseur)") in history
    assert escape(f"{users.collaborator.get_full_name()} ({users.collaborator.creditor.name})") in history
    assert "@" not in history


def test_creditor_history_names_the_agency_not_its_staff(client, case, users):
    client.force_login(users.collaborator)
    history = _section(client.get(f"/dossiers/{case.pk}/").content.decode(), "historique-titre")
    assert "— Agence</p>" in history
    assert users.agent.get_full_name() not in history
    assert escape(f"{users.collaborator.get_full_name()} ({users.collaborator.creditor.name})") in history
    assert "@" not in history
    summary = _section(client.get(f"/dossiers/{case.pk}/").content.decode(), "resume-titre")
    assert "Gestionnaire" not in summary
