"""Monthly commission invoices per structure (C13, C23, C24, L12): one line per case on the sums recovered
during the month, a gap-free number in the agency's series, a Factur-X PDF/A-3. A reversal of an invoiced
payment is credited back by a credit note (« avoir ») of the next run, never by editing an invoice."""

from django.db import models
from django.db.models import Q


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", "Facture"
    CREDIT_NOTE = "credit_note", "Avoir"


class InvoiceStatus(models.TextChoices):
    PREPARED = "prepared", "Préparée"
    SENT = "sent", "Envoyée"
    PAID = "paid", "Payée"


class Invoice(models.Model):
    """An invoice (or a credit note) of one structure for one month. Amounts are positive on both kinds; the
    kind says which way they go. `base` is the sum of the lines' bases, `commission` the sum of the lines'
    commissions (each rounded to the cent), `vat` the VAT on that sum, `total` = commission + vat."""

    number = models.CharField("numéro", max_length=20, unique=True)
    kind = models.CharField("type", max_length=12, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE)
    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="invoices"
    )
    structure = models.ForeignKey(
        "creditors.Structure", verbose_name="structure", on_delete=models.PROTECT, related_name="invoices"
    )
    period_start = models.DateField("du")
    period_end = models.DateField("au")
    issued_on = models.DateField("date d'émission")
    due_on = models.DateField("échéance")
    credited = models.ForeignKey(
        "self",
        verbose_name="facture corrigée",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_notes",
        help_text="Pour un avoir : la facture (la première, s'il y en a plusieurs) qu'il corrige.",
    )
    commission_rate = models.DecimalField("taux de commission (%)", max_digits=5, decimal_places=2)
    vat_rate = models.DecimalField("taux de TVA (%)", max_digits=5, decimal_places=2)
    base = models.DecimalField("sommes recouvrées (base)", max_digits=12, decimal_places=2)
    commission = models.DecimalField("commission HT", max_digits=12, decimal_places=2)
    vat = models.DecimalField("TVA", max_digits=12, decimal_places=2)
    total = models.DecimalField("total TTC", max_digits=12, decimal_places=2)
    status = models.CharField(
        "état", max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.PREPARED, db_index=True
    )
    pdf = models.FileField("Factur-X (PDF/A-3)", upload_to="invoices/", blank=True)
    sha256 = models.CharField("empreinte SHA-256", max_length=64, blank=True)
    emailed_to = models.CharField("envoyée à", max_length=254, blank=True)
    emailed_at = models.DateTimeField("envoyée le", null=True, blank=True)
    paid_on = models.DateField("payée le", null=True, blank=True)
    created_at = models.DateTimeField("créée le", auto_now_add=True)

    class Meta:
        verbose_name = "facture"
        verbose_name_plural = "factures"
        ordering = ["-period_start", "creditor_id", "structure_id", "kind", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["structure", "period_start", "kind"], name="invoice_one_per_structure_month_kind"
            ),
            models.CheckConstraint(name="invoice_amounts_not_negative", condition=Q(base__gte=0, total__gte=0)),
            models.CheckConstraint(
                name="invoice_credit_note_names_invoice",
                condition=Q(kind="invoice", credited__isnull=True) | Q(kind="credit_note"),
            ),
            models.CheckConstraint(
                name="invoice_credit_note_has_invoice",
                condition=Q(kind="invoice") | Q(credited__isnull=False),
            ),
            models.CheckConstraint(
                name="invoice_commission_vat_not_negative", condition=Q(commission__gte=0, vat__gte=0)
            ),
        ]
        indexes = [models.Index(fields=["creditor", "structure", "-period_start"], name="invoice_structure_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE


class InvoiceLine(models.Model):
    """One case of the invoice: the sums recovered on it during the period that bear commission, and the
    commission rounded to the cent (half up)."""

    invoice = models.ForeignKey(Invoice, verbose_name="facture", on_delete=models.PROTECT, related_name="lines")
    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="+")
    base = models.DecimalField("sommes recouvrées", max_digits=12, decimal_places=2)
    commission = models.DecimalField("commission HT", max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = "ligne de facture"
        verbose_name_plural = "lignes de facture"
        ordering = ["invoice_id", "pk"]
        constraints = [models.UniqueConstraint(fields=["invoice", "case"], name="invoice_line_one_per_case")]

    def __str__(self) -> str:
        return f"{self.commission} €"


class InvoicedItem(models.Model):
    """What a payment brought to an invoice line (positive), or what its reversal took back in a credit note
    (negative): each payment is invoiced at most once and credited at most once."""

    line = models.ForeignKey(InvoiceLine, verbose_name="ligne", on_delete=models.PROTECT, related_name="items")
    payment = models.ForeignKey("payments.Payment", verbose_name="paiement", on_delete=models.PROTECT, related_name="+")
    is_credit = models.BooleanField("repris par un avoir", default=False)
    base = models.DecimalField("base", max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = "paiement facturé"
        verbose_name_plural = "paiements facturés"
        constraints = [
            models.UniqueConstraint(fields=["payment", "is_credit"], name="invoiced_item_once_per_payment_and_way"),
        ]

    def __str__(self) -> str:
        return f"{self.base} €"
