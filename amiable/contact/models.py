"""Contacts with debtors beyond letters: calls and their promises to pay, e-mails and SMS in the outbox."""

from django.db import models
from django.utils import timezone

from amiable.cases.models import Action, Channel


class CallDirection(models.TextChoices):
    OUTBOUND = "out", "Sortant"
    INBOUND = "in", "Entrant"


class CallOutcome(models.TextChoices):
    REACHED = "reached", "Débiteur joint"
    PROMISE = "promise", "Promesse de paiement"
    NO_ANSWER = "no_answer", "Pas de réponse"
    WRONG_NUMBER = "wrong_number", "Faux numéro"
    MESSAGE_LEFT = "message_left", "Message laissé"
    REFUSED = "refused", "Refus de payer"
    DISPUTE = "dispute", "Contestation"


class CallRecord(models.Model):
    """The details of a call (L8 counts it as an attempt whatever its outcome)."""

    action = models.OneToOneField(Action, verbose_name="action", on_delete=models.PROTECT, related_name="call")
    direction = models.CharField("sens", max_length=3, choices=CallDirection.choices, default=CallDirection.OUTBOUND)
    number = models.CharField("numéro utilisé", max_length=30)
    outcome = models.CharField("résultat", max_length=20, choices=CallOutcome.choices)
    notes = models.TextField("notes (internes à l'agence)", blank=True)
    first_letter = models.ForeignKey(
        "letters.Letter",
        verbose_name="première lettre rappelée",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "appel"
        verbose_name_plural = "appels"

    def __str__(self) -> str:
        return f"Appel {self.get_direction_display().lower()} — {self.get_outcome_display()}"


class PromiseStatus(models.TextChoices):
    PENDING = "pending", "En attente"
    KEPT = "kept", "Tenue"
    BROKEN = "broken", "Non tenue"
    CANCELLED = "cancelled", "Annulée"  # the case ended while the promise was pending


class PromiseToPay(models.Model):
    """A debtor's promise to pay an amount by a date, followed until kept or flagged broken."""

    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="promises")
    action = models.ForeignKey(
        Action, verbose_name="action", on_delete=models.PROTECT, null=True, blank=True, related_name="promises"
    )
    amount = models.DecimalField("montant promis", max_digits=12, decimal_places=2)
    due_on = models.DateField("promis pour le")
    status = models.CharField(
        "état", max_length=10, choices=PromiseStatus.choices, default=PromiseStatus.PENDING, db_index=True
    )
    created_at = models.DateTimeField("enregistrée le", auto_now_add=True)

    class Meta:
        verbose_name = "promesse de paiement"
        verbose_name_plural = "promesses de paiement"
        ordering = ["due_on", "pk"]
        constraints = [models.CheckConstraint(name="promise_amount_positive", condition=models.Q(amount__gt=0))]

    def __str__(self) -> str:
        return f"Promesse de {self.amount} € pour le {self.due_on:%d/%m/%Y}"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "En attente d'envoi"
    SENDING = "sending", "Envoi en cours"
    SENT = "sent", "Envoyé"
    FAILED = "failed", "Échec de l'envoi"
    CANCELLED = "cancelled", "Abandonné"


class MessageKind(models.TextChoices):
    RECOVERY = "recovery", "Relance"
    # A document the agency owes the debtor (CPCE R124-6): not a recovery contact, outside the contact rule.
    RECEIPT = "receipt", "Reçu de paiement"
    # A payment plan's document, notified to the debtor (C16): owed as a receipt is.
    PLAN = "plan", "Plan d'apurement"
    # The reminder of a plan's missed instalment: a contact within the rule, which lets it reach a case on a plan.
    INSTALMENT = "instalment", "Rappel d'échéance de plan"


# The kinds that are contacts with the debtor: an action that the contact rule's caps count, decided and
# retried within the rule.
CONTACT_KINDS = frozenset({MessageKind.RECOVERY, MessageKind.INSTALMENT})


class OutboxMessage(models.Model):
    """An e-mail or SMS to a debtor, stored in the transaction that decided it and delivered after the commit:
    the proof of what was said, and the state of its delivery (attempts, last failure, next try). A recovery
    message is a contact (its action counts in the contact rule's caps); a receipt is not, and has no action."""

    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="outbox")
    kind = models.CharField("nature", max_length=10, choices=MessageKind.choices, default=MessageKind.RECOVERY)
    action = models.OneToOneField(
        Action, verbose_name="action", on_delete=models.PROTECT, null=True, blank=True, related_name="message"
    )
    channel = models.CharField("canal", max_length=10, choices=[(Channel.EMAIL, "E-mail"), (Channel.SMS, "SMS")])
    to = models.CharField("destinataire", max_length=254)
    reply_to = models.CharField("adresse de réponse", max_length=254, blank=True)
    subject = models.CharField("objet", max_length=200, blank=True)
    text = models.TextField("texte")
    html = models.TextField("HTML", blank=True)
    # The stored document sent with the e-mail (the receipt's own file, not a copy), checked against its hash.
    attachment = models.FileField("pièce jointe", upload_to="outbox/", blank=True)
    attachment_name = models.CharField("nom de la pièce jointe", max_length=100, blank=True)
    attachment_sha256 = models.CharField("empreinte SHA-256 de la pièce jointe", max_length=64, blank=True)
    first_letter = models.ForeignKey(
        "letters.Letter",
        verbose_name="première lettre rappelée",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField(
        "état", max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED, db_index=True
    )
    created_at = models.DateTimeField("décidé le", default=timezone.now)
    attempts = models.PositiveSmallIntegerField("tentatives d'envoi", default=0)
    last_attempt_at = models.DateTimeField("dernière tentative le", null=True, blank=True)
    next_attempt_at = models.DateTimeField("prochaine tentative le", null=True, blank=True, db_index=True)
    sent_at = models.DateTimeField("envoyé le", null=True, blank=True)
    error = models.CharField("raison du dernier échec", max_length=300, blank=True)

    class Meta:
        verbose_name = "message aux débiteurs"
        verbose_name_plural = "messages aux débiteurs"
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(
                name="outbox_sent_has_sent_at",
                condition=~models.Q(status="sent") | models.Q(sent_at__isnull=False),
            ),
            models.CheckConstraint(
                name="outbox_recovery_has_action",
                condition=~models.Q(kind="recovery") | models.Q(action__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} à {self.to}"
