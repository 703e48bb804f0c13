"""Infrastructure models shared by the domain apps (no domain model here)."""

from django.conf import settings
from django.db import models


class NumberSequence(models.Model):
    """A gap-free counter per name and year (acknowledgements, receipts, invoices): numbers are taken
    inside the caller's transaction under a row lock, so a rolled-back document gives its number back."""

    name = models.CharField("séquence", max_length=50)
    year = models.PositiveSmallIntegerField("année")
    last = models.PositiveIntegerField("dernier numéro", default=0)

    class Meta:
        verbose_name = "séquence de numérotation"
        verbose_name_plural = "séquences de numérotation"
        constraints = [models.UniqueConstraint(fields=["name", "year"], name="sequence_name_year")]

    def __str__(self) -> str:
        return f"{self.name} {self.year} : {self.last}"


class FormSubmission(models.Model):
    """One rendering of a form that creates something, once submitted: the token the form carried and where
    its success led. A second submit of the same rendering (a double click, a resent page) finds the row and
    is sent to the first result instead of creating again (`amiable.core.once`)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.UUIDField("jeton")
    location = models.CharField("résultat", max_length=500, blank=True)
    created_at = models.DateTimeField("envoyé le", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "envoi de formulaire"
        verbose_name_plural = "envois de formulaires"
        constraints = [models.UniqueConstraint(fields=["user", "token"], name="form_submission_user_token")]

    def __str__(self) -> str:
        return f"{self.token} → {self.location or 'en cours'}"
