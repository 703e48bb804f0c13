"""E-mail and SMS from the case page: preview without sending, send within the policy; the outbox page with
the state of each delivery and its « Renvoyer » button, for the agency only."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from lxml import html as lxml_html

from amiable.audit.models import AuditEvent
from amiable.contact.messaging import email_send
from amiable.contact.models import MessageStatus, OutboxMessage
from amiable.letters.services import letter_issue
from tests.contact.stand_ins import FlakyEmailBackend
from tests.work_fixtures import posted

TUESDAY_11 = datetime(2026, 7, 7, 11, 0, tzinfo=ZoneInfo("Europe/Paris"))
SUNDAY_11 = datetime(2026, 7, 5, 11, 0, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture
def case(case_factory, users):
    case = case_factory(ack=date(2026, 6, 1), email="marie.dupont@exemple.fr", phone="+33612345678")
    posted(letter_issue(case=case, kind="first", actor=users.agent, issued_on=date(2026, 6, 1)))
    return case


@time_machine.travel(TUESDAY_11, tick=False)
def test_preview_shows_the_email_and_sends_nothing(client, users, case):
    client.force_login(users.agent)
    response = client.get(f"/travail/dossiers/{case.pk}/message/email/apercu/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "marie.dupont@exemple.fr" in html
    assert case.letters.get().number in html and "01/06/2026" in html
    assert mail.outbox == [] and not OutboxMessage.objects.exists()


@time_machine.travel(TUESDAY_11, tick=False)
def test_send_from_the_case_page_and_see_it_in_the_outbox(client, users, case, django_capture_on_commit_callbacks):
    client.force_login(users.agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/travail/dossiers/{case.pk}/message/email/")
    assert (response.status_code, response["Location"]) == (302, f"/dossiers/{case.pk}/")
    assert "E-mail mis en file d&#x27;envoi" in client.get(response["Location"]).content.decode()
    assert [m.to for m in mail.outbox] == [["marie.dupont@exemple.fr"]]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/travail/dossiers/{case.pk}/message/sms/")
    assert OutboxMessage.objects.filter(channel="sms", to="+33612345678", status="sent").count() == 1
    outbox = client.get("/travail/messages-envoyes/").content.decode()
    assert outbox.count(f'<a href="/dossiers/{case.pk}/">{case.reference}</a>') == 2
    assert "<td>E-mail</td>" in outbox and "<td>SMS</td>" in outbox
    assert outbox.count(">Envoyé</span>") == 2 and "1 tentative<" in outbox
    assert "Renvoyer</button>" not in outbox  # nothing failed


@time_machine.travel(SUNDAY_11, tick=False)
def test_sending_on_a_sunday_is_refused_with_the_policy_reason(client, users, case):
    client.force_login(users.agent)
    response = client.post(f"/travail/dossiers/{case.pk}/message/email/", follow=True)
    assert "E-mail refusé par la politique de contact : jour non autorisé" in response.content.decode()
    assert not OutboxMessage.objects.exists() and mail.outbox == []


@time_machine.travel(SUNDAY_11, tick=False)
def test_a_refused_message_shows_the_refusal_beside_the_send_button(client, users, case):
    client.force_login(users.agent)
    response = client.post(f"/travail/dossiers/{case.pk}/message/sms/")
    assert response.status_code == 200  # the preview again, not another page
    doc = lxml_html.fromstring(response.content.decode())
    refusal = doc.xpath('//*[@id="envoi-refuse"]')[0]
    assert "SMS refusé par la politique de contact : jour non autorisé" in refusal.text_content()
    assert doc.xpath('//form//button[@aria-describedby="envoi-refuse"]')
    assert "+33612345678" in response.content.decode()  # with the message it would have sent
    assert not OutboxMessage.objects.exists()


def test_creditor_staff_cannot_preview_send_or_read_the_outbox(client, users, case):
    client.force_login(users.creditor_admin)
    assert client.get(f"/travail/dossiers/{case.pk}/message/email/apercu/").status_code == 403
    assert client.post(f"/travail/dossiers/{case.pk}/message/sms/").status_code == 403
    assert client.get("/travail/messages-envoyes/").status_code == 403
    assert not OutboxMessage.objects.exists()


@time_machine.travel(TUESDAY_11, tick=False)
def test_call_script_recalls_the_first_letter(client, users, case):
    client.force_login(users.agent)
    html = client.get(f"/travail/dossiers/{case.pk}/actions/").content.decode()
    first = case.letters.get()
    assert f"notre courrier référence {first.number} du 01/06/2026" in html


@pytest.fixture
def failed(client, users, case, settings, django_capture_on_commit_callbacks):
    """An e-mail decided on Tuesday 7 July 2026 at 11:00 whose delivery the relay refused."""
    settings.EMAIL_BACKEND = "tests.contact.stand_ins.FlakyEmailBackend"
    FlakyEmailBackend.refuse = True
    with time_machine.travel(TUESDAY_11, tick=False), django_capture_on_commit_callbacks(execute=True):
        message = email_send(case=case, actor=users.agent)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    return message


def test_the_outbox_shows_the_failure_and_its_reason_and_renvoyer_sends_it(
    client, users, failed, django_capture_on_commit_callbacks
):
    client.force_login(users.agent)
    with time_machine.travel(TUESDAY_11 + timedelta(minutes=1), tick=False):
        html = client.get("/travail/messages-envoyes/").content.decode()
        assert ">Échec de l&#x27;envoi</span>" in html
        assert "Raison : destinataire refusé par le serveur de messagerie : 550 5.1.1 Mailbox unavailable" in html
        assert "1 tentative<" in html and "Prochain essai : 07/07/2026 à 11:05" in html
        assert f'action="/travail/messages-envoyes/{failed.pk}/renvoyer/"' in html

        FlakyEmailBackend.refuse = False
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/travail/messages-envoyes/{failed.pk}/renvoyer/")
        assert (response.status_code, response["Location"]) == (302, "/travail/messages-envoyes/")
        html = client.get(response["Location"]).content.decode()  # the delivery ran once the retry committed

    assert "Nouvel envoi demandé" in html
    assert ">Envoyé</span>" in html and "2 tentatives<" in html and "Raison :" not in html
    assert [m.to for m in mail.outbox] == [["marie.dupont@exemple.fr"]]
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.error) == (MessageStatus.SENT, 2, "")
    retried = AuditEvent.objects.get(verb="email.retried")
    assert retried.actor == users.agent and retried.case_pk == failed.case_id


def test_renvoyer_outside_the_contact_hours_is_refused_with_the_reason(client, users, failed):
    client.force_login(users.agent)
    FlakyEmailBackend.refuse = False
    with time_machine.travel(SUNDAY_11 + timedelta(days=7), tick=False):
        response = client.post(f"/travail/messages-envoyes/{failed.pk}/renvoyer/", follow=True)
    assert (
        "Renvoi refusé par la politique de contact : jour non autorisé par la politique de contact"
        ". Prochain créneau autorisé : lundi 13 juillet à 10 h 00." in response.content.decode()
    )
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (MessageStatus.FAILED, 1)
    assert mail.outbox == [] and not AuditEvent.objects.filter(verb="email.retried").exists()


def audited() -> int:
    return AuditEvent.objects.exclude(verb__startswith="auth.").count()  # logging in is audited too


def test_creditor_staff_cannot_retry_a_message(client, users, failed):
    before = (failed.status, failed.attempts, audited())
    FlakyEmailBackend.refuse = False
    for user, status in ((users.creditor_admin, 403), (users.other_admin, 404), (users.csr_only, 404)):
        client.force_login(user)
        assert client.post(f"/travail/messages-envoyes/{failed.pk}/renvoyer/").status_code == status
    client.force_login(users.agent)
    assert client.get(f"/travail/messages-envoyes/{failed.pk}/renvoyer/").status_code == 405
    assert client.post("/travail/messages-envoyes/999999/renvoyer/").status_code == 404
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, audited()) == before
    assert mail.outbox == []
