"""Questions the agency puts to the creditor for a decision that is the creditor's own (C16, C19, C30, C42)."""

from django.conf import settings
from django.db import models

from amiable.core.scoping import scope_to_user
from amiable.creditors.selectors import terms_for


class ApprovalKind(models.TextChoices):
    COURT_ACTION = "court_action", "Autorisation d'une action en justice"
    EXCHANGE = "exchange", "Échange avant décision"
    # The duration is the creditor's (ContractTerms.max_plan_months): pages that know the creditor show it.
    LONG_PLAN = "long_plan", "Plan d'apurement au-delà de la durée du contrat"
    ALTERNATIVE_SETTLEMENT = "alternative_settlement", "Proposition de paiement autre qu'immédiat"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "En attente de décision"
    ACCEPTED = "accepted", "Acceptée"
    REFUSED = "refused", "Refusée"
    CANCELLED = "cancelled", "Annulée"


class ApprovalQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ApprovalQuerySet":
        """The case's scope, read through the join on the approval's own case (not an `IN` over every case)."""
        return scope_to_user(self, user, creditor_field="case__creditor_id", structure_field="case__structure_id")


class ApprovalRequest(models.Model):
    """A proposal on a case awaiting the creditor's decision: who asked, by when, who decided and why."""

    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="approvals")
    kind = models.CharField("objet", max_length=30, choices=ApprovalKind.choices)
    proposal = models.TextField("proposition")
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="demandée par", on_delete=models.PROTECT, related_name="+"
    )
    asked_at = models.DateTimeField("demandée le")
    due_on = models.DateField("réponse souhaitée pour le")
    status = models.CharField(
        "état", max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="décidée par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField("décidée le", null=True, blank=True)
    decision_comment = models.TextField("commentaire de la décision", blank=True)

    objects = ApprovalQuerySet.as_manager()

    class Meta:
        verbose_name = "demande de décision"
        verbose_name_plural = "demandes de décision"
        ordering = ["-asked_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.case.reference}"

    @property
    def kind_label(self) -> str:
        """The kind as pages and notifications say it: a long plan names its creditor's contractual
        maximum, which the choice's label cannot know (C16)."""
        if self.kind != ApprovalKind.LONG_PLAN:
            return self.get_kind_display()
        months = terms_for(self.case.creditor_id).max_plan_months
        return f"Plan d'apurement de plus de {months} mois (durée maximale du contrat)"
