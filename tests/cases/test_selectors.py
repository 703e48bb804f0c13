"""Tests for the read side of cases: the visibility gate (S2), the case list, the timeline and the totals."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser

from amiable.accounts.models import User
from amiable.accounts.services import user_deactivate
from amiable.cases.models import Case, CaseStatus, ContactPoint, Debtor
from amiable.cases.selectors import (
    CASE_SORTS,
    case_get,
    case_list,
    case_timeline,
    case_totals,
)
from amiable.cases.services import (
    case_acknowledge,
    case_assign,
    case_create,
    case_transition,
    comment_add,
    contact_point_add,
    debtor_create,
)
from amiable.core.money import ZERO
from tests.factories import make_case, make_user, pay_in_full


@pytest.fixture
def world(users, reference):
    """Three CPAM cases (one per structure), one case of the other creditor, and a debtor without a case."""
    cases = {
        "csr": make_case(
            structure=reference.csr, reference="CPAM-2026-00001", last_name="Dupont", first_name="Marie", actor=None
        ),
        "cdop": make_case(
            structure=reference.cdop,
            reference="CPAM-2026-00002",
            last_name="Martin",
            first_name="Jean",
            principal="80.00",
            actor=None,
        ),
        "cesa": make_case(
            structure=reference.cesa,
            reference="CPAM-2025-00003",
            last_name="Nguyen",
            first_name="Marie",
            principal="300.00",
            actor=None,
        ),
        "other": make_case(
            structure=reference.other_structure,
            reference="AUT-2026-00001",
            last_name="Durand",
            first_name="Paul",
            actor=None,
        ),
    }
    lonely = debtor_create(civility="M", last_name="Seul", actor=None)
    return type("World", (), {**cases, "lonely": lonely, "all": cases})


def _refs(qs) -> set[str]:
    return set(qs.values_list("reference", flat=True))


# --- visible_to ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("agent", {"csr", "cdop", "cesa", "other"}),
        ("supervisor", {"csr", "cdop", "cesa", "other"}),
        ("agency_admin", {"csr", "cdop", "cesa", "other"}),
        ("collaborator", {"csr", "cdop", "cesa"}),
        ("approver", {"csr", "cdop", "cesa"}),
        ("creditor_admin", {"csr", "cdop", "cesa"}),
        ("csr_only", {"csr"}),
        ("other_admin", {"other"}),
    ],
)
def test_case_and_debtor_visibility(world, users, who, expected):
    user = getattr(users, who)
    cases = [world.all[key] for key in expected]

    assert set(Case.objects.visible_to(user)) == set(cases)
    debtors = set(Debtor.objects.visible_to(user))
    assert {case.debtor for case in cases} <= debtors
    hidden = {world.all[key].debtor for key in world.all if key not in expected}
    assert not (debtors & hidden)
    # A debtor without a case is agency business only.
    assert (world.lonely in debtors) == user.is_agency
    # case_get is the same gate: an invisible case is "not found".
    for key, case in world.all.items():
        if key in expected:
            assert case_get(user=user, pk=case.pk) == case
        else:
            with pytest.raises(Case.DoesNotExist):
                case_get(user=user, pk=case.pk)


@pytest.mark.parametrize("who", ["agent", "collaborator", "csr_only", "other_admin"])
def test_inactive_users_see_nothing(world, users, who):
    user = user_deactivate(user=getattr(users, who), actor=None)
    assert not Case.objects.visible_to(user).exists()
    assert not Debtor.objects.visible_to(user).exists()
    assert not case_list(user=user).exists()
    assert case_totals(user=user)["count"] == 0


def test_anonymous_user_sees_nothing(world):
    anonymous = AnonymousUser()
    assert not Case.objects.visible_to(anonymous).exists()
    assert not Debtor.objects.visible_to(anonymous).exists()
    assert not case_list(user=anonymous).exists()
    assert not Case.objects.visible_to(None).exists()


def test_a_debtor_shared_by_two_creditors_is_seen_by_both_through_their_own_cases(world, users, reference):
    shared = world.csr.debtor
    other_case = case_create(
        creditor=reference.other,
        structure=reference.other_structure,
        debtor=shared,
        reference="AUT-2026-00009",
        principal_amount=Decimal("10.00"),
        received_on=date(2026, 1, 2),
        actor=None,
    )
    assert shared in Debtor.objects.visible_to(users.other_admin)
    assert shared in Debtor.objects.visible_to(users.collaborator)
    # ... but each sees only its own case of that debtor.
    assert _refs(Case.objects.visible_to(users.collaborator).filter(debtor=shared)) == {"CPAM-2026-00001"}
    assert set(Case.objects.visible_to(users.other_admin).filter(debtor=shared)) == {other_case}


# --- case_list ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("CPAM-2026", {"CPAM-2026-00001", "CPAM-2026-00002"}),
        ("cpam-2026-0000", {"CPAM-2026-00001", "CPAM-2026-00002"}),
        ("  CPAM-2025  ", {"CPAM-2025-00003"}),
        ("aut-", {"AUT-2026-00001"}),
        ("2026-00001", {"CPAM-2026-00001", "AUT-2026-00001"}),  # any part of a reference
        ("dupont", {"CPAM-2026-00001"}),
        ("DUPONT", {"CPAM-2026-00001"}),
        ("upo", {"CPAM-2026-00001"}),
        ("marie", {"CPAM-2026-00001", "CPAM-2025-00003"}),
        ("Marie Nguyen", {"CPAM-2025-00003"}),
        ("nguyen   MARIE", {"CPAM-2025-00003"}),
        ("Dupont Jean", set()),
        ("paul", {"AUT-2026-00001"}),
        ("zzz", set()),
        ("", {"CPAM-2026-00001", "CPAM-2026-00002", "CPAM-2025-00003", "AUT-2026-00001"}),
    ],
)
def test_case_list_search_for_agency(world, users, search, expected):
    assert _refs(case_list(user=users.agent, search=search)) == expected


def test_case_list_search_never_crosses_the_gate(world, users):
    assert _refs(case_list(user=users.collaborator, search="durand")) == set()
    assert _refs(case_list(user=users.collaborator, search="AUT")) == set()
    assert _refs(case_list(user=users.other_admin, search="dupont")) == set()
    assert _refs(case_list(user=users.csr_only, search="marie")) == {"CPAM-2026-00001"}


def test_case_list_filters(world, users, reference):
    case_transition(case=world.cdop, to=CaseStatus.IN_PROGRESS, actor=users.agent)
    case_assign(case=world.cesa, agent=users.agent, actor=users.supervisor)

    assert _refs(case_list(user=users.agent, structure_id=reference.cdop.pk)) == {"CPAM-2026-00002"}
    assert _refs(case_list(user=users.agent, creditor_id=reference.other.pk)) == {"AUT-2026-00001"}
    assert _refs(case_list(user=users.agent, creditor_id=reference.cpam.pk)) == {
        "CPAM-2026-00001",
        "CPAM-2026-00002",
        "CPAM-2025-00003",
    }
    assert _refs(case_list(user=users.agent, status=CaseStatus.IN_PROGRESS)) == {"CPAM-2026-00002"}
    assert _refs(case_list(user=users.agent, status=CaseStatus.NEW)) == {
        "CPAM-2026-00001",
        "CPAM-2025-00003",
        "AUT-2026-00001",
    }
    assert _refs(case_list(user=users.agent, agent_id=users.agent.pk)) == {"CPAM-2025-00003"}
    assert _refs(case_list(user=users.agent, search="marie", creditor_id=reference.cpam.pk, status=CaseStatus.NEW)) == {
        "CPAM-2026-00001",
        "CPAM-2025-00003",
    }
    # A filter never widens what the user may see.
    assert _refs(case_list(user=users.collaborator, creditor_id=reference.other.pk)) == set()
    assert _refs(case_list(user=users.csr_only, structure_id=reference.cdop.pk)) == set()


@pytest.fixture
def ties(users, reference):
    """Cases sharing the same receipt date, amount and debtor name, so that only pk can break ties."""
    made = []
    for ref, received, principal, last in [
        ("B-1", date(2026, 3, 2), "50.00", "Dupont"),
        ("A-1", date(2026, 3, 2), "50.00", "Dupont"),
        ("C-1", date(2026, 1, 5), "75.00", "Blanc"),
        ("A-2", date(2026, 3, 2), "75.00", "Dupont"),
        ("D-1", date(2026, 6, 9), "50.00", "Blanc"),
    ]:
        made.append(
            make_case(
                structure=reference.csr,
                reference=ref,
                received_on=received,
                principal=principal,
                last_name=last,
                first_name="Marie",
            )
        )
    return made


SORT_KEYS = {
    "recu": lambda c: (-c.received_on.toordinal(), -c.pk),
    "recu_asc": lambda c: (c.received_on.toordinal(), c.pk),
    "reference": lambda c: (c.reference, c.pk),
    "montant": lambda c: (-c.claimed_amount, -c.pk),
    "debiteur": lambda c: (c.debtor.last_name, c.debtor.first_name, c.pk),
}


@pytest.mark.parametrize("sort", sorted(SORT_KEYS))
def test_case_list_sorts_are_total(ties, users, sort):
    assert CASE_SORTS[sort][-1] in ("pk", "-pk"), "every sort ends with the primary key"
    listed = list(case_list(user=users.agent, sort=sort))
    fresh = [Case.objects.select_related("debtor").get(pk=c.pk) for c in ties]
    assert [c.pk for c in listed] == [c.pk for c in sorted(fresh, key=SORT_KEYS[sort])]
    assert [c.pk for c in case_list(user=users.agent, sort=sort)] == [c.pk for c in listed]  # stable


def test_case_list_unknown_sort_falls_back_to_most_recent_first(ties, users):
    assert [c.pk for c in case_list(user=users.agent, sort="n'importe quoi")] == [
        c.pk for c in case_list(user=users.agent, sort="recu")
    ]


def test_every_sort_key_is_tested():
    # The other orders (per column, both ways) are tested on richer data in tests/web/test_case_list.py.
    assert set(SORT_KEYS) <= set(CASE_SORTS)


# --- case_timeline ------------------------------------------------------------


def test_case_timeline_newest_first_named_authors_and_internal_events_hidden_from_creditors(
    world, users, reference, django_assert_max_num_queries
):
    case = world.csr
    case_acknowledge(case=case, acknowledged_on=date(2026, 3, 2), certificate_months=12, actor=users.agent)
    case_assign(case=case, agent=users.agent, actor=users.supervisor)
    case_transition(case=case, to=CaseStatus.IN_PROGRESS, actor=users.agent, reason="Premier appel")
    contact_point_add(
        debtor=case.debtor, kind="phone", value="+33611223344", source="Annuaire", actor=users.agent, case=case
    )
    comment_add(case=case, body="Merci de rappeler", author=users.collaborator)
    # Events of another case never show up.
    case_transition(case=world.cdop, to=CaseStatus.SUSPENDED, actor=users.agent)

    # The authors come with the events, however many: the events (with their authors) and their keys.
    with django_assert_max_num_queries(3):
        full = case_timeline(case=case, include_internal=True)
    verbs = [e.verb for e in full]
    assert verbs[:5] == [
        "comment.added",
        "contact_point.added",
        "case.status_changed",
        "case.assigned",
        "case.acknowledged",
    ]
    assert verbs[-1] == "case.created"
    assert [e.at for e in full] == sorted((e.at for e in full), reverse=True)
    by_verb = {e.verb: e for e in full}
    assert by_verb["case.created"].actor == "Système"
    assert by_verb["case.created"].label == "Dossier reçu"
    agent_name = f"{users.agent.first_name} {users.agent.last_name}"
    assert by_verb["case.assigned"].actor == f"{users.supervisor.get_full_name()} (superviseur)"
    assert by_verb["case.assigned"].details == str(users.agent)
    assert by_verb["case.status_changed"].label == "Changement de statut"
    assert by_verb["case.status_changed"].details == "Nouveau → En cours — Premier appel"
    assert by_verb["case.status_changed"].actor == f"{agent_name} (gestionnaire)"
    assert by_verb["comment.added"].actor == f"{users.collaborator.get_full_name()} ({reference.cpam.name})"
    assert by_verb["contact_point.added"].details == "06 11 22 33 44 (source : Annuaire)"
    assert not any("@" in e.actor for e in full)

    # A creditor sees neither the internal events nor the names of the agency's staff.
    for_creditor = case_timeline(case=case, include_internal=False)
    assert "case.assigned" not in [e.verb for e in for_creditor]
    assert [e.verb for e in for_creditor][-4:] == [
        "contact_point.added",
        "case.status_changed",
        "case.acknowledged",
        "case.created",
    ]
    by_verb = {e.verb: e for e in for_creditor}
    assert by_verb["case.status_changed"].actor == "Agence"
    assert by_verb["comment.added"].actor == f"{users.collaborator.get_full_name()} ({reference.cpam.name})"
    assert by_verb["case.created"].actor == "Système"


def test_case_timeline_author_without_a_name_falls_back_to_the_recorded_label(world):
    nameless = make_user("agent")
    User.objects.filter(pk=nameless.pk).update(first_name="", last_name="")
    case_transition(case=world.csr, to=CaseStatus.IN_PROGRESS, actor=nameless)
    [entry] = [e for e in case_timeline(case=world.csr, include_internal=True) if e.verb == "case.status_changed"]
    assert entry.actor == f"{nameless.email} (gestionnaire)"
    [entry] = [e for e in case_timeline(case=world.csr, include_internal=False) if e.verb == "case.status_changed"]
    assert entry.actor == "Agence"


def test_case_timeline_of_a_case_with_only_its_creation(world):
    timeline = case_timeline(case=world.other, include_internal=False)
    assert [e.verb for e in timeline] == ["case.created"]


# --- case_totals --------------------------------------------------------------


def test_case_totals_per_status(users, reference):
    amounts = [
        (reference.csr, "0.10", CaseStatus.NEW),
        (reference.csr, "0.20", CaseStatus.NEW),
        (reference.cdop, "1234.56", CaseStatus.NEW),
        (reference.cdop, "100.01", CaseStatus.IN_PROGRESS),
        (reference.cesa, "99.99", CaseStatus.IN_PROGRESS),
        (reference.cesa, "10.00", CaseStatus.PAID),
        (reference.other_structure, "500.00", CaseStatus.NEW),
    ]
    for structure, principal, status in amounts:
        case = make_case(structure=structure, principal=principal, interest_amount=Decimal("0.05"))
        if status == CaseStatus.PAID:
            pay_in_full(case, actor=users.agent)
        elif status != CaseStatus.NEW:
            case_transition(case=case, to=status, actor=users.agent)

    def expected(rows):
        result = {}
        for _structure, principal, status in rows:
            count, amount = result.get(status, (0, ZERO))
            result[status] = (count + 1, amount + Decimal(principal) + Decimal("0.05"))
        return result

    for user, rows in [
        (users.agent, amounts),
        (users.collaborator, amounts[:-1]),
        (users.csr_only, amounts[:2]),
        (users.other_admin, amounts[-1:]),
    ]:
        totals = case_totals(user=user)
        want = expected(rows)
        assert [r["status"] for r in totals["rows"]] == list(CaseStatus.values)
        for row in totals["rows"]:
            count, amount = want.get(row["status"], (0, ZERO))
            assert row["label"] == CaseStatus(row["status"]).label
            assert row["count"] == count, (user.email, row)
            assert isinstance(row["amount"], Decimal)
            assert row["amount"] == amount, (user.email, row)
        assert totals["count"] == len(rows)
        assert isinstance(totals["amount"], Decimal)
        assert totals["amount"] == sum((a for _c, a in want.values()), ZERO)

    assert case_totals(user=users.agent)["amount"] == Decimal("1945.21")


def test_case_totals_for_another_creditor_and_for_nobody(world, users, reference):
    newcomer = make_user("creditor_admin", creditor=reference.other)
    assert case_totals(user=newcomer)["count"] == 1
    nobody = case_totals(user=AnonymousUser())
    assert nobody["count"] == 0
    assert nobody["amount"] == ZERO
    assert all(r["count"] == 0 and r["amount"] == ZERO for r in nobody["rows"])


@pytest.mark.parametrize(
    ("value", "shown"),
    [("+33612345678", "06 12 34 56 78"), ("+33145678901", "01 45 67 89 01"), ("+3225123456", "+3225123456")],
)
def test_french_phone_numbers_are_shown_in_national_format(value, shown):
    assert ContactPoint(kind="phone", value=value).display == shown
