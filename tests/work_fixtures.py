"""Fixtures for the recovery actions: the CPAM's default letters and scenario, and cases ready to be worked."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from amiable.cases.models import Case
from amiable.cases.services import contact_point_add
from amiable.letters.defaults import letter_templates_ensure
from amiable.letters.print_batch import print_batch_build
from amiable.letters.services import letter_issue
from amiable.scenarios.defaults import scenario_ensure
from amiable.scenarios.models import Scenario
from tests.factories import make_case

DEBTOR_EMAIL = "marie.dupont@exemple.fr"
DEBTOR_PHONE = "+33612345678"


@pytest.fixture
def cpam_setup(reference):
    """The CPAM with its default letter templates and the standard scenario (D0 letter … D+300 review)."""
    letter_templates_ensure(creditor=reference.cpam)
    scenario_ensure(creditor=reference.cpam)
    return Scenario.objects.get(creditor=reference.cpam)


@pytest.fixture
def case_factory(reference, cpam_setup):
    """Build a CPAM case of the dental centre (its name must never reach the debtor, L9), acknowledged on
    `ack` (None: not acknowledged), with a valid e-mail and/or phone when asked."""

    def build(*, ack: date | None, email: str | None = None, phone: str | None = None, structure=None, **extra) -> Case:
        case = make_case(structure=structure or reference.cdop, received_on=ack or date(2026, 6, 1), **extra)
        if email:
            contact_point_add(
                debtor=case.debtor,
                kind="email",
                value=email,
                quality="valid",
                source="Fichier du créancier",
                actor=None,
            )
        if phone:
            contact_point_add(
                debtor=case.debtor,
                kind="phone",
                value=phone,
                quality="valid",
                source="Fichier du créancier",
                actor=None,
            )
        if ack is not None:
            Case.objects.filter(pk=case.pk).update(acknowledged_on=ack)
        case.refresh_from_db()
        return case

    return build


EARLY_LETTER_AT = datetime(2026, 5, 4, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))


def first_letter_sent(case, *, at: datetime = EARLY_LETTER_AT, printed: bool = True):
    """Issue the case's first letter before the calls and messages of a test (R124-4: they follow it), early
    enough (more than 30 days before July) not to count against the letter cap; `printed`: it went out with
    that day's print run, as an e-mail or SMS that recalls it requires."""
    letter_templates_ensure(creditor=case.creditor)
    letter = letter_issue(case=case, kind="first", actor=None, issued_on=at.date(), at=at)
    return posted(letter) if printed else letter


def posted(letter):
    """The letter after the print run of its day (the real one): an e-mail or SMS that recalls a first letter
    may only go once the letter is in a print batch."""
    print_batch_build(day=letter.issued_on)
    letter.refresh_from_db()
    assert letter.printed_on is not None, "the letter was held back by the print run"
    return letter
