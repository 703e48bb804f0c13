"""The append-only audit trail (S3): who changed what, when, with the data before and after."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models.query import ModelIterable

from amiable.core.exceptions import ApplicationError


class RevealingIterable(ModelIterable):
    """Events read with their personal values decrypted (`audit.personal.reveal`), a chunk at a time: one
    query for the keys of each chunk, never one per event."""

    CHUNK = 500

    def __iter__(self):
        from amiable.audit.personal import reveal

        chunk = []
        for event in super().__iter__():
            chunk.append(event)
            if len(chunk) >= self.CHUNK:
                reveal(chunk)
                yield from chunk
                chunk = []
        if chunk:
            reveal(chunk)
            yield from chunk


class AuditEventQuerySet(models.QuerySet):
    """Refuses bulk changes: the trail is written once and read many times. Events come out with their
    personal values readable (or « [donnée effacée] » once their key is destroyed); `.values()` reads the
    stored, encrypted values."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._iterable_class = RevealingIterable

    def update(self, **kwargs):
        raise ApplicationError("Le journal d'audit ne peut pas être modifié.")

    def bulk_create(self, objs, *args, **kwargs):
        """Chain the events in one pass (audit.chain), then insert them as Django would."""
        from amiable.audit.chain import Appender, instance_content

        if kwargs.get("ignore_conflicts") or kwargs.get("update_conflicts"):
            raise ValueError("Un événement d'audit écarté romprait le chaînage du journal.")
        objs = list(objs)
        with transaction.atomic(using=self.db, savepoint=False):
            chain = Appender()
            for event in objs:
                event.hash = chain.link(instance_content(event))
            created = super().bulk_create(objs, *args, **kwargs)
            chain.done()
        return created

    def delete(self):
        raise ApplicationError("Le journal d'audit ne peut pas être effacé.")

    def for_case(self, case_pk: int) -> "AuditEventQuerySet":
        return self.filter(case_pk=case_pk).order_by("at", "pk")


class AuditEvent(models.Model):
    """One change made by a person or by the system. Never updated nor deleted by the application; on
    PostgreSQL triggers refuse UPDATE, DELETE and TRUNCATE, on SQLite one refuses UPDATE. Each event is chained
    to the one before it by `hash` (audit.chain), which `manage.py verify_audit` checks."""

    at = models.DateTimeField("date", db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="auteur",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,  # the trail must outlive any later change to the users table
    )
    actor_label = models.CharField("auteur (au moment des faits)", max_length=254)
    verb = models.CharField("action", max_length=64, db_index=True)
    target_type = models.CharField("type d'objet", max_length=64)
    target_id = models.CharField("identifiant de l'objet", max_length=64)
    target_label = models.CharField("objet", max_length=255, blank=True)
    # Denormalised so that a case's timeline and a creditor's trail are one indexed read; plain integers
    # because the audit app sits below the domain apps.
    case_pk = models.BigIntegerField("dossier", null=True, blank=True, db_index=True)
    creditor_pk = models.BigIntegerField("créancier", null=True, blank=True, db_index=True)
    before = models.JSONField("avant", encoder=DjangoJSONEncoder, null=True, blank=True)
    after = models.JSONField("après", encoder=DjangoJSONEncoder, null=True, blank=True)
    ip_address = models.GenericIPAddressField("adresse IP", null=True, blank=True)
    # SHA-256 of the previous event's hash and this event's content: set by every writer (save, bulk_create,
    # audit.services.audit_rows_write), never null, so that a writer that forgot the chain fails at once.
    hash = models.CharField("empreinte chaînée", max_length=64, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = "événement d'audit"
        verbose_name_plural = "journal d'audit"
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.verb} {self.target_label}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ApplicationError("Le journal d'audit ne peut pas être modifié.")
        from amiable.audit.chain import Appender, instance_content

        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            chain = Appender()
            self.hash = chain.link(instance_content(self))
            super().save(*args, **kwargs)
            chain.done()

    def delete(self, *args, **kwargs):
        raise ApplicationError("Le journal d'audit ne peut pas être effacé.")


class AccessKind(models.TextChoices):
    CASE_VIEW = "case_view", "Consultation d'un dossier"
    EXPORT = "export", "Export"
    DOCUMENT = "document", "Téléchargement d'un document"
    LIST_VIEW = "list_view", "Consultation d'une liste"


class AccessLogEntry(models.Model):
    """Who, of the agency's or the creditors' staff, looked at which case, document, export or list of
    debtors' data, and when (GDPR art. 28, L11). Kept for the retention period (`AMIABLE_ACCESS_LOG_MONTHS`),
    then purged by a command."""

    at = models.DateTimeField("date", db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="utilisateur",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    user_label = models.CharField("utilisateur (au moment des faits)", max_length=254)
    creditor_pk = models.BigIntegerField("créancier", null=True, blank=True, db_index=True)
    kind = models.CharField("type", max_length=12, choices=AccessKind.choices)
    case_pk = models.BigIntegerField("dossier", null=True, blank=True, db_index=True)
    label = models.CharField("objet", max_length=255)
    ip_address = models.GenericIPAddressField("adresse IP", null=True, blank=True)

    class Meta:
        verbose_name = "accès aux données"
        verbose_name_plural = "journal des accès"
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user_label} {self.label}"


class PersonalDataKey(models.Model):
    """The data key with which the personal values of audit events are encrypted (crypto-shredding, L11): one
    per creditor for what happens on its cases, one per debtor for what is recorded of a debtor outside any
    case. Stored wrapped by the key-encryption key of the settings (`AMIABLE_AUDIT_KEY`). Destroying it
    (emptying `wrapped`) leaves the events in place, append-only, with their personal values unreadable."""

    creditor_pk = models.BigIntegerField("créancier", null=True, blank=True)
    debtor_pk = models.BigIntegerField("débiteur", null=True, blank=True)
    wrapped = models.BinaryField("clé chiffrée", default=b"")
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    destroyed_at = models.DateTimeField("détruite le", null=True, blank=True)

    class Meta:
        verbose_name = "clé des données personnelles du journal"
        verbose_name_plural = "clés des données personnelles du journal"
        constraints = [
            models.CheckConstraint(
                name="personal_key_one_scope",
                condition=models.Q(creditor_pk__isnull=False, debtor_pk__isnull=True)
                | models.Q(creditor_pk__isnull=True, debtor_pk__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["creditor_pk"],
                condition=models.Q(destroyed_at__isnull=True, creditor_pk__isnull=False),
                name="personal_key_one_live_per_creditor",
            ),
            models.UniqueConstraint(
                fields=["debtor_pk"],
                condition=models.Q(destroyed_at__isnull=True, debtor_pk__isnull=False),
                name="personal_key_one_live_per_debtor",
            ),
        ]
        indexes = [models.Index(fields=["debtor_pk"], name="personal_key_debtor_idx")]

    def __str__(self) -> str:
        scope = f"créancier {self.creditor_pk}" if self.creditor_pk else f"débiteur {self.debtor_pk}"
        return f"Clé {self.pk} ({scope}{', détruite' if self.destroyed_at else ''})"
