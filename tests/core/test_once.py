"""Nothing twice from a double click: every form that creates something carries a one-time token; a second
submit of the same token creates nothing and goes where the first one led; a refused submit gives its token
back; tokens are per user and forgotten after a day."""

import io
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.management import call_command
from lxml import html as lxml_html

from amiable.approvals.models import ApprovalRequest
from amiable.approvals.services import approval_request
from amiable.audit.models import AuditEvent
from amiable.cases.models import Comment
from amiable.contact.models import CallRecord, OutboxMessage
from amiable.core import once
from amiable.core.models import FormSubmission
from amiable.creditor_requests.models import CreditorRequest
from amiable.letters.models import Letter
from amiable.ops.management.commands.run_daily import DAILY_JOBS
from amiable.payments.models import Payment, Plan
from tests.factories import make_user
from tests.work_fixtures import DEBTOR_EMAIL, DEBTOR_PHONE, first_letter_sent

pytestmark = pytest.mark.django_db

TUESDAY_11 = datetime(2026, 7, 7, 11, 0, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture(autouse=True)
def _tuesday():
    with time_machine.travel(TUESDAY_11, tick=False):
        yield


@pytest.fixture
def case(case_factory, users):
    case = case_factory(
        ack=date(2026, 6, 1), email=DEBTOR_EMAIL, phone=DEBTOR_PHONE, principal="300.00", assigned_agent=users.agent
    )
    first_letter_sent(case)
    case.refresh_from_db()
    return case


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def tokens(html: str) -> list[str]:
    return lxml_html.fromstring(html).xpath(f'//input[@name="{once.FIELD}"]/@value')


def twice(client, url: str, data: dict, model) -> tuple:
    """Post the same data with the same token twice; the second creates nothing (no row, no audit event)."""
    data = {**data, once.FIELD: uuid.uuid4().hex}
    first = client.post(url, data)
    assert first.status_code == 302, first.content.decode()[:500]
    created, events = model.objects.count(), AuditEvent.objects.count()
    assert created >= 1
    second = client.post(url, data)
    assert (second.status_code, second["Location"]) == (302, first["Location"])
    assert flash(second)[-1] == once.DUPLICATE
    assert (model.objects.count(), AuditEvent.objects.count()) == (created, events)
    return first, second


# --- every form that posts carries a fresh token ---------------------------------------------------------


@pytest.mark.parametrize(
    "who, url",
    [
        ("agent", "/dossiers/{pk}/"),
        ("collaborator", "/dossiers/{pk}/"),
        ("approver", "/dossiers/{pk}/"),
        ("agent", "/travail/dossiers/{pk}/actions/"),
        ("approver", "/validations/"),
        ("collaborator", "/demandes/"),
        ("agent", "/travail/dossiers/{pk}/message/email/apercu/"),
    ],
)
def test_every_post_form_of_the_page_carries_its_own_one_time_token(client, users, case, who, url):
    approval_request(case=case, kind="court_action", proposal="Assigner", actor=users.agent)
    client.force_login(getattr(users, who))
    response = client.get(url.format(pk=case.pk))
    assert response.status_code == 200
    doc = lxml_html.fromstring(response.content.decode())
    forms = doc.xpath('//form[@method="post"]')
    assert len(forms) >= 2  # the page's own forms and the logout button
    for form in forms:
        assert len(form.xpath(f'.//input[@name="{once.FIELD}"]')) == 1, lxml_html.tostring(form)[:300]
    again = tokens(client.get(url.format(pk=case.pk)).content.decode())
    found = [form.xpath(f'.//input[@name="{once.FIELD}"]/@value')[0] for form in forms]
    assert len(set(found)) == len(found) and not set(found) & set(again)


# --- a double submit creates nothing, for each kind of thing a form creates -------------------------------


def test_a_comment_sent_twice_is_recorded_once(client, users, case):
    client.force_login(users.agent)
    first, _ = twice(client, f"/dossiers/{case.pk}/commentaires/", {"body": "Appelé ce matin."}, Comment)
    assert Comment.objects.count() == 1
    assert first["Location"].startswith(f"/dossiers/{case.pk}/")


def test_without_the_token_the_same_post_is_a_new_comment(client, users, case):
    """What the token prevents: the very same post without it is recorded again."""
    client.force_login(users.agent)
    for _ in range(2):
        client.post(f"/dossiers/{case.pk}/commentaires/", {"body": "Appelé ce matin."})
    assert Comment.objects.count() == 2


def test_a_call_sent_twice_is_recorded_once(client, users, case):
    client.force_login(users.agent)
    data = {
        "appel-number_choice": "",
        "appel-number_other": "06 11 22 33 44",
        "appel-direction": "in",
        "appel-outcome": "no_answer",
        "appel-notes": "",
    }
    twice(client, f"/travail/dossiers/{case.pk}/appel/", data, CallRecord)
    assert CallRecord.objects.count() == 1


def test_a_creditor_request_sent_twice_is_recorded_once(client, users, case):
    client.force_login(users.collaborator)
    data = {"kind": "question", "body": "Où en est ce dossier ?"}
    twice(client, f"/dossiers/{case.pk}/demandes/", data, CreditorRequest)
    assert CreditorRequest.objects.count() == 1


def test_an_approval_asked_twice_is_asked_once(client, users, case):
    client.force_login(users.agent)
    due = (TUESDAY_11.date() + timedelta(days=7)).isoformat()
    data = {"kind": "court_action", "proposal": "Assigner en paiement", "due_on": due}
    twice(client, f"/dossiers/{case.pk}/decisions/", data, ApprovalRequest)
    assert ApprovalRequest.objects.count() == 1


def test_a_decision_sent_twice_is_taken_once(client, users, case):
    approval = approval_request(case=case, kind="court_action", proposal="Assigner", actor=users.agent)
    client.force_login(users.approver)
    data = {"decision": "accept", "comment": "D'accord."}
    twice(client, f"/validations/{approval.pk}/decision/", data, ApprovalRequest)
    approval.refresh_from_db()
    assert approval.status == "accepted"


def test_a_letter_confirmed_twice_is_issued_once(client, users, case):
    client.force_login(users.agent)
    before = Letter.objects.count()
    twice(client, f"/courriers/dossier/{case.pk}/emettre/", {"kind": "reminder", "confirm": "yes"}, Letter)
    assert Letter.objects.count() == before + 1


def test_a_message_sent_twice_goes_once(client, users, case, django_capture_on_commit_callbacks):
    client.force_login(users.agent)
    with django_capture_on_commit_callbacks(execute=True):
        twice(client, f"/travail/dossiers/{case.pk}/message/email/", {}, OutboxMessage)
    assert OutboxMessage.objects.count() == 1


def test_a_payment_sent_twice_is_recorded_once(client, users, case):
    client.force_login(users.agent)
    data = {
        "paiement-amount": "60,00",
        "paiement-method": "transfer",
        "paiement-collected_on": TUESDAY_11.date().isoformat(),
        "paiement-key": "",
    }
    twice(client, f"/paiements/dossiers/{case.pk}/paiement/", data, Payment)
    assert Payment.objects.count() == 1


def test_a_plan_proposed_twice_is_proposed_once(client, users, case):
    client.force_login(users.agent)
    data = {"count": "3", "rhythm": "monthly", "first_due_on": "2026-07-15", "custom": ""}
    twice(client, f"/paiements/dossiers/{case.pk}/plan/proposer/", data, Plan)
    assert Plan.objects.count() == 1


# --- what gives the token back, whose token it is, and the race ------------------------------------------


def test_a_refused_submit_gives_its_token_back(client, users, case):
    """An empty comment is refused: the same form, corrected, is then recorded (not replayed)."""
    client.force_login(users.agent)
    token = uuid.uuid4().hex
    client.post(f"/dossiers/{case.pk}/commentaires/", {"body": "", once.FIELD: token})
    assert not Comment.objects.exists() and not FormSubmission.objects.exists()
    response = client.post(f"/dossiers/{case.pk}/commentaires/", {"body": "Corrigé.", once.FIELD: token})
    assert flash(response) != [once.DUPLICATE]
    assert list(Comment.objects.values_list("body", flat=True)) == ["Corrigé."]


def test_a_token_is_the_users_own(client, users, case):
    """Another user sending the same token value is a submit of their own."""
    token = uuid.uuid4().hex
    other = make_user("agent")
    for user in (users.agent, other):
        client.force_login(user)
        client.post(f"/dossiers/{case.pk}/commentaires/", {"body": "Vu.", once.FIELD: token})
    assert Comment.objects.count() == 2


def test_a_malformed_token_is_ignored(client, users, case):
    client.force_login(users.agent)
    client.post(f"/dossiers/{case.pk}/commentaires/", {"body": "Vu.", once.FIELD: "pas-un-jeton"})
    assert Comment.objects.count() == 1 and not FormSubmission.objects.exists()


def test_a_second_submit_while_the_first_runs_waits_for_its_result(client, users, case, monkeypatch):
    """The first submit claimed the token and is still running: the second one creates nothing and, once the
    first one has answered, goes where it led."""
    token = uuid.uuid4()
    claim = FormSubmission.objects.create(user=users.agent, token=token)
    waits = []

    def first_one_answers(seconds):  # the first submit answers while the second one waits
        waits.append(seconds)
        FormSubmission.objects.filter(pk=claim.pk).update(location=f"/dossiers/{case.pk}/#commentaires")

    monkeypatch.setattr(once.time, "sleep", first_one_answers)
    client.force_login(users.agent)
    response = client.post(f"/dossiers/{case.pk}/commentaires/", {"body": "Vu.", once.FIELD: token.hex})
    assert response["Location"] == f"/dossiers/{case.pk}/#commentaires"
    assert flash(response) == [once.DUPLICATE] and not Comment.objects.exists()
    assert len(waits) == 1


def test_a_first_submit_that_never_answers_leaves_the_second_one_creating_nothing(client, users, case, monkeypatch):
    FormSubmission.objects.create(user=users.agent, token=(token := uuid.uuid4()))
    monkeypatch.setattr(once, "WAIT_SECONDS", 0.2)
    client.force_login(users.agent)
    page = f"http://testserver/dossiers/{case.pk}/"
    response = client.post(
        f"/dossiers/{case.pk}/commentaires/", {"body": "Vu.", once.FIELD: token.hex}, headers={"Referer": page}
    )
    assert response["Location"] == page and flash(response) == [once.IN_PROGRESS]
    assert not Comment.objects.exists()
    other_site = client.post(
        f"/dossiers/{case.pk}/commentaires/",
        {"body": "Vu.", once.FIELD: token.hex},
        headers={"Referer": "https://ailleurs.example/"},
    )
    assert other_site["Location"] == "/"


def test_tokens_are_forgotten_after_a_day_by_the_daily_run(users):
    FormSubmission.objects.create(user=users.agent, token=uuid.uuid4(), location="/")
    with time_machine.travel(TUESDAY_11 + timedelta(hours=23), tick=False):
        FormSubmission.objects.create(user=users.agent, token=uuid.uuid4(), location="/")
    with time_machine.travel(TUESDAY_11 + timedelta(hours=25), tick=False):
        call_command("purge_form_tokens", stdout=(out := io.StringIO()))
    assert FormSubmission.objects.count() == 1
    assert "1 jeton(s)" in out.getvalue()
    assert "purge_form_tokens" in DAILY_JOBS


def test_every_post_form_of_the_templates_carries_the_tag():
    """A new form needs the tag: every `<form method="post">` of the templates holds `{% once_token %}`
    (the anonymous login and password pages excepted: nobody is logged in to own a token)."""
    import re
    from pathlib import Path

    root = Path(once.__file__).resolve().parents[1] / "templates"
    missing = []
    for path in root.rglob("*.html"):
        if path.parent.name == "registration":
            continue
        for form in re.findall(r'<form method="post".*?</form>', path.read_text(), flags=re.S):
            if "{% once_token %}" not in form:
                missing.append(f"{path.relative_to(root)}: {form[:80]}")
    assert not missing, missing
