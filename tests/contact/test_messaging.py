"""E-mails and SMS to debtors: after the first letter only (R124-4), recalling it (L2), within the contact
policy (L8), without a word about the care or the centre (L9), stored when decided and delivered once the
transaction commits. Delivery failures and retries: test_outbox.py and test_smtp.py."""

from datetime import date, datetime, time

import pytest
from django.core import mail
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.cases.models import Action, Case, CaseEvent, Channel, Debtor
from amiable.cases.services import contact_point_add
from amiable.contact.messaging import SMS_MAX, email_content, email_send, sms_content, sms_send
from amiable.contact.models import MessageStatus, OutboxMessage
from amiable.core.dates import format_date
from amiable.core.exceptions import ApplicationError
from amiable.core.money import format_money
from amiable.creditors.models import Agency
from amiable.letters.models import LetterKind
from amiable.letters.services import letter_issue
from tests.work_fixtures import DEBTOR_EMAIL, DEBTOR_PHONE, posted

TUESDAY = date(2026, 10, 13)
LETTER_DAY = date(2026, 10, 5)
SECRET_WORDS = ("dentaire", "orthodontie", "orthodont", "soins")


def paris(day: date, hour: int = 11, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


class RecordingSmsSender:
    """An SMS provider stand-in, set through settings.AMIABLE_SMS_SENDER: records what it is asked to send."""

    calls: list[tuple[str, str]] = []

    def send(self, *, to: str, text: str) -> None:
        type(self).calls.append((to, text))


@pytest.fixture
def case(case_factory):
    """A case of the dental centre (its name is the L9 trap) with a valid e-mail and phone, no letter yet."""
    return case_factory(
        ack=LETTER_DAY, email=DEBTOR_EMAIL, phone=DEBTOR_PHONE, principal="1234.56", reference="DOS-2026-0042"
    )


@pytest.fixture
def first_letter(case, users):
    return posted(letter_issue(case=case, kind=LetterKind.FIRST, actor=users.agent, issued_on=LETTER_DAY))


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Decide a message and commit, as a request does: its delivery task runs after the commit."""

    def run(send, **kwargs) -> OutboxMessage:
        with django_capture_on_commit_callbacks(execute=True):
            message = send(**kwargs)
        message.refresh_from_db()
        return message

    return run


def stored() -> tuple[int, int]:
    # Recovery messages only: a receipt the agency owes the debtor goes through the outbox too.
    recovery = OutboxMessage.objects.filter(kind="recovery")
    return recovery.count(), Action.objects.filter(channel__in=[Channel.EMAIL, Channel.SMS]).count()


# --- e-mail: refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["collaborator", "creditor_admin", "other_admin"])
def test_only_agency_staff_or_the_system_write_to_debtors(first_letter, users, role):
    """The services refuse a creditor's staff themselves, whatever calls them; nothing is sent or kept."""
    events = AuditEvent.objects.filter(verb__regex=r"^(email|sms)\.")
    before = stored(), events.count()

    for send in (email_send, sms_send):
        with pytest.raises(ApplicationError) as exc:
            send(case=first_letter.case, actor=getattr(users, role), at=paris(TUESDAY))
        assert exc.value.message == "Seule l'agence écrit aux débiteurs."

    assert (stored(), events.count()) == before
    assert mail.outbox == []


def test_email_refused_before_the_first_letter(case, users):
    with pytest.raises(ApplicationError, match=r"R124-4") as exc:
        email_send(case=case, actor=users.agent, at=paris(TUESDAY))

    assert "lettre" in exc.value.message
    assert stored() == (0, 0)
    assert mail.outbox == []


@pytest.mark.parametrize("quality", [None, "doubtful", "invalid", "unknown"])
def test_email_refused_without_a_valid_email(case_factory, users, quality):
    case = case_factory(ack=LETTER_DAY, phone=DEBTOR_PHONE)
    if quality:
        contact_point_add(
            debtor=case.debtor, kind="email", value=DEBTOR_EMAIL, quality=quality, source="Appel", actor=None
        )
    posted(letter_issue(case=case, kind=LetterKind.FIRST, actor=users.agent, issued_on=LETTER_DAY))

    with pytest.raises(ApplicationError, match=r"^Aucun e-mail valide pour ce débiteur\.$"):
        email_send(case=case, actor=users.agent, at=paris(TUESDAY))

    assert stored() == (0, 0)
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("at", "reason", "slot"),
    [
        (
            paris(TUESDAY, 9, 59),
            "hors des plages horaires autorisées (10:00-13:00,14:00-20:00)",
            "mardi 13 octobre à 10 h 00",
        ),
        (
            paris(TUESDAY, 13, 30),
            "hors des plages horaires autorisées (10:00-13:00,14:00-20:00)",
            "mardi 13 octobre à 14 h 00",
        ),
        (
            paris(TUESDAY, 20, 0),
            "hors des plages horaires autorisées (10:00-13:00,14:00-20:00)",
            "mercredi 14 octobre à 10 h 00",
        ),
        (paris(date(2026, 7, 14)), "jour férié", "mercredi 15 juillet à 10 h 00"),  # Tuesday 14 July 2026
        (paris(date(2026, 11, 11)), "jour férié", "jeudi 12 novembre à 10 h 00"),  # Wednesday 11 November 2026
        (
            paris(date(2026, 10, 11)),
            "jour non autorisé par la politique de contact",
            "lundi 12 octobre à 10 h 00",
        ),  # Sunday
    ],
)
def test_email_refused_outside_allowed_hours_and_days(first_letter, users, at, reason, slot):
    with pytest.raises(ApplicationError, match=r"^E-mail refusé par la politique de contact : (.+)\.$") as exc:
        email_send(case=first_letter.case, actor=users.agent, at=at)

    assert (
        exc.value.message
        == f"E-mail refusé par la politique de contact : {reason}. Prochain créneau autorisé : {slot}."
    )
    assert stored() == (0, 0)
    assert mail.outbox == []


