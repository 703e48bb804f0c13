"""Recovery actions on a case (C2): letters, e-mails, SMS and calls, each counted by the contact policy (L8)."""

from django.conf import settings
from django.db import models


class Channel(models.TextChoices):
    LETTER = "letter", "Courrier"
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    CALL = "call", "Appel"


class LetterKind(models.TextChoices):
    FIRST = "first", "Première lettre (CPCE R124-4)"
    REMINDER = "reminder", "Lettre de relance"


class LetterTemplate(models.Model):
    """The wording of a letter, per creditor; a template is saved only if it passes the legal validator
    (no word of the L7 list, no fee for the debtor, the five mentions for a first letter)."""

    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="letter_templates"
    )
    kind = models.CharField("type", max_length=10, choices=LetterKind.choices)
    name = models.CharField("nom", max_length=100)
    body = models.TextField("texte", help_text="Paragraphes du courrier ; variables entre {{ }}.")
    is_active = models.BooleanField("actif", default=True)
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    class Meta:
        verbose_name = "modèle de courrier"
        verbose_name_plural = "modèles de courrier"
        ordering = ["creditor_id", "kind", "name"]
        constraints = [models.UniqueConstraint(fields=["creditor", "kind", "name"], name="letter_template_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.name}"


class Letter(models.Model):
    """A letter issued to a debtor: numbered, stored once as a PDF with its hash; later letters recall
    the reference and date of the first (CPCE R124-4, last paragraph)."""

    number = models.CharField("référence", max_length=20, unique=True)
    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="letters")
    kind = models.CharField("type", max_length=10, choices=LetterKind.choices)
    template = models.ForeignKey(LetterTemplate, verbose_name="modèle", on_delete=models.PROTECT, related_name="+")
    first_letter = models.ForeignKey(
        "self",
        verbose_name="première lettre",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="followers",
    )
    issued_on = models.DateField("date")
    issued_at = models.DateTimeField("émise le")
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="émise par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    address_lines = models.JSONField("bloc adresse", default=list)
    amount = models.DecimalField("montant réclamé", max_digits=12, decimal_places=2)
    pdf = models.FileField("PDF", upload_to="letters/")
    sha256 = models.CharField("empreinte SHA-256", max_length=64)
    printed_on = models.DateField("mise sous pli le", null=True, blank=True)

    class Meta:
        verbose_name = "courrier"
        verbose_name_plural = "courriers"
        ordering = ["-issued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=models.Q(kind="first"), name="one_first_letter_per_case")
        ]

    def __str__(self) -> str:
        return f"Courrier {self.number}"


class Action(models.Model):
    """One contact with a debtor (or an attempt), by any channel; the contact policy counts them."""

    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="actions")
    channel = models.CharField("canal", max_length=10, choices=Channel.choices)
    at = models.DateTimeField("date")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="par", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    summary = models.CharField("résumé", max_length=300)
    letter = models.OneToOneField(
        Letter, verbose_name="courrier", on_delete=models.PROTECT, null=True, blank=True, related_name="action"
    )

    class Meta:
        verbose_name = "action"
        verbose_name_plural = "actions"
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["case", "channel", "at"], name="action_policy_idx")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} — {self.summary}"


class CallDirection(models.TextChoices):
    OUTBOUND = "out", "Sortant"
    INBOUND = "in", "Entrant"


class CallOutcome(models.TextChoices):
    REACHED = "reached", "Débiteur joint"
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

    class Meta:
        verbose_name = "appel"
        verbose_name_plural = "appels"

    def __str__(self) -> str:
        return f"Appel {self.get_direction_display().lower()} — {self.get_outcome_display()}"


class PromiseStatus(models.TextChoices):
    PENDING = "pending", "En attente"
    KEPT = "kept", "Tenue"
    BROKEN = "broken", "Non tenue"


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


class EventKind(models.TextChoices):
    OVER_INDEBTEDNESS_REFERRAL = "oi_referral", "Saisine de la commission de surendettement"
    OVER_INDEBTEDNESS_ADMISSIBLE = "oi_admissible", "Dossier de surendettement déclaré recevable"
    DEATH = "death", "Décès du débiteur"
    DISPUTE = "dispute", "Contestation de la créance"
    INSOLVENCY = "insolvency", "Insolvabilité"
    VULNERABILITY = "vulnerability", "Situation de vulnérabilité"
    RETURNED_MAIL = "returned_mail", "Courrier revenu (NPAI)"


