"""The financial statement of a case (décompte, C34): what was claimed, each payment, reversal and refund,
what was passed on to the creditor, and what remains due, at one instant. Read as a page or a PDF by agency
staff and the case's creditor staff; `services_statement` numbers and stores the one sent to the creditor in
answer to its request."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils import timezone

from amiable.cases.models import Case
from amiable.core.money import ZERO
from amiable.creditors.models import Agency
from amiable.creditors.selectors import agency_get
from amiable.letters.services import letter_pdf
from amiable.payments.models import (
    Component,
    Payment,
    PaymentMethod,
    PaymentReversal,
    Refund,
    Statement,
)
from amiable.payments.selectors import paid_by_component

# --- what was passed on to the creditor ------------------------------------------------------------------


@dataclass(frozen=True)
class RemittedLine:
    """An amount of the case passed on to the creditor by a remittance."""

    remitted_on: date
    reference: str
    amount: Decimal


# Remittances live in an app above this one (the weekly remittances to each structure): it registers, in its
# `AppConfig.ready()`, a reader that returns the remitted lines of one case in a constant number of queries.
RemittanceReader = Callable[[Case], list[RemittedLine]]
_remittance_reader: RemittanceReader | None = None


def register_remittance_reader(reader: RemittanceReader) -> None:
    """Declare where the statement reads what was remitted of a case; until then nothing was remitted."""
    global _remittance_reader
    _remittance_reader = reader


def remitted_lines(case: Case) -> list[RemittedLine]:
    return list(_remittance_reader(case)) if _remittance_reader is not None else []


# --- the statement ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentLine:
    """One component of the claim: what is claimed, what was paid of it (net), what remains."""

    label: str
    claimed: Decimal
    paid: Decimal

    @property
    def remaining(self) -> Decimal:
        return max(self.claimed - self.paid, ZERO)


@dataclass(frozen=True)
class CaseStatement:
    """The figures of a case at `drawn_at`. Amounts are net of reversals and refunds where said so; a direct
    payment is the creditor's already and is never to be remitted."""

    case: Case
    agency: Agency
    drawn_at: datetime
    components: list[ComponentLine]
    payments: list[Payment]
    reversals: list[PaymentReversal]
    refunds: list[Refund]
    remittances: list[RemittedLine]
    payments_total: Decimal  # every payment received, reversed or not
    reversals_total: Decimal
    refunds_total: Decimal
    direct_total: Decimal  # paid directly to the creditor, not reversed
    remitted_total: Decimal

    @property
    def net_paid(self) -> Decimal:
        """What the debtor paid, net of reversals and refunds: the case's paid amount."""
        return self.payments_total - self.reversals_total - self.refunds_total

    @property
    def overpaid(self) -> Decimal:
        """The excess owed back to the debtor, not yet refunded (never the creditor's, never revenue: L3)."""
        return self.case.overpaid_amount

    @property
    def recovered(self) -> Decimal:
        return self.net_paid - self.overpaid

    @property
    def collected_by_agency(self) -> Decimal:
        """Recovered through the agency's client-funds account, for the creditor."""
        return self.recovered - self.direct_total

    @property
    def to_remit(self) -> Decimal:
        """Held by the agency for the creditor, not remitted yet."""
        return self.collected_by_agency - self.remitted_total

    @property
    def balance(self) -> Decimal:
        return self.case.balance


def statement_from_case(case: Case) -> CaseStatement:
    """The statement of a case already read, with its creditor, structure and debtor, inside the transaction
    that locked it (`case_lock`): four queries whatever the number of payments (and the remittance reader's
    own)."""
    agency = agency_get()
    payments = list(Payment.objects.filter(case=case).select_related("reversal").order_by("collected_on", "pk"))
    refunds = list(Refund.objects.filter(case=case).order_by("refunded_on", "pk"))
    paid = paid_by_component(case)
    reversals = sorted((p.reversal for p in payments if hasattr(p, "reversal")), key=lambda r: (r.reversed_on, r.pk))
    remittances = remitted_lines(case)
    return CaseStatement(
        case=case,
        agency=agency,
        drawn_at=timezone.now(),
        components=[
            ComponentLine(Component.PRINCIPAL.label, case.principal_amount, paid.get(Component.PRINCIPAL, ZERO)),
            ComponentLine(Component.INTEREST.label, case.interest_amount or ZERO, paid.get(Component.INTEREST, ZERO)),
            ComponentLine(Component.OTHER.label, case.other_amount or ZERO, paid.get(Component.OTHER, ZERO)),
        ],
        payments=payments,
        reversals=reversals,
        refunds=refunds,
        remittances=remittances,
        payments_total=sum((p.amount for p in payments), ZERO),
        reversals_total=sum((r.payment.amount for r in reversals), ZERO),
        refunds_total=sum((r.amount for r in refunds), ZERO),
        direct_total=sum(
            (p.amount for p in payments if p.method == PaymentMethod.DIRECT and not hasattr(p, "reversal")), ZERO
        ),
        remitted_total=sum((line.amount for line in remittances), ZERO),
    )


def case_statement(*, case: Case) -> CaseStatement:
    """The financial statement of a case, now: five queries whatever the number of payments. The caller has
    already checked that the person may see the case (`Case.objects.visible_to`)."""
    case = Case.objects.select_related("creditor", "structure", "debtor").get(pk=case.pk)
    return statement_from_case(case)


def statement_html(statement: CaseStatement, *, number: str = "") -> str:
    """The statement as the HTML its PDF is drawn from; without a number it says it is a consultation."""
    return render_to_string(
        "payments/statement_pdf.html",
        {"s": statement, "case": statement.case, "agency": statement.agency, "number": number},
    )


def statement_pdf(statement: CaseStatement, *, number: str = "") -> bytes:
    """The statement as a PDF/A (archival, nothing fetched from outside), like the letters."""
    return letter_pdf(statement_html(statement, number=number))


def statements_issued(*, case: Case) -> list[Statement]:
    """The statements sent to the creditor for a case, latest first: one query."""
    return list(Statement.objects.filter(case=case).order_by("-issued_at", "-pk"))
