"""E-mail and SMS from the case page: preview without sending, send within the policy, the outbox page."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from amiable.contact.models import OutboxMessage
from amiable.letters.services import letter_issue

TUESDAY_11 = datetime(2026, 7, 7, 11, 0, tzinfo=ZoneInfo("Europe/Paris"))
SUNDAY_11 = datetime(2026, 7, 5, 11, 0, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture
def case(case_factory, users):
    case = case_factory(ack=date(2026, 6, 1), email="marie.dupont@exemple.fr", phone="+33612345678")
    letter_issue(case=case, kind="first", actor=users.agent, issued_on=date(2026, 6, 1))
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


@time_machine.travel(SUNDAY_11, tick=False)
def test_sending_on_a_sunday_is_refused_with_the_policy_reason(client, users, case):
    client.force_login(users.agent)
    response = client.post(f"/travail/dossiers/{case.pk}/message/email/", follow=True)
    assert "E-mail refusé par la politique de contact : jour non autorisé" in response.content.decode()
    assert not OutboxMessage.objects.exists() and mail.outbox == []


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
