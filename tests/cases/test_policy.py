"""The contact policy (L8, L10): allowed days and hours in Paris, no public holiday, 30-day caps per channel,
do-not-contact, and no action at all on a case stopped by over-indebtedness or a death — checked both on
`contact_refusal` and through `call_record`, which must write nothing when it refuses."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from amiable.audit.models import AuditEvent
from amiable.cases.models import Action, Channel
from amiable.cases.policy import case_contact_block
from amiable.cases.selectors import case_timeline
from amiable.cases.services import case_transition, debtor_do_not_contact_set
from amiable.casework.services import event_record
from amiable.contact.models import CallRecord
from amiable.contact.services import call_record
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import ContractTerms
from tests.factories import make_case
from tests.work_fixtures import first_letter_sent

PARIS = ZoneInfo("Europe/Paris")
PHONE = "+33612345678"
TUESDAY_11 = datetime(2026, 7, 7, 11, 0, tzinfo=PARIS)
HOLIDAY_11 = datetime(2026, 7, 14, 11, 0, tzinfo=PARIS)  # Fête nationale, a Tuesday
SUNDAY_11 = datetime(2026, 7, 12, 11, 0, tzinfo=PARIS)
LUNCH = datetime(2026, 7, 7, 13, 30, tzinfo=PARIS)
EVENING = datetime(2026, 7, 7, 20, 30, tzinfo=PARIS)
HOURS = "hors des plages horaires autorisées (10:00-13:00,14:00-20:00)"


@pytest.fixture
def case(reference, users):
    case = make_case(structure=reference.csr, reference="POL-0001", assigned_agent=users.agent)
    first_letter_sent(case)
    case.refresh_from_db()
    return case


def written(case) -> tuple[int, int, int]:
    return (
        Action.objects.filter(case=case, channel="call").count(),
        CallRecord.objects.filter(action__case=case).count(),
        AuditEvent.objects.filter(case_pk=case.pk, verb="call.recorded").count(),
    )


def refusal(case, *, channel, at) -> str | None:
    block = case_contact_block(case, channel, at)
    return None if block is None else block.reason


def call(case, actor, at, **extra):
    return call_record(case=case, actor=actor, number=PHONE, outcome="no_answer", at=at, **extra)


def test_default_terms_are_those_of_the_law():
    terms = ContractTerms._meta
    assert terms.get_field("contact_weekdays").default == "12345"
    assert terms.get_field("contact_hours").default == "10:00-13:00,14:00-20:00"
    assert terms.get_field("max_calls_per_30_days").default == 4
    assert terms.get_field("max_letters_per_30_days").default == 2


def test_tuesday_at_eleven_is_allowed(case):
    assert refusal(case, channel=Channel.CALL, at=TUESDAY_11) is None


@pytest.mark.parametrize(
    ("at", "reason", "key", "slot"),
    [
        (HOLIDAY_11, "jour férié", "public_holiday", "mercredi 15 juillet à 10 h 00"),
        (SUNDAY_11, "jour non autorisé par la politique de contact", "day_not_allowed", "lundi 13 juillet à 10 h 00"),
        (LUNCH, HOURS, "outside_hours", "mardi 7 juillet à 14 h 00"),
        (EVENING, HOURS, "outside_hours", "mercredi 8 juillet à 10 h 00"),
        (datetime(2026, 7, 7, 9, 59, tzinfo=PARIS), HOURS, "outside_hours", "mardi 7 juillet à 10 h 00"),
    ],
)
def test_calls_are_refused_outside_allowed_days_and_hours(case, users, at, reason, key, slot):
    block = case_contact_block(case, Channel.CALL, at)
    assert (block.reason, block.key) == (reason, key)
    assert block.message == f"{reason}. Prochain créneau autorisé : {slot}"

    with pytest.raises(ApplicationError) as error:
        call(case, users.agent, at)

    assert (
        error.value.message
        == f"Appel refusé par la politique de contact : {reason}. Prochain créneau autorisé : {slot}."
    )
    assert written(case) == (0, 0, 0)


def test_hours_are_read_in_paris_time_whatever_the_instant_zone(case):
    # 09:00 UTC on 7 July is 11:00 in Paris (summer time): allowed.
    assert refusal(case, channel=Channel.CALL, at=datetime(2026, 7, 7, 9, 0, tzinfo=ZoneInfo("UTC"))) is None
    # 12:00 UTC is 14:00 in Paris... and 11:30 UTC is 13:30, the lunch break.
    assert refusal(case, channel=Channel.CALL, at=datetime(2026, 7, 7, 11, 30, tzinfo=ZoneInfo("UTC"))) == HOURS


def test_fifth_call_within_thirty_days_is_refused(case, users):
    days = [TUESDAY_11 + timedelta(days=n) for n in (0, 1, 2, 3)]  # Tuesday to Friday
    for at in days:
        call(case, users.agent, at)
    assert written(case) == (4, 4, 4)
    monday = TUESDAY_11 + timedelta(days=6)

    with pytest.raises(ApplicationError) as error:
        call(case, users.agent, monday)

    assert error.value.message == (
        "Appel refusé par la politique de contact : plafond atteint : 4 appel(s) sur 30 jours (maximum 4)"
        ". Prochain créneau autorisé : jeudi 6 août à 11 h 00."
    )
    assert written(case) == (4, 4, 4)
    # Thirty days after the first call, it no longer counts: a call is allowed again.
    assert refusal(case, channel=Channel.CALL, at=TUESDAY_11 + timedelta(days=30)) is None


def test_an_inbound_call_is_recorded_whatever_the_policy(case, users):
    recorded = call_record(case=case, actor=users.agent, number=PHONE, outcome="reached", direction="in", at=SUNDAY_11)
    assert recorded.direction == "in"
    assert written(case) == (1, 1, 1)


def test_letters_have_no_hours_but_are_capped_at_two_per_thirty_days(case):
    # Posted, not received at a given hour: a Sunday, a holiday or the evening do not matter.
    for at in (SUNDAY_11, HOLIDAY_11, EVENING):
        assert refusal(case, channel=Channel.LETTER, at=at) is None
    Action.objects.create(case=case, channel=Channel.LETTER, at=TUESDAY_11, summary="Première lettre")
    assert refusal(case, channel=Channel.LETTER, at=TUESDAY_11 + timedelta(days=1)) is None
    Action.objects.create(case=case, channel=Channel.LETTER, at=TUESDAY_11 + timedelta(days=1), summary="Relance")

    reason = refusal(case, channel=Channel.LETTER, at=TUESDAY_11 + timedelta(days=2))

    assert reason == "plafond atteint : 2 courrier(s) sur 30 jours (maximum 2)"
    assert case_contact_block(case, Channel.LETTER, TUESDAY_11 + timedelta(days=2)).key == "cap_reached"
    # Letters do not count against calls.
    assert refusal(case, channel=Channel.CALL, at=TUESDAY_11 + timedelta(days=2)) is None


def test_nothing_left_due_blocks_every_channel_whatever_the_status(case, users):
    from amiable.cases.models import Case
    from amiable.cases.policy import case_contact_blocks
    from amiable.payments.services import payment_record

    payment_record(case=case, amount="100.00", collected_on=date(2026, 7, 1), method="cash", actor=users.agent)
    case.refresh_from_db()
    for channel in Channel.values:  # a part paid: the debtor may still be asked for the rest
        assert case_contact_block(case, channel, TUESDAY_11) is None, channel
    payment_record(case=case, amount="20.50", collected_on=date(2026, 7, 2), method="cash", actor=users.agent)
    Case.objects.filter(pk=case.pk).update(status="in_progress")  # « Soldé » forced away: the balance still rules
    case.refresh_from_db()
    assert case.balance == 0

    for channel in Channel.values:
        block = case_contact_block(case, channel, TUESDAY_11)
        assert (block.key, block.next_at) == ("nothing_due", None), channel
        assert block.reason.startswith("rien ne reste dû sur ce dossier")
        assert case_contact_blocks([(case, TUESDAY_11)], channel) == [block]
    with pytest.raises(ApplicationError, match="^Appel refusé par la politique de contact : rien ne reste dû"):
        call(case, users.agent, TUESDAY_11)


def test_do_not_contact_blocks_every_channel(case, users):
    debtor_do_not_contact_set(debtor=case.debtor, actor=users.agent, value=True, case=case)
    case.refresh_from_db()
    for channel in Channel.values:
        reason = refusal(case, channel=channel, at=TUESDAY_11)
        assert reason == "le débiteur a demandé à ne plus être contacté", channel
        assert case_contact_block(case, channel, TUESDAY_11).key == "do_not_contact"

    with pytest.raises(ApplicationError) as error:
        call(case, users.agent, TUESDAY_11)

    assert error.value.message == (
        "Appel refusé par la politique de contact : le débiteur a demandé à ne plus être contacté."
    )
    assert written(case) == (0, 0, 0)

    debtor_do_not_contact_set(debtor=case.debtor, actor=users.agent, value=False, case=case)
    case.refresh_from_db()
    assert refusal(case, channel=Channel.CALL, at=TUESDAY_11) is None


def test_over_indebtedness_admissible_stops_every_action(case, users):
    event_record(case=case, kind="oi_admissible", occurred_on=date(2026, 7, 1), details="Recevable", actor=users.agent)
    case.refresh_from_db()
    assert case.status == "suspended"
    for channel in Channel.values:
        assert refusal(case, channel=channel, at=TUESDAY_11) == "dossier suspendu : aucune action"

    with pytest.raises(ApplicationError) as error:
        call(case, users.agent, TUESDAY_11)

    assert error.value.message == "Appel refusé par la politique de contact : dossier suspendu : aucune action."
    assert written(case) == (0, 0, 0)

    # Even if the case were put back in progress, the admissibility still forbids any action (L10).
    case_transition(case=case, to="in_progress", actor=users.supervisor, reason="Erreur de manipulation")
    case.refresh_from_db()
    reason = refusal(case, channel=Channel.CALL, at=TUESDAY_11)
    assert "dossier de surendettement déclaré recevable" in reason
    assert reason.endswith(" : aucune action")
    assert case_contact_block(case, Channel.CALL, TUESDAY_11).key == "stopping_event"
    with pytest.raises(ApplicationError):
        call(case, users.agent, TUESDAY_11)
    assert written(case) == (0, 0, 0)


def test_death_stops_every_action(case, users):
    event_record(case=case, kind="death", occurred_on=date(2026, 7, 1), details="", actor=users.agent)
    case.refresh_from_db()
    case_transition(case=case, to="in_progress", actor=users.supervisor, reason="Reprise")
    case.refresh_from_db()

    reason = refusal(case, channel=Channel.LETTER, at=TUESDAY_11)
    assert "décès du débiteur" in reason
    assert case_contact_block(case, Channel.LETTER, TUESDAY_11).key == "stopping_event"


def test_calls_from_the_debtor_do_not_use_up_the_agencys_calls(case, users):
    for day in range(4):
        call(case, users.agent, TUESDAY_11 - timedelta(days=day + 1), direction="in")
    assert refusal(case, channel=Channel.CALL, at=TUESDAY_11) is None
    for day in range(4):
        call(case, users.agent, TUESDAY_11 - timedelta(days=day + 5))
    assert case_contact_block(case, Channel.CALL, TUESDAY_11).key == "cap_reached"


def test_creditor_timeline_names_a_compromising_event_and_its_date(case, users):
    event_record(
        case=case, kind="death", occurred_on=date(2026, 11, 2), details="Acte reçu du centre", actor=users.agent
    )
    entries = [e for e in case_timeline(case=case, include_internal=False) if e.verb == "case.event_recorded"]
    assert [(e.label, e.details) for e in entries] == [("Événement", "décès du débiteur le 02/11/2026")]


def test_a_permanent_refusal_has_no_next_slot(case, users):
    debtor_do_not_contact_set(debtor=case.debtor, actor=users.agent, value=True, case=case)
    case.refresh_from_db()
    block = case_contact_block(case, Channel.CALL, TUESDAY_11)
    assert block.next_at is None
    assert block.message == "le débiteur a demandé à ne plus être contacté"


def test_the_next_slot_skips_a_public_holiday_and_the_weekend(case, reference):
    # Friday 13/11/2026 at 20:30; Wednesday 11/11 is a holiday, but the next slot is Monday 16/11 at 10 h.
    friday_evening = datetime(2026, 11, 13, 20, 30, tzinfo=PARIS)
    assert case_contact_block(case, Channel.SMS, friday_evening).message.endswith(
        ". Prochain créneau autorisé : lundi 16 novembre à 10 h 00"
    )
    # Tuesday 10/11 at 21:00: Wednesday 11/11 (Armistice) is skipped.
    tuesday_night = datetime(2026, 11, 10, 21, 0, tzinfo=PARIS)
    assert case_contact_block(case, Channel.EMAIL, tuesday_night).message.endswith(
        ". Prochain créneau autorisé : jeudi 12 novembre à 10 h 00"
    )


def test_every_channel_of_the_one_rule_reads_the_creditors_terms(case, reference):
    ContractTerms.objects.filter(creditor=reference.cpam).update(contact_hours="09:00-12:00", max_sms_per_30_days=1)
    nine_thirty = datetime(2026, 7, 7, 9, 30, tzinfo=PARIS)
    assert case_contact_block(case, Channel.CALL, nine_thirty) is None
    Action.objects.create(case=case, channel=Channel.SMS, at=nine_thirty, summary="SMS")
    block = case_contact_block(case, Channel.SMS, nine_thirty + timedelta(hours=1))
    assert block.key == "cap_reached"
    assert block.message.endswith(". Prochain créneau autorisé : jeudi 6 août à 9 h 30")
