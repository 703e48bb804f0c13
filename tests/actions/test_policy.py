"""The contact policy (L8, L10): allowed days and hours in Paris, no public holiday, 30-day caps per channel,
do-not-contact, and no action at all on a case stopped by over-indebtedness or a death — checked both on
`contact_refusal` and through `call_record`, which must write nothing when it refuses."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from amiable.actions.models import Action, CallRecord, Channel
from amiable.actions.policy import contact_refusal, refusal_key
from amiable.actions.work import call_record, do_not_contact_set, event_record
from amiable.audit.models import AuditEvent
from amiable.cases.selectors import case_timeline
from amiable.cases.services import case_transition
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import ContractTerms
from tests.factories import make_case

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
    return make_case(structure=reference.csr, reference="POL-0001", assigned_agent=users.agent)


def written(case) -> tuple[int, int, int]:
    return (
        Action.objects.filter(case=case).count(),
        CallRecord.objects.filter(action__case=case).count(),
        AuditEvent.objects.filter(case_pk=case.pk, verb="call.recorded").count(),
    )


def call(case, actor, at, **extra):
    return call_record(case=case, actor=actor, number=PHONE, outcome="no_answer", at=at, **extra)


def test_default_terms_are_those_of_the_law():
    terms = ContractTerms._meta
    assert terms.get_field("contact_weekdays").default == "12345"
    assert terms.get_field("contact_hours").default == "10:00-13:00,14:00-20:00"
    assert terms.get_field("max_calls_per_30_days").default == 4
    assert terms.get_field("max_letters_per_30_days").default == 2


def test_tuesday_at_eleven_is_allowed(case):
    assert contact_refusal(case=case, channel=Channel.CALL, at=TUESDAY_11) is None


@pytest.mark.parametrize(
    ("at", "reason", "key"),
    [
        (HOLIDAY_11, "jour férié", "public_holiday"),
        (SUNDAY_11, "jour non autorisé par la politique de contact", "day_not_allowed"),
        (LUNCH, HOURS, "outside_hours"),
        (EVENING, HOURS, "outside_hours"),
        (datetime(2026, 7, 7, 9, 59, tzinfo=PARIS), HOURS, "outside_hours"),
    ],
)
def test_calls_are_refused_outside_allowed_days_and_hours(case, users, at, reason, key):
    assert contact_refusal(case=case, channel=Channel.CALL, at=at) == reason
    assert refusal_key(reason) == key

    with pytest.raises(ApplicationError) as error:
        call(case, users.agent, at)

    assert error.value.message == f"Appel refusé par la politique de contact : {reason}."
    assert written(case) == (0, 0, 0)


def test_hours_are_read_in_paris_time_whatever_the_instant_zone(case):
    # 09:00 UTC on 7 July is 11:00 in Paris (summer time): allowed.
    assert (
        contact_refusal(case=case, channel=Channel.CALL, at=datetime(2026, 7, 7, 9, 0, tzinfo=ZoneInfo("UTC"))) is None
    )
    # 12:00 UTC is 14:00 in Paris... and 11:30 UTC is 13:30, the lunch break.
    assert (
        contact_refusal(case=case, channel=Channel.CALL, at=datetime(2026, 7, 7, 11, 30, tzinfo=ZoneInfo("UTC")))
        == HOURS
    )


def test_fifth_call_within_thirty_days_is_refused(case, users):
    days = [TUESDAY_11 + timedelta(days=n) for n in (0, 1, 2, 3)]  # Tuesday to Friday
    for at in days:
        call(case, users.agent, at)
    assert written(case) == (4, 4, 4)
    monday = TUESDAY_11 + timedelta(days=6)

    with pytest.raises(ApplicationError) as error:
        call(case, users.agent, monday)

    assert error.value.message == (
        "Appel refusé par la politique de contact : plafond atteint : 4 appel(s) sur 30 jours (maximum 4)."
    )
    assert written(case) == (4, 4, 4)
    # Thirty days after the first call, it no longer counts: a call is allowed again.
    assert contact_refusal(case=case, channel=Channel.CALL, at=TUESDAY_11 + timedelta(days=30)) is None


def test_an_inbound_call_is_recorded_whatever_the_policy(case, users):
    recorded = call_record(case=case, actor=users.agent, number=PHONE, outcome="reached", direction="in", at=SUNDAY_11)
    assert recorded.direction == "in"
    assert written(case) == (1, 1, 1)


def test_letters_have_no_hours_but_are_capped_at_two_per_thirty_days(case):
    # Posted, not received at a given hour: a Sunday, a holiday or the evening do not matter.
    for at in (SUNDAY_11, HOLIDAY_11, EVENING):
        assert contact_refusal(case=case, channel=Channel.LETTER, at=at) is None
    Action.objects.create(case=case, channel=Channel.LETTER, at=TUESDAY_11, summary="Première lettre")
    assert contact_refusal(case=case, channel=Channel.LETTER, at=TUESDAY_11 + timedelta(days=1)) is None
    Action.objects.create(case=case, channel=Channel.LETTER, at=TUESDAY_11 + timedelta(days=1), summary="Relance")

    reason = contact_refusal(case=case, channel=Channel.LETTER, at=TUESDAY_11 + timedelta(days=2))

    assert reason == "plafond atteint : 2 courrier(s) sur 30 jours (maximum 2)"
    assert refusal_key(reason) == "cap_reached"
    # Letters do not count against calls.
    assert contact_refusal(case=case, channel=Channel.CALL, at=TUESDAY_11 + timedelta(days=2)) is None


def test_do_not_contact_blocks_every_channel(case, users):
    do_not_contact_set(debtor=case.debtor, actor=users.agent, value=True, case=case)
    case.refresh_from_db()
    for channel in Channel.values:
        reason = contact_refusal(case=case, channel=channel, at=TUESDAY_11)
        assert reason == "le débiteur a demandé à ne plus être contacté", channel
        assert refusal_key(reason) == "do_not_contact"

    with pytest.raises(ApplicationError) as error:
        call(case, users.agent, TUESDAY_11)

    assert error.value.message == (
        "Appel refusé par la politique de contact : le débiteur a demandé à ne plus être contacté."
    )
    assert written(case) == (0, 0, 0)

    do_not_contact_set(debtor=case.debtor, actor=users.agent, value=False, case=case)
    case.refresh_from_db()
    assert contact_refusal(case=case, channel=Channel.CALL, at=TUESDAY_11) is None


def test_over_indebtedness_admissible_stops_every_action(case, users):
    event_record(case=case, kind="oi_admissible", occurred_on=date(2026, 7, 1), details="Recevable", actor=users.agent)
    case.refresh_from_db()
    assert case.status == "suspended"
    for channel in Channel.values:
        assert contact_refusal(case=case, channel=channel, at=TUESDAY_11) == "dossier suspendu : aucune action"

    with pytest.raises(ApplicationError) as error:
        call(case, users.agent, TUESDAY_11)

    assert error.value.message == "Appel refusé par la politique de contact : dossier suspendu : aucune action."
    assert written(case) == (0, 0, 0)

    # Even if the case were put back in progress, the admissibility still forbids any action (L10).
    case_transition(case=case, to="in_progress", actor=users.supervisor, reason="Erreur de manipulation")
    case.refresh_from_db()
    reason = contact_refusal(case=case, channel=Channel.CALL, at=TUESDAY_11)
    assert "dossier de surendettement déclaré recevable" in reason
    assert reason.endswith(" : aucune action")
    assert refusal_key(reason) == "stopping_event"
    with pytest.raises(ApplicationError):
        call(case, users.agent, TUESDAY_11)
    assert written(case) == (0, 0, 0)


def test_death_stops_every_action(case, users):
    event_record(case=case, kind="death", occurred_on=date(2026, 7, 1), details="", actor=users.agent)
    case.refresh_from_db()
    case_transition(case=case, to="in_progress", actor=users.supervisor, reason="Reprise")
    case.refresh_from_db()

    reason = contact_refusal(case=case, channel=Channel.LETTER, at=TUESDAY_11)
    assert "décès du débiteur" in reason
    assert refusal_key(reason) == "stopping_event"


def test_calls_from_the_debtor_do_not_use_up_the_agencys_calls(case, users):
    for day in range(4):
        call(case, users.agent, TUESDAY_11 - timedelta(days=day + 1), direction="in")
    assert contact_refusal(case=case, channel=Channel.CALL, at=TUESDAY_11) is None
    for day in range(4):
        call(case, users.agent, TUESDAY_11 - timedelta(days=day + 5))
    assert refusal_key(contact_refusal(case=case, channel=Channel.CALL, at=TUESDAY_11)) == "cap_reached"


def test_creditor_timeline_names_a_compromising_event_and_its_date(case, users):
    event_record(
        case=case, kind="death", occurred_on=date(2026, 11, 2), details="Acte reçu du centre", actor=users.agent
    )
    entries = [e for e in case_timeline(case=case, include_internal=False) if e.verb == "case.event_recorded"]
    assert [(e.label, e.details) for e in entries] == [("Événement", "décès du débiteur le 02/11/2026")]
