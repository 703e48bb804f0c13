"""What the creditor asks of the agency, each with its clock: a question on a debtor's situation (C33), a
financial statement (C34) and a meeting (C43) within the delays of the creditor's contract terms."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from amiable.core.scoping import scope_to_user


class RequestKind(models.TextChoices):
    QUESTION = "question", "Question sur la situation du débiteur"
    STATEMENT = "statement", "Décompte financier du dossier"
    MEETING = "meeting", "Demande de réunion"


class RequestStatus(models.TextChoices):
    OPEN = "open", "En cours"
    ANSWERED = "answered", "Traitée"
    CANCELLED = "cancelled", "Annulée"


class CreditorRequestQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CreditorRequestQuerySet":
        """A request on a case follows the case's visibility; a meeting request is the creditor's. The case's
        scope is read through the join on the request's own case, never as the list of every case the person
        may see (an `IN` over a million cases)."""
        qs = scope_to_user(self, user, creditor_field="creditor_id")
        if getattr(user, "is_creditor_user", False):
            on_case = Q(case__creditor_id=user.creditor_id)
            if user.allowed_structure_ids is not None:
                on_case &= Q(case__structure_id__in=user.allowed_structure_ids)
            qs = qs.filter(Q(case__isnull=True) | on_case)
        return qs


class CreditorRequest(models.Model):
    """A request from creditor staff, with the deadline the contract sets for the agency's answer."""

    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="+"
    )
    case = models.ForeignKey(
        "cases.Case",
        verbose_name="dossier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="creditor_requests",
    )
    kind = models.CharField("type", max_length=12, choices=RequestKind.choices)
    body = models.TextField("demande")
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="demandée par", on_delete=models.PROTECT, related_name="+"
    )
    asked_at = models.DateTimeField("demandée le")
    due_at = models.DateTimeField("réponse due le")
    status = models.CharField(
        "état", max_length=10, choices=RequestStatus.choices, default=RequestStatus.OPEN, db_index=True
    )
    answer = models.TextField("réponse", blank=True)
    # Where the document joined to the answer is read (the statement's PDF): a page of the app, which checks
    # who may open it; empty for an answer in words only.
    answer_url = models.CharField("pièce jointe à la réponse", max_length=200, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="traitée par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    answered_at = models.DateTimeField("traitée le", null=True, blank=True)
    meeting_at = models.DateTimeField("réunion fixée le", null=True, blank=True)

    objects = CreditorRequestQuerySet.as_manager()

    class Meta:
        verbose_name = "demande du créancier"
        verbose_name_plural = "demandes du créancier"
        ordering = ["-asked_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.asked_at:%d/%m/%Y})"

    @property
    def answered_in_time(self) -> bool | None:
        """Whether the contract's clock was met: answered (a meeting: held) by `due_at`; None while open."""
        if self.status != RequestStatus.ANSWERED:
            return None
        done_at = self.meeting_at if self.kind == RequestKind.MEETING and self.meeting_at else self.answered_at
        return done_at is not None and done_at <= self.due_at


class MeetingSlot(models.Model):
    """A date and time the agency proposes for a requested meeting; the creditor confirms one."""

    request = models.ForeignKey(CreditorRequest, verbose_name="demande", on_delete=models.CASCADE, related_name="slots")
    starts_at = models.DateTimeField("début")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="proposé par", on_delete=models.PROTECT, related_name="+"
    )
    confirmed = models.BooleanField("retenu", default=False)

    class Meta:
        verbose_name = "créneau de réunion"
        verbose_name_plural = "créneaux de réunion"
        ordering = ["starts_at", "pk"]

    def __str__(self) -> str:
        return f"{self.starts_at:%d/%m/%Y %H:%M}"
