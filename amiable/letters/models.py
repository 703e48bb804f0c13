"""Letters to debtors: per-creditor wording and every letter issued, numbered and stored once (L1, L2, L9)."""

from django.conf import settings
from django.db import models


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
    action = models.OneToOneField(
        "cases.Action", verbose_name="contact", on_delete=models.PROTECT, null=True, blank=True, related_name="letter"
    )

    class Meta:
        verbose_name = "courrier"
        verbose_name_plural = "courriers"
        ordering = ["-issued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=models.Q(kind="first"), name="one_first_letter_per_case")
        ]

    def __str__(self) -> str:
        return f"Courrier {self.number}"