@pytest.mark.parametrize("at", [paris(TUESDAY, 10, 0), paris(TUESDAY, 12, 59), paris(TUESDAY, 19, 59)])
def test_email_allowed_within_the_hours(first_letter, users, at, committed):
    message = committed(email_send, case=first_letter.case, actor=users.agent, at=at)

    assert message.action.at == at
    assert len(mail.outbox) == 1


def test_email_refused_beyond_four_in_thirty_days(first_letter, users, committed):
    case = first_letter.case
    for day in (date(2026, 9, 15), date(2026, 9, 22), date(2026, 9, 29), date(2026, 10, 6)):
        committed(email_send, case=case, actor=users.agent, at=paris(day))
    assert stored() == (4, 4)

    with pytest.raises(ApplicationError, match=r"plafond atteint : 4 e-mail\(s\) sur 30 jours \(maximum 4\)"):
        email_send(case=case, actor=users.agent, at=paris(TUESDAY))

    assert stored() == (4, 4)
    assert len(mail.outbox) == 4
    # Thirty days after the first one, the window holds three: a fifth may go.
    committed(email_send, case=case, actor=users.agent, at=paris(date(2026, 10, 15)))
    assert len(mail.outbox) == 5


@pytest.mark.parametrize("block", ["do_not_contact", "oi_admissible"])
def test_email_refused_to_a_debtor_who_may_not_be_contacted(first_letter, users, block):
    case = first_letter.case
    if block == "do_not_contact":
        Debtor.objects.filter(pk=case.debtor_id).update(do_not_contact=True)
    else:
        CaseEvent.objects.create(case=case, kind=block, occurred_on=LETTER_DAY, recorded_by=users.agent)

    with pytest.raises(ApplicationError, match=r"^E-mail refusé par la politique de contact"):
        email_send(case=case, actor=users.agent, at=paris(TUESDAY))

    assert stored() == (0, 0)
    assert mail.outbox == []


