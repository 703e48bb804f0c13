"""The outbox: a message decided with its case locked (the cap holds), delivered once the decision commits,
marked sent or failed with the reason, retried by `deliver_outbox` within the contact rule, never twice."""

import threading
from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.cases.models import Action, Channel, Debtor
from amiable.contact.messaging import (
    MAX_ATTEMPTS,
    QUEUED_GRACE,
    RETRY_DELAYS,
    email_send,
    message_deliver,
    message_retry,
    sms_send,
)
from amiable.contact.models import MessageStatus, OutboxMessage
from amiable.contact.tasks import outbox_deliver
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import ContractTerms
from amiable.letters.models import LetterKind
from amiable.letters.services import letter_issue
from amiable.ops.management.commands.run_daily import DAILY_JOBS
from tests.contact.stand_ins import FlakyEmailBackend, FlakySmsSender
from tests.work_fixtures import DEBTOR_EMAIL, DEBTOR_PHONE, posted

LETTER_DAY = date(2026, 10, 5)
PARIS = ZoneInfo("Europe/Paris")
TUESDAY_11 = datetime(2026, 10, 13, 11, 0, tzinfo=PARIS)
REFUSED = "destinataire refusé par le serveur de messagerie : 550 5.1.1 Mailbox unavailable"


@pytest.fixture(autouse=True)
def stand_ins(settings):
    settings.EMAIL_BACKEND = "tests.contact.stand_ins.FlakyEmailBackend"
    settings.AMIABLE_SMS_SENDER = "tests.contact.stand_ins.FlakySmsSender"
    FlakyEmailBackend.refuse = False
    FlakySmsSender.refuse = False
    FlakySmsSender.sent = []


@pytest.fixture
def case(case_factory, users):
    case = case_factory(ack=LETTER_DAY, email=DEBTOR_EMAIL, phone=DEBTOR_PHONE, reference="DOS-2026-0099")
    posted(letter_issue(case=case, kind=LetterKind.FIRST, actor=users.agent, issued_on=LETTER_DAY))
    return case


