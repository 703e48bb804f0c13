"""What debtors pay and what is owed back to them: payments, their reversals and refunds, how each is
allocated to the claim's components, receipts, and payment plans with their instalments (C16–C19, C22,
C37, L3, L4). Nothing is deleted: a bounced cheque is a reversal, a mistake a reversal and a new payment."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from amiable.core.scoping import scope_to_user


class PaymentMethod(models.TextChoices):
    TRANSFER = "transfer", "Virement"
    CHEQUE = "cheque", "Chèque"
    CARD = "card", "Carte bancaire"
    CASH = "cash", "Espèces"
    DIRECT = "direct", "Paiement direct au créancier"


class PaymentSource(models.TextChoices):
    AGENT = "agent", "Saisi par l'agence"
    CREDITOR = "creditor", "Déclaré par le créancier"
    BANK = "bank", "Relevé bancaire"


class Component(models.TextChoices):
    """The parts of a claim a payment is allocated to, and the excess owed back to the debtor."""

    PRINCIPAL = "principal", "Principal"
    INTEREST = "interest", "Intérêts"
    OTHER = "other", "Accessoires"
    OVERPAYMENT = "overpayment", "Trop-perçu"


class CaseScopedQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Through the case: the one tenant rule (`scope_to_user`)."""
        return scope_to_user(self, user, creditor_field="case__creditor_id", structure_field="case__structure_id")


class Payment(models.Model):
    """Money a debtor paid on a case: to the agency's client-funds account, or directly to the creditor
    (declared by its staff, C22). `key` makes a repeated submission return the same payment."""

    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="payments")
    method = models.CharField("moyen de paiement", max_length=10, choices=PaymentMethod.choices)
    amount = models.DecimalField("montant", max_digits=12, decimal_places=2)
    collected_on = models.DateField("encaissé le")
    reference = models.CharField("référence (chèque, virement…)", max_length=140, blank=True)
    cash_reason = models.CharField("motif du paiement en espèces au-delà du plafond", max_length=300, blank=True)
    source = models.CharField("origine", max_length=10, choices=PaymentSource.choices, default=PaymentSource.AGENT)
    key = models.CharField("clé de saisie", max_length=64, null=True, blank=True, unique=True)
    promise = models.ForeignKey(
        "contact.PromiseToPay",
        verbose_name="promesse tenue",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="saisi par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField("saisi le", auto_now_add=True)
    # Set when the payment goes into a remittance (`payments_mark_remitted`, in the remittance's transaction): the
    # alert of funds held too long reads the few payments not remitted yet through a partial index, instead of
    # every payment ever collected less those in a remittance.
    remitted = models.BooleanField("reversé", default=False, db_default=False)

    objects = CaseScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "paiement"
        verbose_name_plural = "paiements"
        ordering = ["collected_on", "pk"]
        constraints = [models.CheckConstraint(name="payment_amount_positive", condition=Q(amount__gt=0))]
        indexes = [
            models.Index(fields=["case", "collected_on"], name="payment_case_idx"),
            models.Index(fields=["collected_on"], name="payment_collected_idx"),
            # The review queue looks for payments recorded by hand of a bank credit's amount.
            models.Index(fields=["amount"], name="payment_amount_idx"),
            models.Index(fields=["collected_on"], condition=Q(remitted=False), name="payment_unremitted_idx"),
        ]

    def __str__(self) -> str:
        return f"Paiement de {self.amount} € du {self.collected_on:%d/%m/%Y} ({self.get_method_display()})"

    @property
    def is_direct(self) -> bool:
        return self.method == PaymentMethod.DIRECT


class PaymentReversal(models.Model):
    """A payment that did not hold (bounced cheque, card chargeback, transfer recalled, entered by mistake):
    it restores the balance; the payment itself stays on record."""

    payment = models.OneToOneField(Payment, verbose_name="paiement", on_delete=models.PROTECT, related_name="reversal")
    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="reversals")
    reversed_on = models.DateField("date du rejet")
    reason = models.CharField("motif", max_length=300)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="saisi par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField("saisi le", auto_now_add=True)

    objects = CaseScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "rejet de paiement"
        verbose_name_plural = "rejets de paiement"
        ordering = ["reversed_on", "pk"]

    def __str__(self) -> str:
        return f"Rejet du paiement {self.payment_id} le {self.reversed_on:%d/%m/%Y}"