# --- e-mail: what is sent and kept ------------------------------------------------------------------------


def test_email_sent_recalls_the_first_letter_and_keeps_medical_secrecy(first_letter, users, reference, committed):
    case = first_letter.case
    at = paris(TUESDAY, 15, 30)

    message = committed(email_send, case=case, actor=users.agent, at=at)

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [DEBTOR_EMAIL]
    assert sent.subject == f"Votre dossier DOS-2026-0042 — {reference.cpam.name}"
    assert len(sent.alternatives) == 1
    html, mimetype = sent.alternatives[0]
    assert mimetype == "text/html"
    text = sent.body
    amount = format_money(case.claimed_amount)
    assert amount == format_money("1234.56")
    for part in (text, html):
        assert first_letter.number in part  # L2: the first letter's reference…
        assert format_date(LETTER_DAY) in part  # …and date, dd/mm/yyyy
        assert "05/10/2026" in part
        assert amount in part
        assert "DOS-2026-0042" in part
    assert "<p>" in html and "<p>" not in text
    for part in (sent.subject, text, html):  # L9: neither the centre nor the care
        assert reference.cdop.name.lower() not in part.lower()
        assert "centre dentaire" not in part.lower()
        for word in SECRET_WORDS:
            assert word not in part.lower()

    assert message.channel == Channel.EMAIL
    assert (message.to, message.subject, message.text, message.html) == (DEBTOR_EMAIL, sent.subject, text, html)
    assert (message.status, message.attempts, message.error) == (MessageStatus.SENT, 1, "")
    assert message.sent_at is not None and message.next_attempt_at is None
    agency_email = Agency.objects.get().email
    assert (message.first_letter, message.reply_to) == (first_letter, agency_email)
    assert sent.reply_to == [agency_email]
    action = Action.objects.get(case=case, channel=Channel.EMAIL)
    assert message.action == action
    assert (action.at, action.actor) == (at, users.agent)
    assert DEBTOR_EMAIL in action.summary
    decided = AuditEvent.objects.get(verb="email.queued")  # the agent's decision…
    assert (decided.case_pk, decided.actor) == (case.pk, users.agent)
    assert decided.after["first_letter"] == first_letter.number
    assert decided.after["to"] == DEBTOR_EMAIL
    delivered = AuditEvent.objects.get(verb="email.sent")  # …and the delivery, by the system
    assert (delivered.case_pk, delivered.actor) == (case.pk, None)
    assert delivered.after == {"to": DEBTOR_EMAIL, "first_letter": first_letter.number, "attempts": 1}


# --- SMS ----------------------------------------------------------------------------------------------------


def test_sms_refused_before_the_first_letter(case, users):
    with pytest.raises(ApplicationError, match=r"R124-4"):
        sms_send(case=case, actor=users.agent, at=paris(TUESDAY))
    assert stored() == (0, 0)


def test_sms_refused_without_a_valid_phone(case_factory, users):
    case = case_factory(ack=LETTER_DAY, email=DEBTOR_EMAIL)
    posted(letter_issue(case=case, kind=LetterKind.FIRST, actor=users.agent, issued_on=LETTER_DAY))

    with pytest.raises(ApplicationError, match=r"^Aucun numéro de téléphone valide pour ce débiteur\.$"):
        sms_send(case=case, actor=users.agent, at=paris(TUESDAY))
    assert stored() == (0, 0)


def test_sms_refused_on_a_public_holiday(first_letter, users):
    with pytest.raises(
        ApplicationError,
        match=r"^SMS refusé par la politique de contact : jour férié\. "
        r"Prochain créneau autorisé : mercredi 15 juillet à 10 h 00\.$",
    ):
        sms_send(case=first_letter.case, actor=users.agent, at=paris(date(2026, 7, 14)))
    assert stored() == (0, 0)


