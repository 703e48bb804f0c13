"""How a case ends and what proves it: the closing decision, the certificate of irrecoverability (C10, C36),
the return of the creditor's documents (C25), and the end-of-contract export and erasure (C26, L11)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ClosureKind(models.TextChoices):
    PAID = "paid", "Soldé"
    IRRECOVERABLE = "irrecoverable", "Irrécouvrable"
    RECALLED = "recalled", "Retiré par le créancier"
    END_OF_CONTRACT = "end_of_contract", "Restitué en fin de contrat"


class IrrecoverableReason(models.TextChoices):
    INSOLVENCY = "insolvency", "Insolvabilité du débiteur"
    UNTRACEABLE = "untraceable", "Débiteur introuvable"
    DECEASED = "deceased", "Décès du débiteur"
    OVER_INDEBTEDNESS = "over_indebtedness", "Effacement de la dette (surendettement)"
    DISPUTE = "dispute", "Contestation de la créance"
    OTHER = "other", "Autre motif"


class CaseClosure(models.Model):
    """Why and when a case ended, decided once per ending: a reopened case keeps its former closures (their
    `reopened_at` set) and gets a new one when it ends again."""

    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="closures")
    kind = models.CharField("fin", max_length=20, choices=ClosureKind.choices)
    reason = models.CharField("motif", max_length=20, choices=IrrecoverableReason.choices, blank=True)
    evidence = models.TextField("justificatif", blank=True)
    evidence_file = models.FileField("pièce justificative", upload_to="closure/evidence/", blank=True)
    evidence_file_sha256 = models.CharField("empreinte de la pièce", max_length=64, blank=True)
    ended_on = models.DateField("date de fin")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="décidé par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField("décidé le")
    reopened_at = models.DateTimeField("rouvert le", null=True, blank=True)
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="rouvert par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reopen_reason = models.CharField("motif de réouverture", max_length=300, blank=True)

    class Meta:
        verbose_name = "fin de dossier"
        verbose_name_plural = "fins de dossiers"
        ordering = ["-decided_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(reopened_at__isnull=True), name="closure_one_current_per_case"
            ),
            models.CheckConstraint(
                name="closure_reason_iff_irrecoverable",
                condition=Q(kind="irrecoverable", reason__gt="") | (~Q(kind="irrecoverable") & Q(reason="")),
            ),
        ]
        indexes = [models.Index(fields=["kind", "ended_on"], name="closure_kind_ended_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — dossier {self.case_id}"


class Certificate(models.Model):
    """A certificate of irrecoverability (C10): numbered, stored once as PDF/A with its hash, with the amounts
    and the chronology of every step taken at the time it was issued (C36)."""

    number = models.CharField("numéro", max_length=20, unique=True)
    case = models.ForeignKey(
        "cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="certificates"
    )
    closure = models.OneToOneField(
        CaseClosure, verbose_name="fin du dossier", on_delete=models.PROTECT, related_name="certificate"
    )
    reason = models.CharField("motif", max_length=20, choices=IrrecoverableReason.choices)
    claimed_amount = models.DecimalField("montant réclamé", max_digits=12, decimal_places=2)
    recovered_amount = models.DecimalField("montant recouvré", max_digits=12, decimal_places=2)
    remaining_amount = models.DecimalField("reste dû", max_digits=12, decimal_places=2)
    issued_on = models.DateField("délivré le")
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="délivré par", on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField("enregistré le", auto_now_add=True)
    pdf = models.FileField("certificat (PDF)", upload_to="certificates/", blank=True)
    pdf_sha256 = models.CharField("empreinte du PDF", max_length=64, blank=True)
    revoked_at = models.DateTimeField("annulé le", null=True, blank=True)
    revoke_reason = models.CharField("motif d'annulation", max_length=300, blank=True)

    class Meta:
        verbose_name = "certificat d'irrécouvrabilité"
        verbose_name_plural = "certificats d'irrécouvrabilité"
        ordering = ["-issued_on", "-pk"]
        indexes = [models.Index(fields=["issued_on"], name="certificate_issued_idx")]

    def __str__(self) -> str:
        return f"Certificat {self.number}"


class DocumentReturn(models.Model):
    """The creditor's documents held for a case that ended, to be given back within the terms' months (C25);
    confirming the return closes the case."""

    case = models.OneToOneField(
        "cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="document_return"
    )
    ended_on = models.DateField("soldé ou abandonné le")
    due_on = models.DateField("à restituer au plus tard le", db_index=True)
    # The list of what is given back, made when the case ends: [{"label": str, "reference": str}].
    items = models.JSONField("pièces à restituer", default=list)
    returned_on = models.DateField("restitué le", null=True, blank=True, db_index=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="restitution enregistrée par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.CharField("précisions", max_length=300, blank=True)

    class Meta:
        verbose_name = "restitution des pièces"
        verbose_name_plural = "restitutions des pièces"
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return f"Restitution des pièces du dossier {self.case_id}"


class CreditorExport(models.Model):
    """An end-of-contract export of a creditor's data (C26): a ZIP with its manifest and checksums. Its
    reference is what `erase_creditor_data --confirm` asks for."""

    reference = models.CharField("référence", max_length=40, unique=True)
    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="exports"
    )
    path = models.CharField("fichier", max_length=500)
    sha256 = models.CharField("empreinte", max_length=64)
    case_count = models.PositiveIntegerField("dossiers")
    made_at = models.DateTimeField("fait le")
    verified_at = models.DateTimeField("vérifié le", null=True, blank=True)

    class Meta:
        verbose_name = "export de fin de contrat"
        verbose_name_plural = "exports de fin de contrat"
        ordering = ["-made_at", "-pk"]

    def __str__(self) -> str:
        return f"Export {self.reference}"


class CreditorErasure(models.Model):
    """The erasure of a creditor's personal data after a verified export (L11): what was erased, by whom."""

    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="erasures"
    )
    export = models.ForeignKey(CreditorExport, verbose_name="export", on_delete=models.PROTECT, related_name="+")
    erased_at = models.DateTimeField("effacé le")
    summary = models.JSONField("effacé", default=dict)

    class Meta:
        verbose_name = "effacement des données d'un créancier"
        verbose_name_plural = "effacements des données des créanciers"
        ordering = ["-erased_at", "-pk"]

    def __str__(self) -> str:
        return f"Effacement {self.creditor_id} ({self.erased_at:%d/%m/%Y})"