class Refund(models.Model):
    """An overpayment paid back to the debtor from the client-funds account: never revenue (L3)."""

    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField("montant", max_digits=12, decimal_places=2)
    refunded_on = models.DateField("remboursé le")
    method = models.CharField(
        "moyen", max_length=10, choices=[(PaymentMethod.TRANSFER, "Virement"), (PaymentMethod.CHEQUE, "Chèque")]
    )
    reference = models.CharField("référence", max_length=140, blank=True)
    key = models.CharField("clé de saisie", max_length=64, null=True, blank=True, unique=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="saisi par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField("saisi le", auto_now_add=True)

    objects = CaseScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "remboursement d'un trop-perçu"
        verbose_name_plural = "remboursements de trop-perçus"
        ordering = ["refunded_on", "pk"]
        constraints = [models.CheckConstraint(name="refund_amount_positive", condition=Q(amount__gt=0))]

    def __str__(self) -> str:
        return f"Remboursement de {self.amount} € le {self.refunded_on:%d/%m/%Y}"


class Allocation(models.Model):
    """The share of one movement (payment, reversal or refund) on one component of the claim; signed:
    a reversal or a refund takes back. The sums per component say what of the claim is paid."""

    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="+")
    component = models.CharField("composante", max_length=12, choices=Component.choices)
    amount = models.DecimalField("montant", max_digits=12, decimal_places=2)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="allocations")
    reversal = models.ForeignKey(
        PaymentReversal, on_delete=models.PROTECT, null=True, blank=True, related_name="allocations"
    )
    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, null=True, blank=True, related_name="allocations")

    class Meta:
        verbose_name = "imputation"
        verbose_name_plural = "imputations"
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                name="allocation_one_movement",
                condition=(
                    Q(payment__isnull=False, reversal__isnull=True, refund__isnull=True)
                    | Q(payment__isnull=True, reversal__isnull=False, refund__isnull=True)
                    | Q(payment__isnull=True, reversal__isnull=True, refund__isnull=False)
                ),
            ),
            models.CheckConstraint(name="allocation_not_zero", condition=~Q(amount=0)),
        ]
        indexes = [models.Index(fields=["case", "component"], name="allocation_case_idx")]

    def __str__(self) -> str:
        return f"{self.get_component_display()} {self.amount}"


class ReceiptKind(models.TextChoices):
    RECEIPT = "receipt", "Reçu de paiement"
    CANCELLATION = "cancellation", "Annulation de reçu"


class Receipt(models.Model):
    """The receipt of a payment (C17, L4, CPCE R124-6) or the document cancelling it after a reversal:
    gap-free number, stored once as a PDF/A with its hash, e-mailed or posted to the debtor."""

    number = models.CharField("numéro", max_length=20, unique=True)
    kind = models.CharField("type", max_length=12, choices=ReceiptKind.choices, default=ReceiptKind.RECEIPT)
    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="receipts")
    payment = models.ForeignKey(Payment, verbose_name="paiement", on_delete=models.PROTECT, related_name="receipts")
    cancels = models.OneToOneField(
        "self", verbose_name="reçu annulé", on_delete=models.PROTECT, null=True, blank=True, related_name="cancelled_by"
    )
    issued_on = models.DateField("date")
    issued_at = models.DateTimeField("émis le")
    amount = models.DecimalField("montant", max_digits=12, decimal_places=2)
    balance_after = models.DecimalField("reste dû après", max_digits=12, decimal_places=2)
    pdf = models.FileField("PDF", upload_to="receipts/")
    sha256 = models.CharField("empreinte SHA-256", max_length=64)
    address_lines = models.JSONField("bloc adresse", default=list)
    emailed_to = models.CharField("envoyé par e-mail à", max_length=254, blank=True)
    printed_on = models.DateField("mis sous pli le", null=True, blank=True)

    objects = CaseScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "reçu"
        verbose_name_plural = "reçus"
        ordering = ["-issued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["payment", "kind"], name="receipt_one_per_payment_and_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"


class PlanStatus(models.TextChoices):
    AWAITING_APPROVAL = "awaiting", "En attente de l'accord du créancier"
    ACTIVE = "active", "En cours"
    COMPLETED = "completed", "Honoré"
    BROKEN = "broken", "Rompu"
    REFUSED = "refused", "Refusé par le créancier"
    CANCELLED = "cancelled", "Annulé"


class PlanRhythm(models.TextChoices):
    MONTHLY = "monthly", "Mensuel"
    FORTNIGHTLY = "fortnightly", "Toutes les deux semaines"
    WEEKLY = "weekly", "Hebdomadaire"


class Plan(models.Model):
    """A payment plan (plan d'apurement) granted to a debtor: instalments that sum exactly to the balance
    when granted. Within the contract's limit the agency grants it (C16); beyond, it waits for the
    creditor's acceptance. Its document goes to the debtor and to the creditor's portal (C37)."""

    number = models.CharField("numéro", max_length=20, unique=True)
    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="plans")
    status = models.CharField("état", max_length=10, choices=PlanStatus.choices, db_index=True)
    total = models.DecimalField("montant total", max_digits=12, decimal_places=2)
    rhythm = models.CharField("rythme", max_length=12, choices=PlanRhythm.choices, default=PlanRhythm.MONTHLY)
    months = models.PositiveSmallIntegerField("durée (mois)")
    approval = models.OneToOneField(
        "approvals.ApprovalRequest",
        verbose_name="accord du créancier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="plan",
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="proposé par", on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField("proposé le")
    granted_at = models.DateTimeField("accordé le", null=True, blank=True)
    ended_at = models.DateTimeField("terminé le", null=True, blank=True)
    missed_count = models.PositiveSmallIntegerField("échéances manquées", default=0)
    pdf = models.FileField("PDF", upload_to="plans/", blank=True)
    sha256 = models.CharField("empreinte SHA-256", max_length=64, blank=True)
    # How the document reached the debtor: e-mailed (with the PDF), else posted with the daily print run.
    address_lines = models.JSONField("bloc adresse", default=list, blank=True)
    emailed_to = models.CharField("envoyé par e-mail à", max_length=254, blank=True)
    printed_on = models.DateField("mis sous pli le", null=True, blank=True)

    objects = CaseScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "plan d'apurement"
        verbose_name_plural = "plans d'apurement"
        ordering = ["-proposed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(status__in=["awaiting", "active"]), name="plan_one_running_per_case"
            ),
            models.CheckConstraint(name="plan_total_positive", condition=Q(total__gt=0)),
        ]

    def __str__(self) -> str:
        return f"Plan {self.number}"


