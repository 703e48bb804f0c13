"""Weekly remittances (C20, C21, L6): the money held for a creditor's structure in the client-funds account,
paid back once a week. One remittance per structure and week; each payment is remitted in at most one line,
and a reversal of a remitted payment is carried, negative, into a later remittance."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class RemittanceStatus(models.TextChoices):
    PREPARED = "prepared", "Préparé"
    SENT = "sent", "Virement émis"
    EXECUTED = "executed", "Virement exécuté"


class Remittance(models.Model):
    """What is paid back to one structure for one Monday–Sunday week; `total` is the sum of its lines. Made in
    one transaction (lines and ledger debit); its files (statement as PDF, XLSX and CSV, SEPA transfer) and
    its e-mail are completed after, by the same run or the next one, so that a crash never leaves half a
    remittance and never loses a file."""

    number = models.CharField("numéro", max_length=20, unique=True)
    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="remittances"
    )
    structure = models.ForeignKey(
        "creditors.Structure", verbose_name="structure", on_delete=models.PROTECT, related_name="remittances"
    )
    period_start = models.DateField("du (lundi)")
    period_end = models.DateField("au (dimanche)")
    total = models.DecimalField("montant reversé", max_digits=12, decimal_places=2)
    status = models.CharField(
        "état", max_length=10, choices=RemittanceStatus.choices, default=RemittanceStatus.PREPARED, db_index=True
    )
    created_at = models.DateTimeField("préparé le", auto_now_add=True)
    # The files, written once by `remittance_complete` with their SHA-256 (S3): stored, never rebuilt.
    statement_pdf = models.FileField("relevé (PDF)", upload_to="remittances/", blank=True)
    statement_pdf_sha256 = models.CharField("empreinte du relevé PDF", max_length=64, blank=True)
    statement_xlsx = models.FileField("relevé (XLSX)", upload_to="remittances/", blank=True)
    statement_xlsx_sha256 = models.CharField("empreinte du relevé XLSX", max_length=64, blank=True)
    statement_csv = models.FileField("relevé (CSV)", upload_to="remittances/", blank=True)
    statement_csv_sha256 = models.CharField("empreinte du relevé CSV", max_length=64, blank=True)
    transfer_xml = models.FileField("virement SEPA (pain.001)", upload_to="remittances/", blank=True)
    transfer_sha256 = models.CharField("empreinte du virement", max_length=64, blank=True)
    documents_at = models.DateTimeField("fichiers produits le", null=True, blank=True)
    emailed_to = models.CharField("relevé envoyé à", max_length=254, blank=True)
    emailed_at = models.DateTimeField("relevé envoyé le", null=True, blank=True)
    sent_at = models.DateTimeField("virement émis le", null=True, blank=True)
    executed_on = models.DateField("virement exécuté le", null=True, blank=True)
    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="exécution constatée par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    bank_entry = models.OneToOneField(
        "banking.BankEntry",
        verbose_name="débit du relevé bancaire",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="remittance",
    )

    class Meta:
        verbose_name = "reversement"
        verbose_name_plural = "reversements"
        ordering = ["-period_start", "creditor_id", "structure_id"]
        constraints = [
            models.UniqueConstraint(fields=["structure", "period_start"], name="remittance_one_per_structure_week"),
            models.CheckConstraint(name="remittance_total_positive", condition=Q(total__gt=0)),
        ]
        indexes = [models.Index(fields=["documents_at"], name="remittance_documents_idx")]

    def __str__(self) -> str:
        return f"Reversement {self.number}"


class RemittanceLine(models.Model):
    """One payment remitted (positive) or one reversal of a remitted payment taken back (negative). The
    amount is what the ledger moved on the structure's funds for it, so that an overpayment held for the
    debtor is never remitted."""

    remittance = models.ForeignKey(
        Remittance, verbose_name="reversement", on_delete=models.PROTECT, related_name="lines"
    )
    payment = models.OneToOneField(
        "payments.Payment",
        verbose_name="paiement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="remittance_line",
    )
    reversal = models.OneToOneField(
        "payments.PaymentReversal",
        verbose_name="rejet",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="remittance_line",
    )
    amount = models.DecimalField("montant (négatif pour un rejet)", max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = "ligne de reversement"
        verbose_name_plural = "lignes de reversement"
        ordering = ["remittance_id", "pk"]
        constraints = [
            models.CheckConstraint(
                name="remittance_line_payment_or_reversal",
                condition=Q(payment__isnull=False, reversal__isnull=True)
                | Q(payment__isnull=True, reversal__isnull=False),
            ),
            models.CheckConstraint(name="remittance_line_not_zero", condition=~Q(amount=0)),
        ]

    def __str__(self) -> str:
        return f"{self.amount} €"
