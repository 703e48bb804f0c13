"""The permission predicates of `accounts.permissions`: one rule each, for every role, and the `may` filter
through which templates ask the same rules."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template, TemplateSyntaxError

from amiable.accounts.permissions import (
    can_ask_agency,
    can_decide,
    can_reassign,
    can_upload_batch,
    can_work_cases,
)
from amiable.accounts.services import user_deactivate

ROLES = ["agent", "supervisor", "agency_admin", "collaborator", "approver", "creditor_admin", "csr_only", "other_admin"]

EXPECTED = {
    # role: work_cases, reassign, ask_agency (own creditor), decide (own creditor)
    "agent": (True, False, False, False),
    "supervisor": (True, True, False, False),
    "agency_admin": (True, True, False, False),
    "collaborator": (False, False, True, False),
    "approver": (False, False, True, True),
    "creditor_admin": (False, False, True, True),
    "csr_only": (False, False, True, False),
    "other_admin": (False, False, False, False),  # asked about the CPAM, not its own creditor
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_its_rule_allows(reference, users, role):
    user = getattr(users, role)
    cpam = reference.cpam.pk

    assert (
        can_work_cases(user),
        can_reassign(user),
        can_ask_agency(user, cpam),
        can_decide(user, cpam),
    ) == EXPECTED[role]


def test_creditor_rules_without_a_creditor_answer_for_the_persons_own(users):
    assert can_ask_agency(users.other_admin) and can_decide(users.other_admin)
    assert not can_decide(users.collaborator)


@pytest.mark.parametrize(
    ("role", "cpam", "other", "some"),
    [
        ("agent", True, True, True),
        ("creditor_admin", True, False, True),
        ("collaborator", True, False, True),
        ("csr_only", False, False, False),  # a batch covers every structure of the creditor
        ("other_admin", False, True, True),
    ],
)
def test_who_may_transmit_a_batch_and_for_whom(reference, users, role, cpam, other, some):
    user = getattr(users, role)
    assert can_upload_batch(user, reference.cpam) is cpam
    assert can_upload_batch(user, reference.other) is other
    assert can_upload_batch(user) is some


def test_nobody_outside_staff_and_no_deactivated_account_passes_any_rule(reference, users):
    user_deactivate(user=users.supervisor, actor=None)
    user_deactivate(user=users.approver, actor=None)
    users.supervisor.refresh_from_db()
    users.approver.refresh_from_db()

    for user in (None, AnonymousUser(), users.supervisor, users.approver):
        assert not can_work_cases(user)
        assert not can_reassign(user)
        assert not can_ask_agency(user)
        assert not can_decide(user)
        assert not can_upload_batch(user, reference.cpam)


def test_the_user_attribute_can_never_disagree_with_the_rule(users):
    for role in ROLES:
        user = getattr(users, role)
        assert user.can_decide is can_decide(user)


def _render(source: str, user) -> str:
    return Template(source).render(Context({"user": user})).strip()


def test_templates_ask_the_same_rules_through_may(users):
    source = '{% if user|may:"work_cases" %}agence{% endif %}{% if user|may:"decide" %}décide{% endif %}'

    assert _render(source, users.agent) == "agence"
    assert _render(source, users.approver) == "décide"
    assert _render(source, users.collaborator) == ""
    assert _render(source, AnonymousUser()) == ""


def test_an_unknown_rule_in_a_template_is_an_error_not_a_silent_no(users):
    with pytest.raises(TemplateSyntaxError, match="Règle de permission inconnue : « travailler »"):
        _render('{% if user|may:"travailler" %}oui{% endif %}', users.agent)