def test_sms_short_recalls_the_first_letter_without_the_creditor(first_letter, users, reference, settings, committed):
    assert settings.AMIABLE_SMS_SENDER == "amiable.contact.messaging.OutboxSmsSender"
    case = first_letter.case
    at = paris(TUESDAY)

    message = committed(sms_send, case=case, actor=users.agent, at=at)

    text = message.text
    assert 0 < len(text) <= SMS_MAX == 320
    assert first_letter.number in text
    assert "05/10/2026" in text
    assert "DOS-2026-0042" in text
    assert format_money("1234.56") in text
    lowered = text.lower()
    assert reference.cpam.name.lower() not in lowered  # L9: who the creditor is tells the care
    assert "cpam" not in lowered and "assurance maladie" not in lowered
    assert reference.cdop.name.lower() not in lowered
    for word in SECRET_WORDS:
        assert word not in lowered
    assert (message.channel, message.to, message.subject, message.html) == (Channel.SMS, DEBTOR_PHONE, "", "")
    assert message.status == MessageStatus.SENT and message.sent_at is not None
    action = Action.objects.get(case=case, channel=Channel.SMS)
    assert message.action == action and action.at == at and action.actor == users.agent
    assert AuditEvent.objects.get(verb="sms.queued").after["first_letter"] == first_letter.number
    assert AuditEvent.objects.get(verb="sms.sent").after["first_letter"] == first_letter.number
    assert mail.outbox == []


def test_sms_goes_through_the_sender_set_in_settings(first_letter, users, settings, committed):
    settings.AMIABLE_SMS_SENDER = f"{__name__}.RecordingSmsSender"
    RecordingSmsSender.calls = []

    message = committed(sms_send, case=first_letter.case, actor=users.agent, at=paris(TUESDAY))

    assert RecordingSmsSender.calls == [(DEBTOR_PHONE, message.text)]
    assert OutboxMessage.objects.get().pk == message.pk


# --- the remaining balance ------------------------------------------------------------------------------


def _pay(case, amount: str, users):
    from amiable.payments.services import payment_record

    payment_record(case=case, amount=amount, collected_on=date(2026, 10, 8), method="transfer", actor=users.agent)
    case.refresh_from_db()
    return case


def test_reminders_ask_the_remaining_balance_after_a_payment(first_letter, users, committed):
    case = _pay(first_letter.case, "40.00", users)  # 1 234,56 € claimed

    email = committed(email_send, case=case, actor=users.agent, at=paris(TUESDAY, 15, 30))
    sms = committed(sms_send, case=case, actor=users.agent, at=paris(TUESDAY, 16))

    remaining, paid = format_money("1194.56"), format_money("40.00")
    for text in (email.text, email.html):
        assert f"la somme de {remaining}" in text.replace("<strong>", "").replace("</strong>", "")
        assert f"après déduction des paiements déjà reçus ({paid})" in text
        assert format_money("1234.56") not in text
    assert f"la somme de {remaining} reste due" in sms.text
    assert format_money("1234.56") not in sms.text
    assert mail.outbox[0].body == email.text


def test_no_reminder_when_nothing_remains_due(first_letter, users):
    case = _pay(first_letter.case, "1234.56", users)
    assert case.status == "paid"
    Case.objects.filter(pk=case.pk).update(status="in_progress")  # a zero balance is never chased, whatever
    case.refresh_from_db()

    for send, label in ((email_send, "E-mail"), (sms_send, "SMS")):
        with pytest.raises(ApplicationError) as exc:
            send(case=case, actor=users.agent, at=paris(TUESDAY))
        assert exc.value.message == (
            f"{label} refusé par la politique de contact : rien ne reste dû sur ce dossier "
            f"(reste dû : {format_money('0')}) : aucune relance."
        )
    assert stored() == (0, 0)
    for content in (email_content, sms_content):  # the previews say so too
        with pytest.raises(ApplicationError, match="^Rien ne reste dû sur le dossier DOS-2026-0042 : aucune relance"):
            content(case=case)
