"""Infrastructure models shared by the domain apps (no domain model here)."""

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
