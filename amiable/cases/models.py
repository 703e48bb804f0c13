"""Debtors, their contact points and the cases (claims) the agency recovers."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest, Round

from amiable.cases.search import NAME_MAX, VALUE_MAX, contact_search_value, debtor_search_name
from amiable.core.money import ZERO
from amiable.core.scoping import scope_to_user


class Civility(models.TextChoices):
    MR = "M", "M."
    MRS = "MME", "Mme"
    UNKNOWN = "", "Non renseignée"


class DebtorQuerySet(models.QuerySet):
    def visible_to(self, user) -> "DebtorQuerySet":
        """A creditor user sees a debtor only through one of the cases they may see."""
        if getattr(user, "is_authenticated", False) and user.is_active and user.is_agency:
            return self.all()
        return self.filter(pk__in=Case.objects.visible_to(user).values("debtor_id"))


class Debtor(models.Model):
    """A person who owes a creditor; one debtor may have cases with several structures or creditors."""

    civility = models.CharField("civilité", max_length=3, choices=Civility.choices, blank=True)
    last_name = models.CharField("nom", max_length=150)
    first_name = models.CharField("prénom", max_length=150, blank=True)
    birth_date = models.DateField("date de naissance", null=True, blank=True)
    do_not_contact = models.BooleanField(
        "ne plus contacter", default=False, help_text="Le débiteur a demandé à ne plus être contacté (L8)."
    )
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    # Both names folded (`cases.search`), kept by `save()`: what the case search looks in.
    search_name = models.CharField("nom pour la recherche", max_length=NAME_MAX, blank=True, editable=False)

    objects = DebtorQuerySet.as_manager()

    class Meta:
        verbose_name = "débiteur"
        verbose_name_plural = "débiteurs"
        ordering = ["last_name", "first_name", "pk"]
        indexes = [models.Index(fields=["last_name", "first_name"], name="debtor_name_idx")]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args, **kwargs):
        """Keep the folded name of the search with the names, whoever writes them."""
        self.search_name = debtor_search_name(first_name=self.first_name, last_name=self.last_name)
        kwargs["update_fields"] = _with_search_field(
            kwargs.get("update_fields"), {"first_name", "last_name"}, "search_name"
        )
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        parts = [self.get_civility_display() if self.civility else "", self.last_name.upper(), self.first_name]
        return " ".join(p for p in parts if p)


class ContactKind(models.TextChoices):
    ADDRESS = "address", "Adresse postale"
    PHONE = "phone", "Téléphone"
    EMAIL = "email", "E-mail"


class ContactQuality(models.TextChoices):
    """How far a contact point can be trusted; doubtful or unknown addresses call for an investigation (C9)."""

    VALID = "valid", "Valide"
    DOUBTFUL = "doubtful", "Douteux"
    INVALID = "invalid", "Invalide"
    UNKNOWN = "unknown", "Non vérifié"


class ContactPoint(models.Model):
    """A postal address, phone number or e-mail of a debtor, with its quality, where it came from and when."""

    debtor = models.ForeignKey(Debtor, verbose_name="débiteur", on_delete=models.PROTECT, related_name="contact_points")
    kind = models.CharField("type", max_length=10, choices=ContactKind.choices)
    # Postal address (French postal standard lines, NF Z10-011).
    line1 = models.CharField("adresse", max_length=200, blank=True)
    line2 = models.CharField("complément", max_length=200, blank=True)
    postal_code = models.CharField("code postal", max_length=10, blank=True)
    city = models.CharField("ville", max_length=100, blank=True)
    country = models.CharField("pays", max_length=2, default="FR", blank=True)
    # Phone (E.164) or e-mail.
    value = models.CharField("valeur", max_length=254, blank=True)
    raw_value = models.CharField("valeur reçue", max_length=500, blank=True)
    quality = models.CharField("qualité", max_length=10, choices=ContactQuality.choices, default=ContactQuality.UNKNOWN)
    source = models.CharField("source", max_length=100)
    valid_from = models.DateField("connu depuis", null=True, blank=True)
    checked_on = models.DateField("vérifié le", null=True, blank=True)
    invalid_since = models.DateField("invalide depuis", null=True, blank=True)
    is_primary = models.BooleanField("principal", default=False)
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    # A phone's digits in E.164 form, an e-mail in lowercase (`cases.search`), kept by `save()`.
    search_value = models.CharField("valeur pour la recherche", max_length=VALUE_MAX, blank=True, editable=False)

    class Meta:
        verbose_name = "coordonnée"
        verbose_name_plural = "coordonnées"
        ordering = ["kind", "-is_primary", "-created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                name="contact_point_has_content",
                condition=(
                    Q(kind="address") & (~Q(line1="") | ~Q(raw_value=""))
                    | Q(kind__in=["phone", "email"]) & (~Q(value="") | ~Q(raw_value=""))
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.display

    def save(self, *args, **kwargs):
        """Keep the folded value of the search with the value, whoever writes it."""
        self.search_value = contact_search_value(kind=self.kind, value=self.value, raw_value=self.raw_value)
        kwargs["update_fields"] = _with_search_field(
            kwargs.get("update_fields"), {"kind", "value", "raw_value"}, "search_value"
        )
        super().save(*args, **kwargs)

    @property
    def display(self) -> str:
        if self.kind == ContactKind.ADDRESS:
            lines = [self.line1, self.line2, f"{self.postal_code} {self.city}".strip()]
            text = ", ".join(line for line in lines if line)
            return text or self.raw_value
        if self.kind == ContactKind.PHONE and self.value.startswith("+33"):
            return _french_phone(self.value)
        return self.value or self.raw_value


def _with_search_field(update_fields, sources: set[str], search_field: str):
    """`update_fields` with the search column added when one of its sources is saved (None saves all)."""
    if update_fields is None:
        return None
    fields = set(update_fields)
    return fields | {search_field} if fields & sources else update_fields


def _french_phone(e164: str) -> str:
    """+33612345678 -> 06 12 34 56 78, as French readers expect; other numbers stay international."""
    digits = "0" + e164[3:]
    if len(digits) != 10 or not digits.isdigit():
        return e164
    return " ".join(digits[i : i + 2] for i in range(0, 10, 2))


class CaseStatus(models.TextChoices):
    NEW = "new", "Nouveau"
    IN_PROGRESS = "in_progress", "En cours"
    PAYMENT_PLAN = "payment_plan", "Plan d'apurement"
    SUSPENDED = "suspended", "Suspendu"
    PAID = "paid", "Soldé"
    RECALLED = "recalled", "Retourné au créancier"
    IRRECOVERABLE = "irrecoverable", "Irrécouvrable"
    CLOSED = "closed", "Clos"


# A case stops being "open" once the claim is paid, recalled, declared irrecoverable or closed; its
# reference may then be sent again by the creditor as a new case.
OPEN_STATUSES = frozenset({CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.PAYMENT_PLAN, CaseStatus.SUSPENDED})
ENDED_STATUSES = frozenset(set(CaseStatus) - OPEN_STATUSES)
# Cases whose debtor may be asked to pay by any channel (letters, e-mails, SMS, calls, scenario steps).
CONTACTABLE_STATUSES = frozenset({CaseStatus.NEW, CaseStatus.IN_PROGRESS})
# Cases still being worked with the debtor: promises are followed, a stopping event suspends them.
WORKED_STATUSES = frozenset({CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.PAYMENT_PLAN})
# The groups live on the status itself, so that every app asks `CaseStatus.CONTACTABLE` and the like.
CaseStatus.OPEN = OPEN_STATUSES
CaseStatus.ENDED = ENDED_STATUSES
CaseStatus.CONTACTABLE = CONTACTABLE_STATUSES
CaseStatus.WORKED = WORKED_STATUSES


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CaseQuerySet":
        """The only way to fetch cases for a person: see `scope_to_user`."""
        return scope_to_user(self, user, creditor_field="creditor_id", structure_field="structure_id")

    def open(self) -> "CaseQuerySet":
        return self.filter(status__in=OPEN_STATUSES)


class Case(models.Model):
    """One claim of a creditor's structure against a debtor, entrusted to the agency for amicable recovery."""

    reference = models.CharField("référence créancier", max_length=64)
    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="cases"
    )
    structure = models.ForeignKey(
        "creditors.Structure", verbose_name="structure", on_delete=models.PROTECT, related_name="cases"
    )
    debtor = models.ForeignKey(Debtor, verbose_name="débiteur", on_delete=models.PROTECT, related_name="cases")
    # Amounts: as first transmitted, and the balance claimed now split into its components (CPCE R124-4 3°).
    initial_amount = models.DecimalField("montant initial", max_digits=12, decimal_places=2)
    principal_amount = models.DecimalField("principal réclamé", max_digits=12, decimal_places=2)
    interest_amount = models.DecimalField("intérêts réclamés", max_digits=12, decimal_places=2, default=ZERO)
    other_amount = models.DecimalField("autres accessoires réclamés", max_digits=12, decimal_places=2, default=ZERO)
    claimed_amount = models.GeneratedField(
        verbose_name="solde réclamé",
        expression=F("principal_amount") + Coalesce(F("interest_amount"), ZERO) + Coalesce(F("other_amount"), ZERO),
        output_field=models.DecimalField(max_digits=12, decimal_places=2),
        db_persist=True,
    )
    # What the debtor has paid, net of reversals and refunds (direct payments to the creditor included); the
    # payments services keep it in the same transaction as each payment, so every app reads the balance
    # from the case without importing them (L3: the balance is the claim minus payments, nothing added).
    # db_default too: the bulk inserts of the intake write a new case without naming this column.
    paid_amount = models.DecimalField("payé (net)", max_digits=12, decimal_places=2, default=ZERO, db_default=ZERO)
    balance = models.GeneratedField(
        verbose_name="reste dû",
        # Rounded to the cent: SQLite computes with floats, and 1E-14 must not count as still due.
        expression=Round(
            Greatest(
                F("principal_amount")
                + Coalesce(F("interest_amount"), ZERO)
                + Coalesce(F("other_amount"), ZERO)
                - F("paid_amount"),
                ZERO,
            ),
            2,
        ),
        output_field=models.DecimalField(max_digits=12, decimal_places=2),
        db_persist=True,
    )
    overpaid_amount = models.GeneratedField(
        verbose_name="trop-perçu à rembourser",
        expression=Round(
            Greatest(
                F("paid_amount")
                - F("principal_amount")
                - Coalesce(F("interest_amount"), ZERO)
                - Coalesce(F("other_amount"), ZERO),
                ZERO,
            ),
            2,
        ),
        output_field=models.DecimalField(max_digits=12, decimal_places=2),
        db_persist=True,
    )
    claim_date = models.DateField("date de la créance", null=True, blank=True)
    basis = models.CharField("fondement de la créance", max_length=300, blank=True)
    received_on = models.DateField("reçu le")
    acknowledged_on = models.DateField("accusé de réception le", null=True, blank=True)
    certificate_due_on = models.DateField("certificat d'irrécouvrabilité au plus tard le", null=True, blank=True)
    assigned_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="gestionnaire",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_cases",
    )
    status = models.CharField(
        "statut", max_length=20, choices=CaseStatus.choices, default=CaseStatus.NEW, db_index=True
    )
    status_changed_at = models.DateTimeField("statut modifié le", null=True, blank=True)
    # When the creditor took the case back (C13): the commission is due only on what was recovered before.
    recalled_at = models.DateTimeField("retiré par le créancier le", null=True, blank=True)
    created_at = models.DateTimeField("créé le", auto_now_add=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = "dossier"
        verbose_name_plural = "dossiers"
        ordering = ["-received_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["creditor", "reference"],
                condition=Q(status__in=sorted(s.value for s in OPEN_STATUSES)),
                name="case_reference_unique_open",
                violation_error_message="Un dossier ouvert porte déjà cette référence pour ce créancier.",
            ),
            models.CheckConstraint(name="case_initial_amount_positive", condition=Q(initial_amount__gt=0)),
            models.CheckConstraint(name="case_principal_not_negative", condition=Q(principal_amount__gte=0)),
            models.CheckConstraint(name="case_interest_not_negative", condition=Q(interest_amount__gte=0)),
            models.CheckConstraint(name="case_other_not_negative", condition=Q(other_amount__gte=0)),
            models.CheckConstraint(name="case_paid_not_negative", condition=Q(paid_amount__gte=0)),
        ]
        indexes = [
            models.Index(fields=["creditor", "reference"], name="case_creditor_ref_idx"),
            # The case list's orders, each a walk of an index that stops after a page (DESIGN, Performance).
            models.Index(fields=["received_on", "id"], name="case_received_idx"),
            models.Index(fields=["assigned_agent", "received_on", "id"], name="case_agent_received_idx"),
            models.Index(fields=["creditor", "received_on", "id"], name="case_creditor_received_idx"),
            models.Index(fields=["status", "received_on", "id"], name="case_status_received_idx"),
            models.Index(fields=["balance", "id"], name="case_balance_idx"),
            models.Index(fields=["creditor", "structure", "status"], name="case_scope_status_idx"),
            models.Index(fields=["assigned_agent", "status"], name="case_agent_status_idx"),
            # The « Échéances » pages walk the open cases by certificate due date, a page at a time.
            models.Index(
                fields=["certificate_due_on", "creditor", "structure"],
                condition=Q(status__in=sorted(OPEN_STATUSES)),
                name="case_open_certificate_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Dossier {self.reference}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def accepts_payments(self) -> bool:
        """A payment is recorded on any case not yet closed: even after a recall the money is the creditor's."""
        return self.status != CaseStatus.CLOSED

    @property
    def recovered_amount(self):
        """What was recovered of the claim: the net payments, less any excess owed back to the debtor."""
        return self.paid_amount - self.overpaid_amount


class CaseCounterQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CaseCounterQuerySet":
        """The same scope as the cases the rows count (`scope_to_user`)."""
        return scope_to_user(self, user, creditor_field="creditor_id", structure_field="structure_id")


class CaseCounter(models.Model):
    """How many cases, and how much claimed, recovered and still due, per creditor, structure, status and agent
    (`agent_id` 0: no agent). Home pages and totals read these few rows instead of summing every case on each
    request. Database triggers on the case table keep them (migration `cases.0016_case_counters`), in the same
    transaction as the change, whatever makes it: a service, a bulk insert of the intake, an SQL update.
    Amounts are in cents, so that SQLite adds them exactly. No foreign keys: a row may outlive the creditor,
    structure or agent it counted, with zeros."""

    creditor_id = models.BigIntegerField("créancier")
    structure_id = models.BigIntegerField("structure")
    status = models.CharField("statut", max_length=20, choices=CaseStatus.choices)
    agent_id = models.BigIntegerField("gestionnaire (0 : aucun)", default=0)
    cases = models.BigIntegerField("dossiers", default=0)
    claimed_cents = models.BigIntegerField("réclamé (centimes)", default=0)
    recovered_cents = models.BigIntegerField("recouvré (centimes)", default=0)
    balance_cents = models.BigIntegerField("reste dû (centimes)", default=0)

    objects = CaseCounterQuerySet.as_manager()

    class Meta:
        verbose_name = "compteur de dossiers"
        verbose_name_plural = "compteurs de dossiers"
        constraints = [
            models.UniqueConstraint(
                fields=["creditor_id", "structure_id", "status", "agent_id"], name="case_counter_key_unique"
            )
        ]
        indexes = [models.Index(fields=["agent_id", "status"], name="case_counter_agent_idx")]

    def __str__(self) -> str:
        return f"{self.creditor_id}/{self.structure_id}/{self.status}/{self.agent_id} : {self.cases}"


class TaskKind(models.TextChoices):
    ADDRESS_INVESTIGATION = "address_investigation", "Recherche d'adresse"
    CALL = "call", "Appel à passer"
    CALLBACK = "callback", "Rappel convenu"
    CONTEST_DECLARED_DEBTS = "contest_debts", "Vérifier les créances déclarées (surendettement, 30 jours)"
    REVIEW = "review", "Revue du dossier"
    # A payment plan's document to post, or a missed instalment no message could remind (payments.plans).
    PLAN_FOLLOW_UP = "plan_follow_up", "Suivi du plan d'apurement"


class TaskStatus(models.TextChoices):
    OPEN = "open", "À faire"
    DONE = "done", "Fait"
    CANCELLED = "cancelled", "Annulé"


class Task(models.Model):
    """Work an agent must do on a case (an address investigation when the address is unknown or doubtful,
    C9); the agents' daily queue is built from open tasks."""

    case = models.ForeignKey(Case, verbose_name="dossier", on_delete=models.PROTECT, related_name="tasks")
    kind = models.CharField("type", max_length=40, choices=TaskKind.choices)
    status = models.CharField("état", max_length=12, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    reason = models.CharField("motif", max_length=300, blank=True)
    due_on = models.DateField("à faire pour le", null=True, blank=True)
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    closed_at = models.DateTimeField("close le", null=True, blank=True)
    # The case's agent, copied by the database (triggers of migration 0018) whenever a task is written or its
    # case changes hands, whatever the path (services, bulk updates, COPY): « Ma journée » reads an agent's open
    # tasks on one index instead of joining every open task to its case. Never written by the code.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="gestionnaire du dossier",
        on_delete=models.DO_NOTHING,  # the case's own link protects the user
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    class Meta:
        verbose_name = "tâche"
        verbose_name_plural = "tâches"
        ordering = ["due_on", "pk"]
        indexes = [
            models.Index(fields=["status", "due_on"], name="task_status_due_idx"),
            # « Ma journée »: an agent's open tasks in due order (undated last, as PostgreSQL sorts NULLs).
            models.Index(fields=["agent", "due_on", "id"], condition=Q(status="open"), name="task_open_agent_due_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["case", "kind"], condition=Q(status="open"), name="task_one_open_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.case.reference}"


class Comment(models.Model):
    """A message on a case: between creditor staff and the agency (C39), or an agency-internal note that
    creditor users never see."""

    case = models.ForeignKey(Case, verbose_name="dossier", on_delete=models.PROTECT, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="auteur", on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField("message")
    internal = models.BooleanField("note interne à l'agence", default=False)
    created_at = models.DateTimeField("écrit le", auto_now_add=True)

    class Meta:
        verbose_name = "commentaire"
        verbose_name_plural = "commentaires"
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["case", "created_at"], name="comment_case_idx"),
            # The homes' unread messages walk the latest comments of all cases (`portal.selectors`).
            models.Index(fields=["created_at", "id"], name="comment_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Commentaire de {self.author} sur {self.case.reference}"


class CaseReadMarker(models.Model):
    """When a person last opened a case page: comments after it are shown as unread."""

    case = models.ForeignKey(Case, verbose_name="dossier", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="utilisateur", on_delete=models.CASCADE, related_name="+"
    )
    read_at = models.DateTimeField("lu le")

    class Meta:
        verbose_name = "lecture d'un dossier"
        verbose_name_plural = "lectures des dossiers"
        constraints = [models.UniqueConstraint(fields=["case", "user"], name="read_marker_unique")]

    def __str__(self) -> str:
        return f"{self.user} a lu {self.case_id}"


class Channel(models.TextChoices):
    LETTER = "letter", "Courrier"
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    CALL = "call", "Appel"


class Action(models.Model):
    """One contact with a debtor (or an attempt), by any channel; the contact policy counts them."""

    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="actions")
    channel = models.CharField("canal", max_length=10, choices=Channel.choices)
    at = models.DateTimeField("date")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="par", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    summary = models.CharField("résumé", max_length=300)

    class Meta:
        verbose_name = "action"
        verbose_name_plural = "actions"
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["case", "channel", "at"], name="action_policy_idx")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} — {self.summary}"


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
