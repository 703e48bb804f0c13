"""Receipts of payments and the documents cancelling them (C17, L4, CPCE R124-6)."""

from amiable.payments.models import Payment, PaymentReversal, Receipt


def receipt_issue(*, payment: Payment, actor) -> Receipt | None:
    """Issue the receipt of a payment inside the payment's transaction."""
    return None


def receipt_cancel(*, reversal: PaymentReversal, actor) -> Receipt | None:
    """Issue the document that cancels the receipt of a reversed payment."""
    return None
