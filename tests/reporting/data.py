"""A small, hand-countable portfolio of the CPAM for the rollup, dashboard and meeting-pack tests.

Today is 20/11/2026. Cases (received, claimed, what happened):
- A  CSR   28/05/2026  100,00  paid 100,00 on 15/06/2026 (« Soldé »); a letter
- B  CSR   05/10/2026  200,00  paid 50,00 on 20/10/2026, 30,00 on 03/11/2026 reversed on 10/11/2026; a letter, a call
- C  CDOP  01/09/2025  300,00  paid 60,00 on 02/11/2026; an e-mail
- D  CDOP  05/10/2026   80,00  nothing
and one case of the other creditor (never in the CPAM's figures)."""

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.utils import timezone

from amiable.cases.models import Action
from amiable.payments.services import payment_record, payment_reverse
from tests.factories import make_case

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))


def _action(case, channel):
    Action.objects.create(case=case, channel=channel, at=timezone.now(), summary=f"{channel} de test")


def portfolio(reference, users) -> SimpleNamespace:
    agent = users.agent
    a = make_case(structure=reference.csr, principal="100.00", received_on=date(2026, 5, 28))
    b = make_case(structure=reference.csr, principal="200.00", received_on=date(2026, 10, 5))
    c = make_case(structure=reference.cdop, principal="300.00", received_on=date(2025, 9, 1))
    d = make_case(structure=reference.cdop, principal="80.00", received_on=date(2026, 10, 5))
    other = make_case(structure=reference.other_structure, principal="999.00", received_on=date(2026, 10, 5))
    payment_record(case=a, amount="100.00", collected_on=date(2026, 6, 15), method="transfer", actor=agent)
    payment_record(case=b, amount="50.00", collected_on=date(2026, 10, 20), method="transfer", actor=agent)
    bounced = payment_record(case=b, amount="30.00", collected_on=date(2026, 11, 3), method="cheque", actor=agent)
    payment_reverse(payment=bounced, reversed_on=date(2026, 11, 10), reason="Chèque impayé", actor=agent)
    payment_record(case=c, amount="60.00", collected_on=date(2026, 11, 2), method="transfer", actor=agent)
    payment_record(case=other, amount="999.00", collected_on=date(2026, 11, 2), method="transfer", actor=agent)
    _action(a, "letter")
    _action(b, "letter")
    _action(b, "call")
    _action(c, "email")
    _action(other, "sms")
    return SimpleNamespace(a=a, b=b, c=c, d=d, other=other)


def more_cases(reference, count: int) -> None:
    """Cases that change the figures but must not change the number of queries."""
    for n in range(count):
        case = make_case(structure=reference.cesa if n % 2 else reference.csr, principal="10.00", received_on=TODAY)
        _action(case, "sms")
