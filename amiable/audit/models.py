"""The append-only audit trail (S3): who changed what, when, with the data before and after."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from amiable.core.exceptions import ApplicationError


class AuditEventQuerySet(models.QuerySet):
    """Refuses bulk changes: the trail is written once and read many times."""

    def update(self, **kwargs):
        raise ApplicationError("Le journal d'audit ne peut pas être modifié.")

    def delete(self):
        raise ApplicationError("Le journal d'audit ne peut pas être effacé.")

    def for_case(self, case_pk: int) -> "AuditEventQuerySet":
        return self.filter(case_pk=case_pk).order_by("at", "pk")


class AuditEvent(models.Model):
    """One change made by a person or by the system. Never updated nor deleted by the application; on
    PostgreSQL a trigger refuses UPDATE and DELETE, on SQLite one refuses UPDATE."""

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
        super().save(*args, **kwargs)

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
