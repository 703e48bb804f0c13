"""An e-mail to a debtor through a real SMTP server (aiosmtpd on 127.0.0.1), delivered once the decision has
committed; when the server refuses it or is down, the message is marked failed with the server's reason and
kept (its action still counts), and `deliver_outbox` sends it once the server accepts again — once only."""

import email
import re
import socket
from datetime import date, datetime, time, timedelta
from email import policy
from email.utils import parseaddr
from io import StringIO

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.cases.models import Action, Channel
from amiable.contact.messaging import RETRY_DELAYS, email_send
from amiable.contact.models import MessageStatus, OutboxMessage
from amiable.creditors.models import Agency
from amiable.letters.models import LetterKind
from amiable.letters.services import letter_issue
from tests.work_fixtures import DEBTOR_EMAIL, posted

LETTER_DAY = date(2026, 10, 5)
AT = timezone.make_aware(datetime.combine(date(2026, 10, 13), time(11, 0)))  # a Tuesday, 11:00 Paris


class Collector:
    """An aiosmtpd handler keeping every message it accepts; refuses recipients when `refuse` is set."""

    def __init__(self):
        self.envelopes = []
        self.refuse = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return "550 5.1.1 Destinataire inconnu"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    def __init__(self):
        self.handler = Collector()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.running = False

    def start(self):
        self.controller.start()
        self.running = True

    def stop(self):
        if self.running:
            self.running = False
            self.controller.stop()


@pytest.fixture
def smtp_server(settings):
    server = SmtpServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    yield server
    server.stop()


@pytest.fixture
def first_letter(case_factory, users):
    case = case_factory(ack=LETTER_DAY, email=DEBTOR_EMAIL, reference="DOS-2026-0077")
    return posted(letter_issue(case=case, kind=LetterKind.FIRST, actor=users.agent, issued_on=LETTER_DAY))


def kept() -> tuple[int, int, int]:
    return OutboxMessage.objects.count(), Action.objects.count(), AuditEvent.objects.filter(verb="email.queued").count()


def test_email_is_delivered_after_the_commit_through_a_real_smtp_server(
    smtp_server, first_letter, users, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = email_send(case=first_letter.case, actor=users.agent, at=AT)
        # Decided and stored, not yet sent: nothing leaves before the transaction commits.
        assert OutboxMessage.objects.get().status == MessageStatus.QUEUED
        assert smtp_server.handler.envelopes == []

    assert len(smtp_server.handler.envelopes) == 1
    envelope = smtp_server.handler.envelopes[0]
    assert envelope.rcpt_tos == [DEBTOR_EMAIL]
    assert envelope.mail_from == parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    received = email.message_from_bytes(envelope.content, policy=policy.default)
    # Python folds a long encoded subject right after « Subject: », which the parser reads back with a leading space.
    subject = received["Subject"].strip()
    assert subject == message.subject == "Votre dossier DOS-2026-0077 — " + first_letter.case.creditor.name
    assert received["To"] == DEBTOR_EMAIL
    assert received["Reply-To"] == Agency.objects.get().email
    assert received.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in received.walk() if not part.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    for content in parts.values():
        assert first_letter.number in content
        assert "05/10/2026" in content
        assert "DOS-2026-0077" in content
        assert "dentaire" not in content.lower() and "orthodont" not in content.lower()
    assert "<p>" in parts["text/html"]
    assert parts["text/plain"].replace("\r\n", "\n").strip() == message.text.strip()  # CRLF on the wire
    assert kept() == (1, 2, 1)  # the outbox message, the first letter's and the e-mail's actions, the decision
    message.refresh_from_db()
    assert (message.status, message.attempts, message.error) == (MessageStatus.SENT, 1, "")
    assert message.sent_at is not None
    assert AuditEvent.objects.filter(verb="email.sent", case_pk=message.case_id).count() == 1


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        ("server_down", r"serveur de messagerie injoignable : .*refused"),
        ("recipient_refused", r"destinataire refusé par le serveur de messagerie : 550 5\.1\.1 Destinataire inconnu"),
    ],
)
def test_smtp_failure_marks_the_message_failed_and_keeps_the_attempt(
    smtp_server, first_letter, users, failure, reason, django_capture_on_commit_callbacks
):
    if failure == "server_down":
        smtp_server.stop()
    else:
        smtp_server.handler.refuse = True

    with django_capture_on_commit_callbacks(execute=True):
        message = email_send(case=first_letter.case, actor=users.agent, at=AT)  # the decision is not refused

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert re.fullmatch(reason, message.error), message.error
    assert message.attempts == 1 and message.sent_at is None
    assert message.next_attempt_at == message.last_attempt_at + RETRY_DELAYS[0]
    # The decision stands: its action still counts against the cap of the contact rule.
    assert kept() == (1, 2, 1)
    assert Action.objects.get(case=first_letter.case, channel=Channel.EMAIL) == message.action
    failed = AuditEvent.objects.get(verb="email.failed")
    assert failed.after == {"to": DEBTOR_EMAIL, "error": message.error, "attempts": 1}
    assert not AuditEvent.objects.filter(verb="email.sent").exists()
    assert smtp_server.handler.envelopes == []


def test_the_command_retries_a_refused_email_once_then_sends_nothing_twice(
    smtp_server, first_letter, users, django_capture_on_commit_callbacks
):
    smtp_server.handler.refuse = True
    with time_machine.travel(AT, tick=True) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            message = email_send(case=first_letter.case, actor=users.agent, at=AT)
        message.refresh_from_db()
        assert message.status == MessageStatus.FAILED
        smtp_server.handler.refuse = False  # the server accepts again

        assert deliver_outbox() == "Messages aux débiteurs : rien à envoyer."  # the retry waits its delay
        assert smtp_server.handler.envelopes == []

        clock.shift(RETRY_DELAYS[0] + timedelta(seconds=1))
        assert deliver_outbox() == "Messages aux débiteurs : 1 envoyé(s)."
        assert deliver_outbox() == "Messages aux débiteurs : rien à envoyer."
        clock.shift(timedelta(days=1))
        assert deliver_outbox() == "Messages aux débiteurs : rien à envoyer."

    assert len(smtp_server.handler.envelopes) == 1
    assert smtp_server.handler.envelopes[0].rcpt_tos == [DEBTOR_EMAIL]
    message.refresh_from_db()
    assert (message.status, message.attempts, message.error) == (MessageStatus.SENT, 2, "")
    assert Action.objects.filter(channel=Channel.EMAIL).count() == 1  # a retry is the same attempt
    assert AuditEvent.objects.filter(verb="email.sent").count() == 1


def deliver_outbox() -> str:
    out = StringIO()
    call_command("deliver_outbox", stdout=out)
    return out.getvalue().strip()