@pytest.fixture
def clock():
    """Tuesday 13 October 2026, 11:00 in Paris: within the contact hours; tests move it on by hand."""
    with time_machine.travel(TUESDAY_11, tick=False) as traveller:
        yield traveller


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Decide a message and commit, as a request does: its delivery task runs after the commit."""

    def run(sender=email_send, **kwargs) -> OutboxMessage:
        with django_capture_on_commit_callbacks(execute=True):
            message = sender(**kwargs)
        message.refresh_from_db()
        return message

    return run


def deliver_outbox(*options: str) -> str:
    out = StringIO()
    call_command("deliver_outbox", *options, stdout=out)
    return out.getvalue().strip()


def cap_at_one(case) -> None:
    ContractTerms.objects.filter(creditor=case.creditor).update(max_emails_per_30_days=1, max_sms_per_30_days=1)


# --- the decision and the commit ----------------------------------------------------------------------------


def test_nothing_leaves_before_the_commit_nor_when_the_decision_rolls_back(case, users, clock):
    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), transaction.atomic():
        email_send(case=case, actor=users.agent)
        raise Abandon

    assert not OutboxMessage.objects.exists() and not Action.objects.filter(channel=Channel.EMAIL).exists()
    assert mail.outbox == []

    message = email_send(case=case, actor=users.agent)  # the test's transaction never commits

    message.refresh_from_db()
    assert (message.status, message.attempts, message.sent_at) == (MessageStatus.QUEUED, 0, None)
    assert message.next_attempt_at == TUESDAY_11 + QUEUED_GRACE  # when the command takes it over
    assert mail.outbox == []


@pytest.mark.parametrize("sender", [email_send, sms_send])
def test_with_a_cap_of_one_the_second_send_in_a_row_is_refused(case, users, clock, send, sender):
    cap_at_one(case)
    send(sender, case=case, actor=users.agent)

    with pytest.raises(ApplicationError, match=r"plafond atteint : 1 (e-mail|sms)\(s\) sur 30 jours \(maximum 1\)"):
        send(sender, case=case, actor=users.supervisor)

    assert OutboxMessage.objects.count() == 1
    assert Action.objects.filter(channel__in=[Channel.EMAIL, Channel.SMS]).count() == 1
    assert len(mail.outbox) + len(FlakySmsSender.sent) == 1


def test_a_failed_delivery_counts_against_the_cap(case, users, clock, send):
    """It was decided and attempted: counting it is the safe side of the no-harassment rule."""
    cap_at_one(case)
    FlakyEmailBackend.refuse = True
    failed = send(case=case, actor=users.agent)
    assert (failed.status, failed.error) == (MessageStatus.FAILED, REFUSED)

    FlakyEmailBackend.refuse = False
    with pytest.raises(ApplicationError, match=r"plafond atteint"):
        send(case=case, actor=users.agent)

    assert OutboxMessage.objects.get() == failed and mail.outbox == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises writers at BEGIN IMMEDIATE")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sends_cannot_both_pass_a_cap_of_one(case, users, clock):
    cap_at_one(case)
    decided, release = threading.Event(), threading.Event()
    outcomes = {}

    def first():
        try:
            with transaction.atomic():
                email_send(case=case, actor=users.agent)
                decided.set()
                release.wait(10)  # keeps the case locked until the second send is waiting on it
            outcomes["first"] = "sent"
        finally:
            connection.close()

    def second():
        decided.wait(10)
        try:
            email_send(case=case, actor=users.supervisor)
            outcomes["second"] = "sent"
        except ApplicationError as exc:
            outcomes["second"] = exc.message
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    decided.wait(10)
    threads[1].join(1)
    assert threads[1].is_alive()  # waiting for the case's lock, not counting the attempts beside it
    release.set()
    for thread in threads:
        thread.join(10)

    assert outcomes["first"] == "sent"
    assert "plafond atteint : 1 e-mail(s) sur 30 jours (maximum 1)" in outcomes["second"]
    assert OutboxMessage.objects.count() == 1 and len(mail.outbox) == 1


# --- delivery, once -----------------------------------------------------------------------------------------


def test_a_message_is_delivered_once_however_often_its_delivery_runs(case, users, clock, send):
    message = send(case=case, actor=users.agent)
    assert message.status == MessageStatus.SENT

    assert message_deliver(message_id=message.pk) == "skipped"
    outbox_deliver.enqueue(message_id=message.pk)
    clock.shift(timedelta(days=1))
    assert deliver_outbox() == "Messages aux débiteurs : rien à envoyer."

    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert message.attempts == 1
    assert AuditEvent.objects.filter(verb="email.sent").count() == 1


def test_a_message_whose_task_was_lost_is_delivered_by_the_command_after_the_grace(case, users, clock):
    message = email_send(case=case, actor=users.agent)  # committed, say, while the worker was down

    assert deliver_outbox("--dry-run") == "Simulation : 0 message(s) à envoyer."
    assert deliver_outbox() == "Messages aux débiteurs : rien à envoyer."  # its task may still come
    clock.shift(QUEUED_GRACE)
    assert deliver_outbox("--dry-run").splitlines() == [
        "Simulation : 1 message(s) à envoyer.",
        f"  E-mail à {DEBTOR_EMAIL} — dossier DOS-2026-0099 — en attente d'envoi, 0 tentative(s)",
    ]
    assert mail.outbox == []
    assert deliver_outbox() == "Messages aux débiteurs : 1 envoyé(s)."
    assert deliver_outbox() == "Messages aux débiteurs : rien à envoyer."

    assert [m.to for m in mail.outbox] == [[DEBTOR_EMAIL]]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)


def test_an_sms_refused_by_the_provider_fails_with_its_reason_then_goes(case, users, clock, send):
    FlakySmsSender.refuse = True
    message = send(sms_send, case=case, actor=users.agent)

    assert (message.status, message.error) == (
        MessageStatus.FAILED,
        "refusé par le service SMS : 503 Service Unavailable",
    )
    FlakySmsSender.refuse = False
    clock.shift(RETRY_DELAYS[0])
    assert deliver_outbox() == "Messages aux débiteurs : 1 envoyé(s)."
    assert FlakySmsSender.sent == [(DEBTOR_PHONE, message.text)]


# --- automatic retries --------------------------------------------------------------------------------------


def test_retries_wait_longer_each_time_and_stop_after_the_last_attempt(case, users, clock, send):
    FlakyEmailBackend.refuse = True
    message = send(case=case, actor=users.agent)
    clock.move_to(message.next_attempt_at - timedelta(seconds=1))
    assert deliver_outbox() == "Messages aux débiteurs : rien à envoyer."  # not before its time
    waits = []
    for attempt in range(1, MAX_ATTEMPTS):
        assert (message.status, message.attempts) == (MessageStatus.FAILED, attempt)
        waits.append(message.next_attempt_at - message.last_attempt_at)
        outcome = None
        while outcome != "Messages aux débiteurs : 1 en échec.":
            # A retry due at lunchtime or at night is put off to the next allowed slot first.
            clock.move_to(message.next_attempt_at)
            outcome = deliver_outbox()
            message.refresh_from_db()
            assert message.attempts == attempt + (outcome == "Messages aux débiteurs : 1 en échec.")

    assert waits == list(RETRY_DELAYS)
    assert (message.status, message.attempts, message.next_attempt_at) == (MessageStatus.FAILED, MAX_ATTEMPTS, None)
    clock.shift(timedelta(days=7))
    assert deliver_outbox() == "Messages aux débiteurs : rien à envoyer."  # the automatic attempts ran out
    assert AuditEvent.objects.filter(verb="email.failed").count() == MAX_ATTEMPTS

    # An agent may still try once more, by hand, once the relay is fixed.
    FlakyEmailBackend.refuse = False
    clock.move_to(TUESDAY_11 + timedelta(days=7))
    retried = send(message_retry, message=message, actor=users.agent)
    assert (retried.status, retried.attempts) == (MessageStatus.SENT, MAX_ATTEMPTS + 1)
    assert len(mail.outbox) == 1


def test_a_retry_outside_the_contact_hours_waits_for_the_next_slot(case, users, send):
    with time_machine.travel(datetime(2026, 10, 13, 19, 58, tzinfo=PARIS), tick=False) as clock:
        FlakyEmailBackend.refuse = True
        message = send(case=case, actor=users.agent)
        FlakyEmailBackend.refuse = False

        clock.shift(RETRY_DELAYS[0])  # 20:03: the hours are over
        assert deliver_outbox() == "Messages aux débiteurs : 1 reporté(s) au prochain créneau autorisé."
        message.refresh_from_db()
        assert message.status == MessageStatus.FAILED and message.attempts == 1  # not an attempt
        assert timezone.localtime(message.next_attempt_at) == datetime(2026, 10, 14, 10, 0, tzinfo=PARIS)
        assert deliver_outbox() == "Messages aux débiteurs : rien à envoyer."

        clock.move_to(datetime(2026, 10, 14, 10, 0, tzinfo=PARIS))
        assert deliver_outbox() == "Messages aux débiteurs : 1 envoyé(s)."

    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)


def test_a_retry_after_a_do_not_contact_request_abandons_the_message(case, users, clock, send):
    FlakyEmailBackend.refuse = True
    message = send(case=case, actor=users.agent)
    FlakyEmailBackend.refuse = False
    Debtor.objects.filter(pk=case.debtor_id).update(do_not_contact=True)

    clock.shift(RETRY_DELAYS[0])
    assert deliver_outbox() == "Messages aux débiteurs : 1 abandonné(s)."

    message.refresh_from_db()
    assert message.status == MessageStatus.CANCELLED and message.next_attempt_at is None
    assert message.error == "abandonné : le débiteur a demandé à ne plus être contacté"
    assert AuditEvent.objects.get(verb="email.cancelled").after["reason"] == (
        "le débiteur a demandé à ne plus être contacté"
    )
    with pytest.raises(
        ApplicationError, match=r"^Ce message est « abandonné » : seul un message en échec se renvoie\.$"
    ):
        message_retry(message=message, actor=users.agent)
    assert mail.outbox == []


def test_an_attempt_interrupted_by_a_crash_is_closed_as_failed_and_left_to_an_agent(case, users, clock):
    message = email_send(case=case, actor=users.agent)
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, attempts=1, last_attempt_at=timezone.now(), next_attempt_at=None
    )
    clock.shift(timedelta(minutes=5))
    assert deliver_outbox() == "Messages aux débiteurs : rien à envoyer."  # it may still be on its way

    clock.shift(timedelta(minutes=15))
    assert deliver_outbox() == "Messages aux débiteurs : 1 envoi(s) interrompu(s)."
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.next_attempt_at is None
    assert message.error.startswith("envoi interrompu : le message est peut-être parti")
    clock.shift(timedelta(days=1))
    assert deliver_outbox() == "Messages aux débiteurs : rien à envoyer."  # never resent by itself
    assert mail.outbox == []


# --- « Renvoyer » -------------------------------------------------------------------------------------------


def test_only_the_agency_retries_and_only_a_failed_message(case, users, clock, send):
    message = send(case=case, actor=users.agent)
    with pytest.raises(ApplicationError, match=r"^Ce message est « envoyé » : seul un message en échec se renvoie\.$"):
        message_retry(message=message, actor=users.agent)
    OutboxMessage.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED)
    for actor in (None, users.creditor_admin):
        with pytest.raises(ApplicationError, match=r"^Seule l'agence peut renvoyer un message\.$"):
            message_retry(message=message, actor=actor)
    assert not AuditEvent.objects.filter(verb="email.retried").exists()
    assert len(mail.outbox) == 1


def test_run_daily_retries_the_outbox():
    assert "deliver_outbox" in DAILY_JOBS
