"""The « Plan d'apurement » card and its pages: the agent's form, preview and proposal; the plan seen by the
creditor's staff on the case page with its document (C37); another creditor gets 404; the debtor's other
proposals (C19); the case page's queries do not grow with the instalments."""

import re
from datetime import date, datetime
from decimal import Decimal
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from amiable.approvals.models import ApprovalKind, ApprovalRequest
from amiable.audit.models import AccessLogEntry
from amiable.cases.models import CaseStatus
from amiable.payments.forms_plans import PlanForm
from amiable.payments.models import Plan, PlanStatus
from amiable.payments.plans import plan_propose
from tests.factories import make_user
from tests.work_fixtures import (
    DEBTOR_EMAIL,
    first_letter_sent,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 10, 13, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))  # a Tuesday morning


@pytest.fixture(autouse=True)
def _tuesday():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def case(case_factory):
    case = case_factory(ack=date(2026, 10, 5), email=DEBTOR_EMAIL, principal="100.00", reference="DOS-PLAN-1")
    first_letter_sent(case)
    case.refresh_from_db()
    return case


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\u00a0", " "))


def html(response) -> str:
    return squash(unescape(response.content.decode()))


def url(name, case):
    return reverse(f"payments:{name}", args=[case.pk])


REGULAR = {"count": "3", "rhythm": "monthly", "first_due_on": "2026-10-15", "custom": ""}


# --- the agent's form -------------------------------------------------------------------------------------------


def test_the_case_page_loads_the_agents_form_and_the_form_shows_the_limit(client, case, users):
    client.force_login(users.agent)
    page = html(client.get(f"/dossiers/{case.pk}/"))
    assert 'id="plan"' in page and "Aucun plan d'apurement en cours." in page
    assert f'hx-get="{url("plan_form", case)}"' in page

    fragment = html(client.get(url("plan_form", case), headers={"HX-Request": "true"}))
    assert "<html" not in fragment
    assert "Jusqu'à <strong>6 mois</strong>" in fragment and "soumis à l'accord de Caisse Primaire" in fragment
    assert "100,00 €" in fragment
    assert 'for="id_count"' in fragment and 'for="id_custom"' in fragment
    # Without JavaScript, a page of its own.
    assert "<html" in client.get(url("plan_form", case)).content.decode()


def test_the_preview_shows_the_exact_schedule_and_who_grants_it(client, case, users):
    client.force_login(users.agent)
    fragment = html(client.post(url("plan_preview", case), REGULAR, headers={"HX-Request": "true"}))
    assert "Aperçu : 3 échéances (mensuel), 3 mois — l'agence accorde ce plan" in fragment
    assert fragment.count("33,33 €") == 2 and "33,34 €" in fragment and "15/12/2026" in fragment
    assert not Plan.objects.exists()  # a preview writes nothing

    long = html(client.post(url("plan_preview", case), {**REGULAR, "count": "10"}, headers={"HX-Request": "true"}))
    assert "au-delà de 6 mois : soumis à l'accord du créancier" in long
    assert "Demander l'accord du créancier" in long


def test_the_preview_says_what_is_wrong(client, case, users):
    client.force_login(users.agent)
    custom = {**REGULAR, "custom": "20/10/2026 ; 50,00\n20/11/2026 ; 49,99"}
    fragment = html(client.post(url("plan_preview", case), custom, headers={"HX-Request": "true"}))
    assert 'role="alert"' in fragment and "il manque 0,01 €" in fragment

    unreadable = {**REGULAR, "custom": "le 20 octobre : 50"}
    fragment = html(client.post(url("plan_preview", case), unreadable, headers={"HX-Request": "true"}))
    assert "Ligne 1 illisible" in fragment and "id_custom_error" in fragment


def test_the_agent_proposes_a_plan_granted_at_once(client, case, users):
    client.force_login(users.agent)
    response = client.post(url("plan_propose", case), REGULAR, follow=True)
    plan = Plan.objects.get(case=case)
    assert plan.status == PlanStatus.ACTIVE
    page = html(response)
    assert f"Plan d'apurement {plan.number} accordé" in page
    assert "Plan d'apurement</span>" in page  # the case's status badge
    assert f'href="{reverse("payments:plan_pdf", args=[plan.pk])}"' in page
    assert page.count("À venir") == 3


def test_a_custom_schedule_from_the_form(client, case, users):
    client.force_login(users.agent)
    custom = {**REGULAR, "count": "", "first_due_on": "", "custom": "20/10/2026 ; 60,00 €\n2026-11-20 40"}
    client.post(url("plan_propose", case), custom)
    plan = Plan.objects.get(case=case)
    assert [(i.due_on, i.amount) for i in plan.instalments.order_by("rank")] == [
        (date(2026, 10, 20), Decimal("60.00")),
        (date(2026, 11, 20), Decimal("40.00")),
    ]


def test_a_refused_proposal_comes_back_as_a_message(client, case, users):
    client.force_login(users.agent)
    response = client.post(url("plan_propose", case), {**REGULAR, "first_due_on": "2026-10-01"}, follow=True)
    assert "La première échéance (01/10/2026) est passée." in html(response)
    assert not Plan.objects.exists()


