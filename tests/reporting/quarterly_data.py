"""A small creditor whose quarterly figures are computed by hand (docs/statistics.md): the CPAM's three
structures in the third quarter of 2026, the workbook built on 15 October 2026.

    CSR   A received 10/05, 100.00: paid 40.00 on 15/06 and 60.00 on 20/07 (in full on 20/07) — « Soldé »
          B received 05/07, 200.00: paid 50.00 on 10/08 — « Plan d'apurement »
          C received 01/08,  80.00: nothing — « Irrécouvrable », certificate (untraceable) on 10/09
          G received 02/10, 500.00: after the quarter, never counted
    CDOP  D received 10/07, 300.00: paid 300.00 on 05/09 (in full) — « Soldé »
          E received 20/09,  50.00: 20.00 on 25/09 reversed on 28/09, 10.00 on 05/10 (after the quarter) — « Nouveau »
    CESA  F received 15/01,  40.00: nothing — « Irrécouvrable », certificate (deceased) on 20/06, and a revoked one
    The other creditor: one case paid in full in July, one e-mail; it never shows.

Certificate clocks (due dates set by hand): B due 15/09, open (late); C due 01/09, closed 10/09 (missed);
D due 30/09, paid in full 05/09 (met); F due 15/07, closed 20/06 (met); A due 20/10 (after the quarter)."""

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import time_machine

from amiable.cases.models import Action, Case, CaseStatus
from amiable.closure.models import CaseClosure, Certificate
from amiable.creditor_requests.models import CreditorRequest
from amiable.payments.models import Plan
from amiable.payments.services import payment_record, payment_reverse
from amiable.remittances.models import Remittance
from tests.factories import make_case

PARIS = ZoneInfo("Europe/Paris")
BUILT = datetime(2026, 10, 15, 9, 0, tzinfo=PARIS)
QUARTER = "2026-Q3"


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=PARIS)


def _pay(case, amount, day, agent):
    return payment_record(
        case=case, amount=amount, collected_on=date.fromisoformat(day), method="transfer", actor=agent
    )


def _plan(case, status, granted, ended, agent, n):
    return Plan.objects.create(
        number=f"PA-T-{n}",
        case=case,
        status=status,
        total="10.00",
        months=3,
        proposed_by=agent,
        proposed_at=at(granted),
        granted_at=at(granted),
        ended_at=at(ended) if ended else None,
    )


def _certificate(case, reason, issued, agent, n, revoked=False):
    closure = CaseClosure.objects.create(
        case=case,
        kind="irrecoverable",
        reason=reason,
        ended_on=date.fromisoformat(issued),
        decided_by=agent,
        decided_at=at(issued),
        reopened_at=at(issued, 11) if revoked else None,
    )
    return Certificate.objects.create(
        number=f"CI-T-{n}",
        case=case,
        closure=closure,
        reason=reason,
        claimed_amount=case.claimed_amount,
        recovered_amount=0,
        remaining_amount=case.claimed_amount,
        issued_on=date.fromisoformat(issued),
        issued_by=agent,
        revoked_at=at(issued, 12) if revoked else None,
    )


def _request(creditor, user, kind, due, *, status="answered", answered=None, meeting=None, case=None):
    return CreditorRequest.objects.create(
        creditor=creditor,
        case=case,
        kind=kind,
        body="Demande",
        asked_by=user,
        asked_at=at("2026-06-01"),
        due_at=due,
        status=status,
        answered_at=answered,
        meeting_at=meeting,
    )


def _remittance(structure, sunday, n, *, sent=None, executed=None, status="sent"):
    end = date.fromisoformat(sunday)
    return Remittance.objects.create(
        number=f"RV-Q-{n}",
        creditor=structure.creditor,
        structure=structure,
        period_start=date.fromordinal(end.toordinal() - 6),
        period_end=end,
        total="10.00",
        status=status,
        sent_at=sent,
        executed_on=executed,
    )


