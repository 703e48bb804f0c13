"""In-app notifications and e-mail preferences (C12, C18, C29): every app publishes through `notify()`."""

from django.conf import settings
from django.db import models


class Notification(models.Model):
    """Something a person should know: shown in the notification centre, e-mailed at once when urgent
    (anything compromising recovery, an approval awaited, a recall), otherwise in the daily digest."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="destinataire", on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField("type", max_length=40)
    title = models.CharField("titre", max_length=200)
    body = models.TextField("détail", blank=True)
    url = models.CharField("lien", max_length=300, blank=True)
    case_pk = models.BigIntegerField("dossier", null=True, blank=True)
    # What the notice is about ("creditor_request:12"), so that it can be withdrawn when that thing is
    # cancelled; blank for notices that are never withdrawn.
    subject = models.CharField("objet", max_length=60, blank=True, db_index=True)
    urgent = models.BooleanField("urgent", default=False)
    created_at = models.DateTimeField("créée le", auto_now_add=True, db_index=True)
    read_at = models.DateTimeField("lue le", null=True, blank=True)
    emailed_at = models.DateTimeField("envoyée par e-mail le", null=True, blank=True)

    class Meta:
        verbose_name = "notification"
        verbose_name_plural = "notifications"
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread_idx")]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    """How a person wants to be told by e-mail; in-app notifications are always kept."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name="utilisateur",
        on_delete=models.CASCADE,
        related_name="notification_preference",
    )
    email_urgent = models.BooleanField("e-mail immédiat pour les urgences", default=True)
    email_digest = models.BooleanField("récapitulatif quotidien par e-mail", default=True)

    class Meta:
        verbose_name = "préférence de notification"
        verbose_name_plural = "préférences de notification"

    def __str__(self) -> str:
        return f"Préférences de {self.user}"