def test_the_regular_fields_are_required_without_a_custom_schedule():
    form = PlanForm({"rhythm": "monthly", "count": "", "first_due_on": "", "custom": ""})
    assert not form.is_valid()
    assert set(form.errors) == {"count", "first_due_on"}


def test_creditor_staff_may_not_use_the_agents_pages(client, case, users):
    client.force_login(users.approver)
    assert client.get(url("plan_form", case)).status_code == 403
    assert client.post(url("plan_propose", case), REGULAR).status_code == 403
    assert client.post(url("settlement_propose", case), {"proposal": "Report"}).status_code == 403
    assert not Plan.objects.exists() and not ApprovalRequest.objects.exists()


# --- the plan seen by the creditor (C37) ---------------------------------------------------------------------


@pytest.fixture
def plan(case, users):
    return plan_propose(case=case, rhythm="monthly", count=3, first_due_on=date(2026, 10, 15), actor=users.agent)


def test_the_creditors_staff_see_the_plan_and_download_its_document(client, case, plan, users):
    client.force_login(users.collaborator)
    page = html(client.get(f"/dossiers/{case.pk}/"))
    assert f"Plan {plan.number}" in page and "En cours" in page
    assert "15/10/2026" in page and "33,34 €" in page
    assert url("plan_form", case) not in page  # no agent's form
    pdf_url = reverse("payments:plan_pdf", args=[plan.pk])
    assert pdf_url in page

    response = client.get(pdf_url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert response["Cache-Control"] == "private, no-store"
    assert AccessLogEntry.objects.filter(user=users.collaborator, label=f"Plan d'apurement {plan.number}").exists()


@pytest.mark.parametrize("intruder", ["other_admin", "csr_only"])
def test_another_creditors_user_gets_404_for_the_plan(client, case, plan, users, intruder):
    client.force_login(getattr(users, intruder))  # the case is the CDOP's: csr_only may not see it either
    response = client.get(reverse("payments:plan_pdf", args=[plan.pk]))
    assert response.status_code == 404
    assert plan.number.encode() not in response.content
    assert client.get(f"/dossiers/{case.pk}/").status_code == 404


def test_another_creditors_user_gets_404_for_the_agents_pages(client, case, reference):
    intruder = make_user("agent")  # control: an agent of the agency may
    client.force_login(intruder)
    assert client.get(url("plan_form", case)).status_code == 200
    client.force_login(make_user("creditor_admin", creditor=reference.other))
    for name in ("plan_form",):
        assert client.get(url(name, case)).status_code == 404
    for name in ("plan_preview", "plan_propose", "settlement_propose"):
        assert client.post(url(name, case), REGULAR).status_code == 404


def test_a_plan_waiting_for_the_creditor_has_no_document_yet(client, case, users):
    plan = plan_propose(case=case, rhythm="monthly", count=10, first_due_on=date(2026, 10, 15), actor=users.agent)
    client.force_login(users.approver)
    page = html(client.get(f"/dossiers/{case.pk}/"))
    assert "En attente de l'accord du créancier" in page and "en attente de la décision du créancier" in page
    assert client.get(reverse("payments:plan_pdf", args=[plan.pk])).status_code == 404
    inbox = html(client.get("/validations/"))
    assert plan.number in inbox and "10 échéance(s)" in inbox


def test_the_case_page_queries_do_not_grow_with_the_instalments(client, case_factory, users):
    def page_queries(count):
        case = case_factory(ack=date(2026, 10, 5), email=DEBTOR_EMAIL, principal="1000.00")
        first_letter_sent(case)
        plan_propose(case=case, rhythm="weekly", count=count, first_due_on=date(2026, 10, 15), actor=users.agent)
        client.get(f"/dossiers/{case.pk}/")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/dossiers/{case.pk}/").status_code == 200
        return len(queries.captured_queries)

    client.force_login(users.creditor_admin)
    assert page_queries(2) == page_queries(20)


# --- other proposals (C19) --------------------------------------------------------------------------------------


def test_the_agent_sends_another_proposal_of_the_debtor_to_the_creditor(client, case, users):
    client.force_login(users.agent)
    response = client.post(
        url("settlement_propose", case),
        {"proposal": "Son employeur paiera directement en janvier.", "amount": "100,00 €", "dates": "15/01/2027"},
        follow=True,
    )
    assert "Proposition du débiteur transmise au créancier pour décision." in html(response)
    approval = ApprovalRequest.objects.get(case=case)
    assert approval.kind == ApprovalKind.ALTERNATIVE_SETTLEMENT
    assert "Montant proposé : 100,00 €" in squash(approval.proposal)

    client.force_login(users.approver)
    inbox = html(client.get("/validations/"))
    assert "Proposition de paiement autre qu'immédiat" in inbox and "Son employeur paiera" in inbox


def test_another_proposal_with_an_unreadable_amount_is_refused(client, case, users):
    client.force_login(users.agent)
    response = client.post(url("settlement_propose", case), {"proposal": "Remise", "amount": "cent"}, follow=True)
    assert "Montant illisible : « cent »." in html(response)
    assert not ApprovalRequest.objects.exists()


def test_the_case_is_still_being_recovered_while_the_creditor_decides(case, users):
    plan_propose(case=case, rhythm="monthly", count=10, first_due_on=date(2026, 10, 15), actor=users.agent)
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PROGRESS
