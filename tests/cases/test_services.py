"""Tests for amiable.cases.services: the status table, case intake, acknowledgement, assignment,
contact points and debtors. That every public service is audited: tests/audit/test_every_service_is_audited.py."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

import amiable.accounts.services as accounts_services
from amiable.audit.models import AuditEvent
from amiable.cases.models import (
    ENDED_STATUSES,
    OPEN_STATUSES,
    Case,
    CaseQuerySet,
    CaseStatus,
    ContactPoint,
    ContactQuality,
    Debtor,
)
from amiable.cases.selectors import case_timeline
from amiable.cases.services import (
    ALLOWED_TRANSITIONS,
    case_acknowledge,
    case_assign,
    case_create,
    case_transition,
    contact_point_add,
    contact_point_set_quality,
    debtor_create,
)
from amiable.core.exceptions import ApplicationError
from tests.factories import make_case, make_user, pay_in_full

CPAM_NAME = "Caisse Primaire d'Assurance Maladie de Paris"

S = CaseStatus
# The business table, written out independently of the code so that an accidental edit of
# ALLOWED_TRANSITIONS is caught: open statuses move between themselves or end; ended statuses can
# only be closed, except a paid case reopened by a reversal and an irrecoverable case reopened by a
# supervisor; a closed case never moves again.
EXPECTED_TRANSITIONS = {
    S.NEW: {S.IN_PROGRESS, S.PAYMENT_PLAN, S.SUSPENDED, S.PAID, S.RECALLED, S.IRRECOVERABLE},
    S.IN_PROGRESS: {S.PAYMENT_PLAN, S.SUSPENDED, S.PAID, S.RECALLED, S.IRRECOVERABLE},
    S.PAYMENT_PLAN: {S.IN_PROGRESS, S.SUSPENDED, S.PAID, S.RECALLED, S.IRRECOVERABLE},
    S.SUSPENDED: {S.IN_PROGRESS, S.PAYMENT_PLAN, S.PAID, S.RECALLED, S.IRRECOVERABLE},
    S.PAID: {S.IN_PROGRESS, S.PAYMENT_PLAN, S.CLOSED},
    S.RECALLED: {S.CLOSED},
    S.IRRECOVERABLE: {S.IN_PROGRESS, S.CLOSED},
    S.CLOSED: set(),
}
ALLOWED_PAIRS = sorted((src.value, dst.value) for src, dsts in EXPECTED_TRANSITIONS.items() for dst in dsts)
REFUSED_PAIRS = sorted(
    (src.value, dst.value) for src in CaseStatus for dst in CaseStatus if dst not in EXPECTED_TRANSITIONS[src]
)


def _counts() -> dict[str, int]:
    return {
        "cases": Case.objects.count(),
        "events": AuditEvent.objects.count(),
        "debtors": Debtor.objects.count(),
        "points": ContactPoint.objects.count(),
    }


def _force_status(case: Case, status: str, *, paid: bool = False) -> Case:
    """Test set-up only: put a case in a status without going through the table; `paid` also marks its
    claim as paid in full."""
    Case.objects.filter(pk=case.pk).update(status=status, paid_amount=case.claimed_amount if paid else 0)
    case.refresh_from_db()
    return case


@pytest.fixture
def case(users, reference):
    return make_case(structure=reference.csr, reference="CPAM-2026-00001", actor=users.agent)


@pytest.fixture
def debtor(users):
    return debtor_create(civility="M", last_name="Durand", first_name="Paul", actor=users.agent)


# --- case_transition ----------------------------------------------------------


def test_transition_table_is_the_business_table():
    assert set(ALLOWED_TRANSITIONS) == set(CaseStatus)
    assert {k: set(v) for k, v in ALLOWED_TRANSITIONS.items()} == EXPECTED_TRANSITIONS
    assert len(ALLOWED_PAIRS) == 27
    assert len(REFUSED_PAIRS) == 64 - 27


@pytest.mark.parametrize(("source", "target"), ALLOWED_PAIRS)
def test_transition_allowed_moves_succeed_and_are_audited(case, users, source, target):
    # « Soldé » is reached when nothing is due, and left when something is due again (a reversal).
    case = _force_status(case, source, paid=target == CaseStatus.PAID)
    events_before = AuditEvent.objects.filter(verb="case.status_changed").count()
    started = timezone.now()

    result = case_transition(case=case, to=target, actor=users.agent, reason="Appel du débiteur")

    assert result.status == target
    case.refresh_from_db()
    assert case.status == target
    assert case.status_changed_at is not None and case.status_changed_at >= started
    # One move, one event of the move (a case that ends also gets its closure recorded: tests/closure).
    assert AuditEvent.objects.filter(verb="case.status_changed").count() == events_before + 1
    event = AuditEvent.objects.get(verb="case.status_changed")
    assert event.actor_id == users.agent.pk
    assert event.actor_label == users.agent.email
    assert event.case_pk == case.pk
    assert event.creditor_pk == case.creditor_id
    assert event.target_type == "cases.case"
    assert event.target_id == str(case.pk)
    assert event.before == {"status": source}
    assert event.after == {"status": target, "reason": "Appel du débiteur"}


@pytest.mark.parametrize(("source", "target"), REFUSED_PAIRS)
def test_transition_refused_moves_change_nothing(case, users, source, target):
    case = _force_status(case, source)
    before = _counts()

    with pytest.raises(ApplicationError) as excinfo:
        case_transition(case=case, to=target, actor=users.agent, reason="Essai")

    assert excinfo.value.message == (
        f"Le dossier CPAM-2026-00001 ne peut pas passer du statut « {CaseStatus(source).label} » "
        f"au statut « {CaseStatus(target).label} »."
    )
    case.refresh_from_db()
    assert case.status == source
    assert case.status_changed_at is None
    assert _counts() == before


@pytest.mark.parametrize("target", ["archived", "", "NEW"])
def test_transition_to_unknown_status_is_refused(case, users, target):
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        case_transition(case=case, to=target, actor=users.agent)
    assert excinfo.value.message == f"Statut inconnu : « {target} »."
    case.refresh_from_db()
    assert case.status == CaseStatus.NEW
    assert _counts() == before


def test_transition_works_from_the_database_state_not_a_stale_instance(case, users):
    stale = Case.objects.get(pk=case.pk)
    pay_in_full(case, actor=users.agent)
    # `stale` still says "new", but the case is paid: moving it to suspended must be refused.
    with pytest.raises(ApplicationError, match="« Soldé » au statut « Suspendu »"):
        case_transition(case=stale, to=CaseStatus.SUSPENDED, actor=users.agent)
    case.refresh_from_db()
    assert case.status == CaseStatus.PAID


def test_paid_follows_the_money(case, users):
    with pytest.raises(ApplicationError, match="n'est soldé que par ses paiements : il reste 120,50"):
        case_transition(case=case, to=CaseStatus.PAID, actor=users.agent)
    pay_in_full(case, actor=users.agent)
    with pytest.raises(ApplicationError, match="ne se rouvre que si un paiement est rejeté"):
        case_transition(case=case, to=CaseStatus.IN_PROGRESS, actor=users.agent)
    case.refresh_from_db()
    assert case.status == CaseStatus.PAID


# --- case_create --------------------------------------------------------------


def test_case_create_stores_decimal_amounts_and_audits(reference, debtor, users):
    events_before = AuditEvent.objects.count()
    case = case_create(
        creditor=reference.cpam,
        structure=reference.cdop,
        debtor=debtor,
        reference="  CPAM-2026-00042 ",
        principal_amount=Decimal("100.10"),
        interest_amount="5,5",
        other_amount=3,
        received_on=date(2026, 3, 2),
        claim_date=date(2025, 12, 1),
        basis="Soins dentaires",
        actor=users.agent,
    )
    case.refresh_from_db()
    assert case.reference == "CPAM-2026-00042"
    assert case.status == CaseStatus.NEW
    for field, expected in [
        ("principal_amount", "100.10"),
        ("interest_amount", "5.50"),
        ("other_amount", "3.00"),
        ("initial_amount", "108.60"),
        ("claimed_amount", "108.60"),
    ]:
        value = getattr(case, field)
        assert isinstance(value, Decimal), field
        assert value == Decimal(expected), field
        assert str(value) == expected, field
    assert case.initial_amount == case.principal_amount + case.interest_amount + case.other_amount
    assert case.claimed_amount == case.initial_amount

    assert AuditEvent.objects.count() == events_before + 1
    event = AuditEvent.objects.get(verb="case.created")
    assert event.case_pk == case.pk
    assert event.creditor_pk == reference.cpam.pk
    assert event.actor_id == users.agent.pk
    assert event.after == {
        "reference": "CPAM-2026-00042",
        "structure": "CDOP",
        "principal_amount": "100.10",
        "interest_amount": "5.50",
        "other_amount": "3.00",
        "received_on": "2026-03-02",
    }


def test_case_create_rounds_half_up_to_cents(reference, debtor, users):
    case = case_create(
        creditor=reference.cpam,
        structure=reference.csr,
        debtor=debtor,
        reference="R-1",
        principal_amount="10.005",
        interest_amount=Decimal("0.004"),
        received_on=date(2026, 3, 2),
        actor=users.agent,
    )
    case.refresh_from_db()
    assert case.principal_amount == Decimal("10.01")
    assert case.interest_amount == Decimal("0.00")
    assert case.claimed_amount == Decimal("10.01")


def _create(ref, debtor, users, /, **overrides):
    kwargs = {
        "creditor": ref.cpam,
        "structure": ref.csr,
        "debtor": debtor,
        "reference": "CPAM-2026-00077",
        "principal_amount": Decimal("120.00"),
        "received_on": date(2026, 3, 2),
        "actor": users.agent,
    }
    kwargs.update(overrides)
    return case_create(**kwargs)


@pytest.mark.parametrize("field", ["principal_amount", "interest_amount", "other_amount"])
def test_case_create_refuses_float_amounts(reference, debtor, users, field):
    before = _counts()
    with pytest.raises(TypeError, match="Montant en nombre flottant refusé"):
        _create(reference, debtor, users, **{field: 12.5})
    assert _counts() == before


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"principal_amount": Decimal("-1.00")},
            "Dossier CPAM-2026-00077 : un montant ne peut pas être négatif.",
        ),
        (
            {"interest_amount": "-0.01"},
            "Dossier CPAM-2026-00077 : un montant ne peut pas être négatif.",
        ),
        (
            {"principal_amount": Decimal("50.00"), "other_amount": Decimal("-5.00")},
            "Dossier CPAM-2026-00077 : un montant ne peut pas être négatif.",
        ),
        (
            {"principal_amount": Decimal("0.00")},
            "Dossier CPAM-2026-00077 : le montant réclamé doit être positif.",
        ),
        (
            {"principal_amount": "0,004"},  # rounds to 0.00
            "Dossier CPAM-2026-00077 : le montant réclamé doit être positif.",
        ),
        ({"reference": ""}, "La référence du dossier est obligatoire."),
        ({"reference": "   "}, "La référence du dossier est obligatoire."),
    ],
    ids=["negative-principal", "negative-interest", "negative-other", "zero", "rounds-to-zero", "empty", "blank"],
)
def test_case_create_refuses_bad_input(reference, debtor, users, overrides, message):
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        _create(reference, debtor, users, **overrides)
    assert excinfo.value.message == message
    assert _counts() == before


def test_case_create_refuses_a_structure_of_another_creditor(reference, debtor, users):
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        _create(reference, debtor, users, structure=reference.other_structure)
    assert excinfo.value.message == f"La structure AUT n'appartient pas au créancier {CPAM_NAME}."
    assert _counts() == before


@pytest.mark.parametrize("status", sorted(OPEN_STATUSES))
def test_case_create_refuses_a_reference_already_open(reference, debtor, users, status):
    first = _create(reference, debtor, users)
    _force_status(first, status)
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        _create(reference, debtor, users, reference=" CPAM-2026-00077 ", structure=reference.cesa)
    assert excinfo.value.message == f"Un dossier ouvert porte déjà la référence CPAM-2026-00077 pour {CPAM_NAME}."
    assert _counts() == before


def test_case_create_turns_a_concurrent_duplicate_into_the_same_error(reference, debtor, users, monkeypatch):
    """If another import takes the reference between the check and the insert, the database constraint
    refuses the row and the service reports it in French, leaving the outer transaction usable."""
    _create(reference, debtor, users)
    monkeypatch.setattr(CaseQuerySet, "open", lambda self: self.none())
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        _create(reference, debtor, users)
    assert excinfo.value.message == f"Un dossier ouvert porte déjà la référence CPAM-2026-00077 pour {CPAM_NAME}."
    assert _counts() == before


def test_case_create_accepts_the_same_reference_for_another_creditor(reference, debtor, users):
    first = _create(reference, debtor, users)
    second = _create(reference, debtor, users, creditor=reference.other, structure=reference.other_structure)
    assert first.reference == second.reference == "CPAM-2026-00077"
    assert {first.creditor_id, second.creditor_id} == {reference.cpam.pk, reference.other.pk}


@pytest.mark.parametrize(
    "path",
    [
        [S.PAID],
        [S.RECALLED],
        [S.IRRECOVERABLE],
        [S.PAID, S.CLOSED],
        [S.IN_PROGRESS, S.RECALLED, S.CLOSED],
    ],
    ids=["paid", "recalled", "irrecoverable", "closed-after-paid", "closed-after-recall"],
)
def test_case_create_accepts_the_reference_again_once_the_first_case_ended(reference, debtor, users, path):
    first = _create(reference, debtor, users)
    for step in path:
        if step == S.PAID:
            first = pay_in_full(first, actor=users.agent)
        else:
            first = case_transition(case=first, to=step, actor=users.agent)
    assert first.status in ENDED_STATUSES

    again = _create(reference, debtor, users)

    assert again.pk != first.pk
    assert again.status == CaseStatus.NEW
    assert Case.objects.filter(creditor=reference.cpam, reference="CPAM-2026-00077").count() == 2
    # And a third one while the second is open is refused again.
    with pytest.raises(ApplicationError, match="Un dossier ouvert porte déjà la référence"):
        _create(reference, debtor, users)


def _raw_case(ref, debtor, /, **extra) -> Case:
    values = {
        "creditor": ref.cpam,
        "structure": ref.csr,
        "debtor": debtor,
        "reference": "BYPASS-1",
        "initial_amount": Decimal("10.00"),
        "principal_amount": Decimal("10.00"),
        "received_on": date(2026, 3, 2),
    }
    values.update(extra)
    return Case.objects.create(**values)


def test_database_refuses_a_duplicate_open_reference_without_the_service(reference, debtor):
    _raw_case(reference, debtor)
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_case(reference, debtor, structure=reference.cdop)
    assert Case.objects.filter(reference="BYPASS-1").count() == 1
    # The constraint is partial: an ended case does not block the reference.
    _raw_case(reference, debtor, status=CaseStatus.PAID)
    _raw_case(reference, debtor, creditor=reference.other, structure=reference.other_structure)
    assert Case.objects.filter(reference="BYPASS-1").count() == 3


@pytest.mark.parametrize(
    "extra",
    [
        {"initial_amount": Decimal("0.00")},
        {"principal_amount": Decimal("-1.00")},
        {"interest_amount": Decimal("-1.00")},
        {"other_amount": Decimal("-1.00")},
    ],
    ids=["initial-zero", "principal-negative", "interest-negative", "other-negative"],
)
def test_database_refuses_bad_amounts_without_the_service(reference, debtor, extra):
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_case(reference, debtor, **extra)
    assert not Case.objects.filter(reference="BYPASS-1").exists()


@pytest.mark.parametrize("who", ["collaborator", "other_admin", "inactive_agent"])
def test_case_create_refuses_to_assign_anyone_but_active_agency_staff(reference, debtor, users, who):
    if who == "inactive_agent":
        agent = accounts_services.user_deactivate(user=make_user("agent"), actor=None)
    else:
        agent = getattr(users, who)
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        _create(reference, debtor, users, assigned_agent=agent)
    assert excinfo.value.message == "Un dossier ne peut être confié qu'à un membre de l'agence."
    assert _counts() == before


def test_case_create_assigns_an_agency_agent(reference, debtor, users):
    case = _create(reference, debtor, users, assigned_agent=users.agent)
    case.refresh_from_db()
    assert case.assigned_agent_id == users.agent.pk


# --- case_acknowledge ---------------------------------------------------------


def test_late_acknowledgement_does_not_push_back_the_certificate_deadline(case, users):
    """C10: the certificate is due at the latest 12 months after the agency *received* the case."""
    Case.objects.filter(pk=case.pk).update(received_on=date(2026, 3, 2))
    case.refresh_from_db()
    case_acknowledge(case=case, acknowledged_on=date(2026, 3, 20), certificate_months=12, actor=users.agent)
    case.refresh_from_db()
    assert case.acknowledged_on == date(2026, 3, 20)
    assert case.certificate_due_on == date(2027, 3, 2)


@pytest.mark.parametrize(
    ("acknowledged_on", "months", "due"),
    [
        (date(2026, 2, 28), 12, date(2027, 2, 28)),
        (date(2026, 3, 15), 12, date(2027, 3, 15)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),  # leap day clamps to 28 February
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # clamps to the end of the shorter month
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
    ],
)
def test_case_acknowledge_starts_the_certificate_clock(case, users, acknowledged_on, months, due):
    Case.objects.filter(pk=case.pk).update(received_on=acknowledged_on)  # acknowledged on the day of receipt
    case.refresh_from_db()
    events_before = AuditEvent.objects.count()
    case_acknowledge(case=case, acknowledged_on=acknowledged_on, certificate_months=months, actor=users.agent)

    case.refresh_from_db()
    assert case.acknowledged_on == acknowledged_on
    assert case.certificate_due_on == due
    assert AuditEvent.objects.count() == events_before + 1
    event = AuditEvent.objects.get(verb="case.acknowledged")
    assert event.case_pk == case.pk
    assert event.actor_id == users.agent.pk
    assert event.before == {"acknowledged_on": None, "certificate_due_on": None}
    assert event.after == {"acknowledged_on": acknowledged_on.isoformat(), "certificate_due_on": due.isoformat()}


def test_case_acknowledge_uses_the_contract_terms(case, users, reference):
    months = reference.cpam.terms.certificate_months
    assert months == 12
    case_acknowledge(case=case, acknowledged_on=date(2026, 2, 28), certificate_months=months, actor=users.agent)
    case.refresh_from_db()
    assert case.certificate_due_on == date(2027, 2, 28)


# --- case_assign --------------------------------------------------------------


def test_case_assign_gives_the_case_to_an_agent_and_audits(case, users):
    events_before = AuditEvent.objects.count()
    case_assign(case=case, agent=users.agent, actor=users.supervisor)
    case.refresh_from_db()
    assert case.assigned_agent_id == users.agent.pk

    case_assign(case=case, agent=None, actor=users.supervisor)
    case.refresh_from_db()
    assert case.assigned_agent_id is None

    events = list(AuditEvent.objects.filter(verb="case.assigned").order_by("pk"))
    assert AuditEvent.objects.count() == events_before + 2
    assert [e.case_pk for e in events] == [case.pk, case.pk]
    assert events[0].actor_id == users.supervisor.pk
    assert events[0].before == {"assigned_agent": None}
    assert events[0].after == {"assigned_agent": users.agent.pk, "agent": str(users.agent)}
    assert events[1].before == {"assigned_agent": users.agent.pk}
    assert events[1].after == {"assigned_agent": None, "agent": ""}


@pytest.mark.parametrize("who", ["collaborator", "creditor_admin", "other_admin", "inactive_agent"])
def test_case_assign_refuses_anyone_but_active_agency_staff(case, users, who):
    if who == "inactive_agent":
        agent = accounts_services.user_deactivate(user=make_user("agent"), actor=users.agency_admin)
    else:
        agent = getattr(users, who)
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        case_assign(case=case, agent=agent, actor=users.supervisor)
    assert excinfo.value.message == "Un dossier ne peut être confié qu'à un membre de l'agence."
    case.refresh_from_db()
    assert case.assigned_agent_id is None
    assert _counts() == before


# --- contact points -----------------------------------------------------------


def test_contact_point_add_records_provenance_and_lands_on_the_case_timeline(case, users):
    events_before = AuditEvent.objects.count()
    point = contact_point_add(
        debtor=case.debtor,
        kind="phone",
        source="Annuaire",
        actor=users.agent,
        quality=ContactQuality.VALID,
        value="  +33612345678 ",
        valid_from=date(2026, 3, 1),
        case=case,
    )
    point.refresh_from_db()
    assert point.debtor_id == case.debtor_id
    assert point.value == "+33612345678"
    assert point.quality == ContactQuality.VALID
    assert point.source == "Annuaire"
    assert point.valid_from == date(2026, 3, 1)

    assert AuditEvent.objects.count() == events_before + 1
    event = AuditEvent.objects.get(verb="contact_point.added", case_pk=case.pk)
    assert event.target_type == "cases.contactpoint"
    assert event.target_id == str(point.pk)
    assert event.actor_id == users.agent.pk
    assert event.after == {"kind": "phone", "display": "06 12 34 56 78", "quality": "valid", "source": "Annuaire"}
    assert [e.verb for e in case_timeline(case=case, include_internal=False)][0] == "contact_point.added"


def test_contact_point_add_address_is_trimmed(case, users):
    point = contact_point_add(
        debtor=case.debtor,
        kind="address",
        source="Enquête",
        actor=users.agent,
        line1="  3 rue Oberkampf ",
        postal_code=" 75011 ",
        city=" Paris ",
        case=case,
    )
    point.refresh_from_db()
    assert (point.line1, point.postal_code, point.city) == ("3 rue Oberkampf", "75011", "Paris")
    assert point.quality == ContactQuality.UNKNOWN
    assert AuditEvent.objects.get(verb="contact_point.added", case_pk=case.pk).after["display"] == (
        "3 rue Oberkampf, 75011 Paris"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "fax", "value": "0102030405"}, "Type de coordonnée inconnu : « fax »."),
        ({"kind": "phone", "value": "0102030405", "quality": "good"}, "Qualité de coordonnée inconnue : « good »."),
        (
            {"kind": "address", "line1": "   ", "city": "Paris"},
            "Une adresse postale doit comporter au moins une ligne.",
        ),
        ({"kind": "phone", "value": "   "}, "La coordonnée est vide."),
        ({"kind": "email"}, "La coordonnée est vide."),
    ],
    ids=["unknown-kind", "unknown-quality", "empty-address", "blank-phone", "empty-email"],
)
def test_contact_point_add_refuses_bad_input(case, users, kwargs, message):
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        contact_point_add(debtor=case.debtor, source="Test", actor=users.agent, case=case, **kwargs)
    assert excinfo.value.message == message
    assert _counts() == before


@pytest.fixture
def point(case, users):
    return contact_point_add(
        debtor=case.debtor, kind="address", source="Fichier", actor=users.agent, line1="1 rue A", city="Paris"
    )


def test_contact_point_set_quality_keeps_dates_and_audits(case, point, users):
    today = timezone.localdate()
    events_before = AuditEvent.objects.count()

    contact_point_set_quality(point=point, quality=ContactQuality.INVALID, actor=users.agent, case=case)
    point.refresh_from_db()
    assert point.quality == ContactQuality.INVALID
    assert point.checked_on == today
    assert point.invalid_since == today

    contact_point_set_quality(point=point, quality=ContactQuality.VALID, actor=users.agent, case=case)
    point.refresh_from_db()
    assert point.quality == ContactQuality.VALID
    assert point.invalid_since is None

    events = list(AuditEvent.objects.filter(verb="contact_point.quality_changed").order_by("pk"))
    assert AuditEvent.objects.count() == events_before + 2
    assert [e.case_pk for e in events] == [case.pk, case.pk]
    assert [(e.before, e.after) for e in events] == [
        ({"quality": "unknown"}, {"quality": "invalid"}),
        ({"quality": "invalid"}, {"quality": "valid"}),
    ]
    timeline = case_timeline(case=case, include_internal=False)
    assert [entry.details for entry in timeline if entry.verb == "contact_point.quality_changed"] == [
        "invalid → valid",
        "unknown → invalid",
    ]


def test_contact_point_set_quality_refuses_an_unknown_quality(case, point, users):
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        contact_point_set_quality(point=point, quality="perfect", actor=users.agent, case=case)
    assert excinfo.value.message == "Qualité de coordonnée inconnue : « perfect »."
    point.refresh_from_db()
    assert point.quality == ContactQuality.UNKNOWN
    assert point.checked_on is None
    assert _counts() == before


def test_contact_point_marked_invalid_again_keeps_invalid_since(case, point, users):
    ContactPoint.objects.filter(pk=point.pk).update(quality=ContactQuality.INVALID, invalid_since=date(2026, 1, 5))
    point.refresh_from_db()
    events_before = AuditEvent.objects.count()
    contact_point_set_quality(point=point, quality=ContactQuality.INVALID, actor=users.agent, case=case)
    point.refresh_from_db()
    assert point.invalid_since == date(2026, 1, 5)
    assert point.checked_on == timezone.localdate()
    assert AuditEvent.objects.count() == events_before + 1


# --- debtor_create ------------------------------------------------------------


def test_debtor_create_trims_names_and_audits(users):
    events_before = AuditEvent.objects.count()
    debtor = debtor_create(
        civility="MME",
        last_name="  Le   Gall ",
        first_name=" Marie  Anne ",
        birth_date=date(1980, 5, 17),
        actor=users.agent,
    )
    debtor.refresh_from_db()
    assert debtor.last_name == "Le Gall"
    assert debtor.first_name == "Marie Anne"
    assert debtor.display_name == "Mme LE GALL Marie Anne"
    assert AuditEvent.objects.count() == events_before + 1
    event = AuditEvent.objects.get(verb="debtor.created")
    assert event.target_type == "cases.debtor"
    assert event.target_id == str(debtor.pk)
    assert event.after == {
        "civility": "MME",
        "last_name": "Le Gall",
        "first_name": "Marie Anne",
        "birth_date": "1980-05-17",
    }


@pytest.mark.parametrize("last_name", ["", "   ", "\t\n"])
def test_debtor_create_refuses_an_empty_last_name(users, last_name):
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        debtor_create(civility="M", last_name=last_name, first_name="Jean", actor=users.agent)
    assert excinfo.value.message == "Le nom du débiteur est obligatoire."
    assert _counts() == before


def test_contact_point_of_another_debtor_cannot_be_filed_on_a_case(case, debtor, users):
    before = _counts()
    with pytest.raises(ApplicationError, match="n'appartient pas au débiteur du dossier CPAM-2026-00001"):
        contact_point_add(
            debtor=debtor, kind="phone", source="Appel", actor=users.agent, value="+33612345678", case=case
        )
    assert _counts() == before
    point = case.debtor.contact_points.first()
    other_case = make_case(structure=case.structure, reference="CPAM-2026-00002", actor=users.agent)
    with pytest.raises(ApplicationError, match="n'appartient pas au débiteur du dossier CPAM-2026-00002"):
        contact_point_set_quality(point=point, quality="invalid", actor=users.agent, case=other_case)
    point.refresh_from_db()
    assert point.quality == "valid"