# Events that may compromise recovery: the creditor is told at once (C12, C29).
COMPROMISING_EVENTS = frozenset(
    {
        EventKind.OVER_INDEBTEDNESS_REFERRAL,
        EventKind.OVER_INDEBTEDNESS_ADMISSIBLE,
        EventKind.DEATH,
        EventKind.DISPUTE,
        EventKind.INSOLVENCY,
    }
)
# Events after which no recovery action may be taken (L10 and humanity).
STOPPING_EVENTS = frozenset({EventKind.OVER_INDEBTEDNESS_ADMISSIBLE, EventKind.DEATH})


class CaseEvent(models.Model):
    """Something that happened to the debtor or the claim and changes how the case may be worked."""

    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="events")
    kind = models.CharField("événement", max_length=20, choices=EventKind.choices)
    occurred_on = models.DateField("date")
    details = models.TextField("précisions", blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="enregistré par", on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField("enregistré le", auto_now_add=True)

    class Meta:
        verbose_name = "événement du dossier"
        verbose_name_plural = "événements des dossiers"
        ordering = ["-occurred_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.occurred_on:%d/%m/%Y})"


class OutboxMessage(models.Model):
    """An e-mail or SMS sent to a debtor, kept as sent (the demo's outbox, and the proof of what was said)."""

    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="outbox")
    action = models.OneToOneField(Action, verbose_name="action", on_delete=models.PROTECT, related_name="message")
    channel = models.CharField("canal", max_length=10, choices=[(Channel.EMAIL, "E-mail"), (Channel.SMS, "SMS")])
    to = models.CharField("destinataire", max_length=254)
    subject = models.CharField("objet", max_length=200, blank=True)
    text = models.TextField("texte")
    html = models.TextField("HTML", blank=True)
    sent_at = models.DateTimeField("envoyé le", null=True, blank=True)
    error = models.CharField("erreur d'envoi", max_length=300, blank=True)

    class Meta:
        verbose_name = "message envoyé"
        verbose_name_plural = "messages envoyés"
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} à {self.to}"


class Scenario(models.Model):
    """A creditor's recovery scenario: ordered steps run by `run_scenarios` from the acknowledgement date."""

    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="scenarios"
    )
    name = models.CharField("nom", max_length=100)
    is_active = models.BooleanField("actif", default=True)

    class Meta:
        verbose_name = "scénario de recouvrement"
        verbose_name_plural = "scénarios de recouvrement"
        ordering = ["creditor_id", "name"]

    def __str__(self) -> str:
        return self.name


class StepAction(models.TextChoices):
    FIRST_LETTER = "first_letter", "Première lettre"
    REMINDER_LETTER = "reminder_letter", "Lettre de relance"
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    CALL = "call", "Appel (tâche pour le gestionnaire)"
    REVIEW = "review", "Revue du dossier (certificat d'irrécouvrabilité)"


class ScenarioStep(models.Model):
    """One step: what to do, how many days after the acknowledgement, and when it applies."""

    scenario = models.ForeignKey(Scenario, verbose_name="scénario", on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField("ordre")
    delay_days = models.PositiveSmallIntegerField("délai (jours après l'accusé de réception)")
    action = models.CharField("action", max_length=20, choices=StepAction.choices)
    requires_email = models.BooleanField("seulement avec un e-mail valide", default=False)
    requires_phone = models.BooleanField("seulement avec un téléphone valide", default=False)
    min_balance = models.DecimalField("solde minimum", max_digits=12, decimal_places=2, null=True, blank=True)
    max_balance = models.DecimalField("solde maximum", max_digits=12, decimal_places=2, null=True, blank=True)
    skip_if_promise = models.BooleanField("sauter si une promesse de paiement est en cours", default=True)

    class Meta:
        verbose_name = "étape de scénario"
        verbose_name_plural = "étapes de scénario"
        ordering = ["scenario_id", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["scenario", "order"], name="scenario_step_order")]

    def __str__(self) -> str:
        return f"J+{self.delay_days} {self.get_action_display()}"


class StepRun(models.Model):
    """That a step was run (or skipped for good) for a case: the unique pair makes a step run only once."""

    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="step_runs")
    step = models.ForeignKey(ScenarioStep, verbose_name="étape", on_delete=models.PROTECT, related_name="runs")
    run_on = models.DateField("le")
    outcome = models.CharField("résultat", max_length=20)
    action = models.ForeignKey(
        Action, verbose_name="action", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "exécution d'étape"
        verbose_name_plural = "exécutions d'étapes"
        constraints = [models.UniqueConstraint(fields=["case", "step"], name="step_runs_once_per_case")]

    def __str__(self) -> str:
        return f"{self.step} — {self.case_id} — {self.outcome}"
