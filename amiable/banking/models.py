"""Statements of the client-funds bank account and their entries: what the bank booked, matched to the cases'
payments or waiting for someone to say whose money it is (B2)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from amiable.banking.parsed import CAMT053, CFONB120


class StatementFormat(models.TextChoices):
    CAMT053 = CAMT053, "camt.053 (ISO 20022)"
    CFONB120 = CFONB120, "CFONB 120"


class BankStatement(models.Model):
    """One statement file imported for the agency's client-funds account, kept as received. The same file
    is imported once (its SHA-256 is unique); several days in one file make one row."""

    format = models.CharField("format", max_length=10, choices=StatementFormat.choices)
    account = models.CharField("compte (IBAN)", max_length=34)
    filename = models.CharField("nom du fichier", max_length=255)
    sha256 = models.CharField("empreinte SHA-256", max_length=64, unique=True)
    size = models.PositiveIntegerField("taille (octets)")
    file = models.FileField("fichier reçu", upload_to="banking/statements/%Y/")
    opening_on = models.DateField("ancien solde au")
    opening_balance = models.DecimalField("ancien solde", max_digits=14, decimal_places=2)
    closing_on = models.DateField("nouveau solde au", db_index=True)
    closing_balance = models.DecimalField("nouveau solde", max_digits=14, decimal_places=2)
    entry_count = models.PositiveIntegerField("mouvements du fichier", default=0)
    new_entry_count = models.PositiveIntegerField("mouvements nouveaux", default=0)
    imported_at = models.DateTimeField("importé le")
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="importé par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "relevé bancaire"
        verbose_name_plural = "relevés bancaires"
        ordering = ["-closing_on", "-pk"]

    def __str__(self) -> str:
        return f"Relevé du {self.opening_on:%d/%m/%Y} au {self.closing_on:%d/%m/%Y} ({self.filename})"

    @property
    def account_display(self) -> str:
        """The IBAN in groups of four, as printed on a bank statement."""
        return " ".join(self.account[i : i + 4] for i in range(0, len(self.account), 4))


class EntryStatus(models.TextChoices):
    MATCHED = "matched", "Rapproché d'un paiement"
    TO_REVIEW = "to_review", "À examiner"
    IGNORED = "ignored", "Écarté"
    DEBIT = "debit", "Débit"
    REMITTANCE = "remittance", "Débit rapproché d'un reversement"


class BankEntry(models.Model):
    """One movement the bank booked on the account, stored once whatever the number of statements that show
    it. It is the same movement as one already stored when it has the same bank reference, or, without a
    reference, the same day, amount, direction and label — and the same rank among the movements of that day
    alike, so that two identical fees on one day stay two entries."""

    statement = models.ForeignKey(
        BankStatement, verbose_name="relevé", on_delete=models.PROTECT, related_name="entries"
    )
    account = models.CharField("compte (IBAN)", max_length=34)
    booked_on = models.DateField("date de comptabilisation")
    value_on = models.DateField("date de valeur", null=True, blank=True)
    amount = models.DecimalField("montant", max_digits=12, decimal_places=2)
    is_credit = models.BooleanField("crédit")
    bank_ref = models.CharField("référence de la banque", max_length=64, blank=True)
    label = models.TextField("libellé et informations de remise")
    label_hash = models.CharField("empreinte du libellé", max_length=64)
    counterparty = models.CharField("contrepartie", max_length=200, blank=True)
    rank = models.PositiveSmallIntegerField("rang parmi les mouvements identiques du jour", default=1)
    status = models.CharField("état", max_length=10, choices=EntryStatus.choices)
    payment = models.OneToOneField(
        "payments.Payment",
        verbose_name="paiement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bank_entry",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="examiné par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField("examiné le", null=True, blank=True)
    review_note = models.CharField("note d'examen", max_length=300, blank=True)

    class Meta:
        verbose_name = "mouvement bancaire"
        verbose_name_plural = "mouvements bancaires"
        ordering = ["booked_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "bank_ref"], condition=~Q(bank_ref=""), name="bank_entry_unique_ref"
            ),
            models.UniqueConstraint(
                fields=["account", "booked_on", "amount", "is_credit", "label_hash", "rank"],
                condition=Q(bank_ref=""),
                name="bank_entry_unique_without_ref",
            ),
            models.CheckConstraint(name="bank_entry_amount_not_negative", condition=Q(amount__gte=0)),
            models.CheckConstraint(
                name="bank_entry_payment_when_matched",
                condition=Q(status="matched", payment__isnull=False) | (~Q(status="matched") & Q(payment__isnull=True)),
            ),
        ]
        indexes = [models.Index(fields=["status", "booked_on"], name="bank_entry_status_idx")]

    def __str__(self) -> str:
        direction = "Crédit" if self.is_credit else "Débit"
        return f"{direction} de {self.amount} € du {self.booked_on:%d/%m/%Y}"

    @property
    def label_lines(self) -> list[str]:
        return self.label.splitlines()