def quarter_example(reference, users) -> SimpleNamespace:
    agent = users.agent
    with time_machine.travel(BUILT, tick=False):
        csr, cdop, cesa = reference.csr, reference.cdop, reference.cesa
        a = make_case(structure=csr, reference="Q-A", principal="100.00", received_on=date(2026, 5, 10))
        b = make_case(structure=csr, reference="Q-B", principal="200.00", received_on=date(2026, 7, 5))
        c = make_case(structure=csr, reference="Q-C", principal="80.00", received_on=date(2026, 8, 1))
        g = make_case(structure=csr, reference="Q-G", principal="500.00", received_on=date(2026, 10, 2))
        d = make_case(structure=cdop, reference="Q-D", principal="300.00", received_on=date(2026, 7, 10))
        e = make_case(structure=cdop, reference="Q-E", principal="50.00", received_on=date(2026, 9, 20))
        f = make_case(structure=cesa, reference="Q-F", principal="40.00", received_on=date(2026, 1, 15))
        other = make_case(structure=reference.other_structure, reference="Q-X", principal="70.00")
        Case.objects.filter(pk=other.pk).update(received_on=date(2026, 7, 1))

        _pay(a, "40.00", "2026-06-15", agent)
        _pay(a, "60.00", "2026-07-20", agent)
        _pay(b, "50.00", "2026-08-10", agent)
        _pay(d, "300.00", "2026-09-05", agent)
        bounced = _pay(e, "20.00", "2026-09-25", agent)
        payment_reverse(payment=bounced, reversed_on=date(2026, 9, 28), reason="Chèque impayé", actor=agent)
        _pay(e, "10.00", "2026-10-05", agent)
        _pay(g, "500.00", "2026-10-03", agent)
        _pay(other, "70.00", "2026-07-02", agent)
        Case.objects.filter(pk=b.pk).update(status=CaseStatus.PAYMENT_PLAN)
        Case.objects.filter(pk__in=[c.pk, f.pk]).update(status=CaseStatus.IRRECOVERABLE)

        _plan(b, "active", "2026-07-20", None, agent, 1)
        _plan(d, "completed", "2026-07-15", "2026-09-05", agent, 2)
        _plan(a, "broken", "2026-05-20", "2026-07-25", agent, 3)
        _plan(e, "broken", "2026-09-21", "2026-10-03", agent, 4)

        _certificate(c, "untraceable", "2026-09-10", agent, 1)
        _certificate(f, "deceased", "2026-06-20", agent, 2)
        _certificate(f, "insolvency", "2026-08-01", agent, 3, revoked=True)

        for case, channel, when in (
            (a, "email", "2026-07-10"),  # payment on 20/07: yields
            (a, "email", "2026-07-12"),
            (b, "letter", "2026-07-06"),  # payment on 10/08, 35 days later: does not
            (b, "email", "2026-07-15"),  # 26 days: yields
            (c, "letter", "2026-08-02"),
            (d, "sms", "2026-08-20"),  # payment on 05/09: yields
            (d, "call", "2026-06-30"),  # before the quarter
            (e, "call", "2026-09-22"),  # the payment that followed was reversed: does not
            (other, "email", "2026-07-01"),
        ):
            Action.objects.create(case=case, channel=channel, at=at(when), summary="Relance")

        cpam, admin = reference.cpam, users.creditor_admin
        _request(cpam, admin, "question", at("2026-07-10", 12), answered=at("2026-07-09"), case=b)
        _request(cpam, admin, "statement", at("2026-08-01", 12), answered=at("2026-08-02"), case=b)
        _request(cpam, admin, "meeting", at("2026-09-10"), answered=at("2026-09-01"), meeting=at("2026-09-09"))
        _request(cpam, admin, "question", at("2026-09-30", 18), status="open", case=c)
        _request(cpam, admin, "question", at("2026-10-05"), status="open", case=c)  # due after the quarter
        _request(cpam, admin, "question", at("2026-08-05"), status="cancelled", case=c)

        _remittance(csr, "2026-07-05", 1, sent=at("2026-07-06"))
        _remittance(csr, "2026-08-09", 2, sent=at("2026-08-20"))
        _remittance(cdop, "2026-09-27", 3, status="prepared")
        _remittance(cdop, "2026-06-28", 4, sent=at("2026-06-29"))

        # Certificate clocks due in the quarter (as if acknowledged earlier): B still open (late), C closed
        # after its due date (missed), D paid in full before it and F closed before it (met); A's is due
        # after the quarter.
        for case, due in (
            (b, "2026-09-15"),
            (c, "2026-09-01"),
            (d, "2026-09-30"),
            (f, "2026-07-15"),
            (a, "2026-10-20"),
        ):
            Case.objects.filter(pk=case.pk).update(certificate_due_on=date.fromisoformat(due))
        CaseClosure.objects.filter(case=d, kind="paid").update(ended_on=date(2026, 9, 5))  # paid in full on 05/09
    return SimpleNamespace(a=a, b=b, c=c, d=d, e=e, f=f, g=g, other=other)
