"""The client-funds ledger (C15, CPCE R124-2): the dedicated bank account as an append-only double-entry
journal. Money collected for creditors is held there until remitted; an excess paid by a debtor is held
for the debtor until refunded. Nothing is ever updated or deleted: a correction is a new entry."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from amiable.core.exceptions import ApplicationError


class LedgerAccount(models.TextChoices):
    """The accounts of the journal. `bank` is the asset (the client-funds account); the others say whose the
    money held there is."""

    BANK = "bank", "Compte bancaire des fonds de tiers"
    CREDITOR_FUNDS = "creditor_funds", "Fonds détenus pour le créancier"
    DEBTOR_REFUNDS = "debtor_refunds", "Trop-perçus à rembourser aux débiteurs"


class EntryKind(models.TextChoices):
    PAYMENT = "payment", "Encaissement"
    REVERSAL = "reversal", "Rejet ou annulation d'un encaissement"
    REFUND = "refund", "Remboursement d'un trop-perçu"
    REMITTANCE = "remittance", "Reversement au créancier"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ApplicationError("Le journal des fonds de tiers ne peut pas être modifié.")

    def delete(self):
        raise ApplicationError("Le journal des fonds de tiers ne peut pas être effacé.")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ApplicationError("Le journal des fonds de tiers ne peut pas être modifié.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ApplicationError("Le journal des fonds de tiers ne peut pas être effacé.")


class LedgerEntry(AppendOnly):
    """One movement of the client-funds account, written once; its lines sum to zero. `source` names what
    caused it (`payment:42`), unique per kind, so that posting the same thing twice is refused."""

    kind = models.CharField("nature", max_length=12, choices=EntryKind.choices)
    source = models.CharField("origine", max_length=64)
    posted_on = models.DateField("date de valeur", db_index=True)
    memo = models.CharField("libellé", max_length=300)
    created_at = models.DateTimeField("écrite le", auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="par", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "écriture des fonds de tiers"
        verbose_name_plural = "écritures des fonds de tiers"
        ordering = ["posted_on", "pk"]
        constraints = [models.UniqueConstraint(fields=["kind", "source"], name="ledger_entry_unique_source")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} du {self.posted_on:%d/%m/%Y} — {self.memo}"


class LedgerLine(AppendOnly):
    """One side of an entry: a signed amount (positive = debit) on an account, with the creditor and
    structure whose money it is (and the case it comes from), so that balances read per structure."""

    entry = models.ForeignKey(LedgerEntry, verbose_name="écriture", on_delete=models.PROTECT, related_name="lines")
    account = models.CharField("compte", max_length=16, choices=LedgerAccount.choices)
    amount = models.DecimalField("montant (débit positif)", max_digits=12, decimal_places=2)
    posted_on = models.DateField("date de valeur")
    creditor = models.ForeignKey(
        "creditors.Creditor",
        verbose_name="créancier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    structure = models.ForeignKey(
        "creditors.Structure",
        verbose_name="structure",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    case = models.ForeignKey(
        "cases.Case", verbose_name="dossier", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "ligne d'écriture"
        verbose_name_plural = "lignes d'écriture"
        ordering = ["entry_id", "pk"]
        constraints = [models.CheckConstraint(name="ledger_line_not_zero", condition=~Q(amount=0))]
        indexes = [
            models.Index(fields=["account", "posted_on"], name="ledger_account_date_idx"),
            models.Index(fields=["account", "structure", "posted_on"], name="ledger_structure_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_account_display()} {self.amount}"
