"""An e-mail to a debtor through a real SMTP server (aiosmtpd on 127.0.0.1), and what happens when the server
refuses it or is down: an ApplicationError and nothing kept."""

import email
import socket
from datetime import date, datetime, time
from email import policy
from email.utils import parseaddr

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.cases.models import Action
from amiable.contact.messaging import email_send
from amiable.contact.models import OutboxMessage
from amiable.core.exceptions import ApplicationError
from amiable.letters.models import LetterKind
from amiable.letters.services import letter_issue
from tests.work_fixtures import DEBTOR_EMAIL

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
    return letter_issue(case=case, kind=LetterKind.FIRST, actor=users.agent, issued_on=LETTER_DAY)


def kept() -> tuple[int, int, int]:
    return OutboxMessage.objects.count(), Action.objects.count(), AuditEvent.objects.filter(verb="email.sent").count()


def test_email_goes_through_a_real_smtp_server(smtp_server, first_letter, users, settings):
    message = email_send(case=first_letter.case, actor=users.agent, at=AT)

    assert len(smtp_server.handler.envelopes) == 1
    envelope = smtp_server.handler.envelopes[0]
    assert envelope.rcpt_tos == [DEBTOR_EMAIL]
    assert envelope.mail_from == parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    received = email.message_from_bytes(envelope.content, policy=policy.default)
    # Python folds a long encoded subject right after « Subject: », which the parser reads back with a leading space.
    subject = received["Subject"].strip()
    assert subject == message.subject == "Votre dossier DOS-2026-0077 — " + first_letter.case.creditor.name
    assert received["To"] == DEBTOR_EMAIL
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
    assert kept() == (1, 2, 1)  # the outbox message, the first letter's and the e-mail's actions, the audit event
    message.refresh_from_db()
    assert message.sent_at is not None


@pytest.mark.parametrize("failure", ["server_down", "recipient_refused"])
def test_email_refused_by_the_server_keeps_nothing(smtp_server, first_letter, users, failure):
    if failure == "server_down":
        smtp_server.stop()
    else:
        smtp_server.handler.refuse = True
    before = kept()

    with pytest.raises(ApplicationError, match=r"^Le serveur de messagerie a refusé l'e-mail : .+\.$"):
        email_send(case=first_letter.case, actor=users.agent, at=AT)

    assert kept() == before  # the transaction rolled back: no OutboxMessage, no Action, no audit event
    assert not OutboxMessage.objects.exists()
    assert smtp_server.handler.envelopes == []
