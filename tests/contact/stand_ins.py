"""Stand-ins for the e-mail relay and the SMS provider, set through settings, that refuse while told to."""

import smtplib

from django.core import mail


class FlakyEmailBackend:
    """An e-mail backend (settings.EMAIL_BACKEND) whose relay refuses every recipient while `refuse` is set;
    otherwise it keeps the messages in `mail.outbox`, as the test backend does."""

    refuse = False

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        if type(self).refuse:
            recipients = {to: (550, b"5.1.1 Mailbox unavailable") for message in messages for to in message.to}
            raise smtplib.SMTPRecipientsRefused(recipients)
        mail.outbox.extend(messages)
        return len(messages)


class FlakySmsSender:
    """An SMS provider (settings.AMIABLE_SMS_SENDER) that records what it sends, and fails while `refuse` is set."""

    refuse = False
    sent: list[tuple[str, str]] = []

    def send(self, *, to: str, text: str) -> None:
        if type(self).refuse:
            raise RuntimeError("503 Service Unavailable")
        type(self).sent.append((to, text))