class InstalmentStatus(models.TextChoices):
    PENDING = "pending", "À venir"
    PAID = "paid", "Payée"
    MISSED = "missed", "Manquée"


class Instalment(models.Model):
    """One dated amount of a plan; payments fill the instalments in date order."""

    plan = models.ForeignKey(Plan, verbose_name="plan", on_delete=models.PROTECT, related_name="instalments")
    rank = models.PositiveSmallIntegerField("rang")
    due_on = models.DateField("échéance")
    amount = models.DecimalField("montant", max_digits=12, decimal_places=2)
    paid_amount = models.DecimalField("payé", max_digits=12, decimal_places=2, default=0)
    status = models.CharField(
        "état", max_length=8, choices=InstalmentStatus.choices, default=InstalmentStatus.PENDING, db_index=True
    )
    reminded_at = models.DateTimeField("relance envoyée le", null=True, blank=True)

    class Meta:
        verbose_name = "échéance"
        verbose_name_plural = "échéances"
        ordering = ["plan_id", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "rank"], name="instalment_rank_unique"),
            models.CheckConstraint(name="instalment_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(name="instalment_paid_in_range", condition=Q(paid_amount__gte=0)),
        ]
        indexes = [models.Index(fields=["status", "due_on"], name="instalment_status_due_idx")]

    def __str__(self) -> str:
        return f"Échéance {self.rank} du {self.due_on:%d/%m/%Y} : {self.amount} €"


class Statement(models.Model):
    """A financial statement of a case (décompte, C34) as sent to the creditor in answer to its request: a
    numbered document of record, stored once as a PDF/A with its hash. The statement page and its PDF on
    demand are consultations, drawn up afresh and never stored."""

    number = models.CharField("numéro", max_length=20, unique=True)
    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="statements")
    request = models.OneToOneField(
        "creditor_requests.CreditorRequest",
        verbose_name="demande du créancier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="statement",
    )
    issued_at = models.DateTimeField("arrêté le")
    issued_for = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="demandé par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    claimed_amount = models.DecimalField("solde réclamé", max_digits=12, decimal_places=2)
    paid_amount = models.DecimalField("payé (net)", max_digits=12, decimal_places=2)
    balance = models.DecimalField("reste dû", max_digits=12, decimal_places=2)
    pdf = models.FileField("PDF", upload_to="statements/")
    sha256 = models.CharField("empreinte SHA-256", max_length=64)

    objects = CaseScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "décompte financier"
        verbose_name_plural = "décomptes financiers"
        ordering = ["-issued_at", "-pk"]

    def __str__(self) -> str:
        return f"Décompte {self.number}"
