"""Claim batches received from creditors, their acknowledgement of receipt, and how to read their files."""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from amiable.core.money import ZERO
from amiable.core.scoping import scope_to_user


class BatchSource(models.TextChoices):
    CREDITOR_UPLOAD = "creditor_upload", "Dépôt par le créancier"
    AGENCY_UPLOAD = "agency_upload", "Dépôt par l'agence pour le créancier"
    COMMAND = "command", "Dépôt automatique (fichier transmis)"


class SignatureStatus(models.TextChoices):
    SIGNED = "signed", "Signé"
    INVALID = "invalid", "Signature invalide"
    NOT_SIGNED = "not_signed", "Non signé"


class BatchQuerySet(models.QuerySet):
    def visible_to(self, user) -> "BatchQuerySet":
        """Agency staff see every batch; creditor staff their creditor's batches, unless limited to some
        structures: a batch and its acknowledgement span all the creditor's structures."""
        if getattr(user, "is_creditor_user", False) and user.allowed_structure_ids is not None:
            return self.none()
        return scope_to_user(self, user, creditor_field="creditor_id")


class Batch(models.Model):
    """One file of claims accepted from a creditor (C4–C6). Refused files leave no batch, only an audit
    event; the same content is accepted once per creditor (its SHA-256 is unique)."""

    number = models.CharField("numéro de lot", max_length=20, unique=True)
    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="batches"
    )
    default_structure = models.ForeignKey(
        "creditors.Structure",
        verbose_name="structure par défaut",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    source = models.CharField("mode de transmission", max_length=20, choices=BatchSource.choices)
    received_at = models.DateTimeField("reçu le")
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="déposé par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    filename = models.CharField("nom du fichier", max_length=255)
    sha256 = models.CharField("empreinte SHA-256", max_length=64)
    size = models.PositiveBigIntegerField("taille (octets)")
    file_format = models.CharField("format", max_length=10)
    encoding = models.CharField("encodage", max_length=20, blank=True)
    was_encrypted = models.BooleanField("chiffré", default=False)
    signature_status = models.CharField(
        "signature", max_length=12, choices=SignatureStatus.choices, default=SignatureStatus.NOT_SIGNED
    )
    signer = models.CharField("signataire", max_length=255, blank=True)
    signer_fingerprint = models.CharField("empreinte de la clé du signataire", max_length=64, blank=True)
    row_count = models.PositiveIntegerField("lignes", default=0)
    accepted_count = models.PositiveIntegerField("lignes acceptées", default=0)
    rejected_count = models.PositiveIntegerField("lignes rejetées", default=0)
    accepted_total = models.DecimalField("solde total accepté", max_digits=14, decimal_places=2, default=ZERO)
    flags = models.JSONField("signalements", default=dict, encoder=DjangoJSONEncoder)
    rejected_rows = models.JSONField("lignes rejetées (détail)", default=list, encoder=DjangoJSONEncoder)
    unknown_columns = models.JSONField("colonnes ignorées", default=list)
    acknowledgement_number = models.CharField("n° d'accusé de réception", max_length=20, unique=True)
    acknowledged_at = models.DateTimeField("accusé de réception émis le")
    acknowledgement_pdf = models.FileField("accusé de réception (PDF)", upload_to="intake/", blank=True)
    acknowledgement_csv = models.FileField("dossiers pris en charge (CSV)", upload_to="intake/", blank=True)
    acknowledgement_xlsx = models.FileField("dossiers pris en charge (XLSX)", upload_to="intake/", blank=True)
    acknowledgement_sent_at = models.DateTimeField("accusé envoyé par e-mail le", null=True, blank=True)

    objects = BatchQuerySet.as_manager()

    class Meta:
        verbose_name = "lot de créances"
        verbose_name_plural = "lots de créances"
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["creditor", "sha256"], name="batch_content_once_per_creditor"),
            models.CheckConstraint(
                name="batch_counts_add_up",
                condition=Q(row_count=models.F("accepted_count") + models.F("rejected_count")),
            ),
        ]

    def __str__(self) -> str:
        return f"Lot {self.number}"


class BatchCase(models.Model):
    """Which case came from which line of which batch (kept here so that cases do not depend on intake)."""

    batch = models.ForeignKey(Batch, verbose_name="lot", on_delete=models.PROTECT, related_name="lines")
    case = models.OneToOneField(
        "cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="batch_line"
    )
    line = models.PositiveIntegerField("ligne de données")
    flags = models.JSONField("signalements", default=list)

    class Meta:
        verbose_name = "ligne de lot"
        verbose_name_plural = "lignes de lot"
        ordering = ["batch_id", "line"]
        constraints = [models.UniqueConstraint(fields=["batch", "line"], name="batch_line_unique")]

    def __str__(self) -> str:
        return f"Ligne {self.line} du lot {self.batch_id}"


class ColumnMapping(models.Model):
    """A creditor's own header name for one of the batch columns, beyond the built-in synonyms."""

    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.CASCADE, related_name="column_mappings"
    )
    header = models.CharField("intitulé dans le fichier", max_length=200)
    column = models.CharField("colonne", max_length=30)

    class Meta:
        verbose_name = "correspondance de colonne"
        verbose_name_plural = "correspondances de colonnes"
        ordering = ["creditor_id", "column", "header"]
        constraints = [models.UniqueConstraint(fields=["creditor", "header"], name="column_mapping_unique")]

    def __str__(self) -> str:
        return f"{self.header} → {self.column}"


class CreditorKey(models.Model):
    """An OpenPGP public key with which a creditor signs its batches; signatures are checked against it."""

    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.CASCADE, related_name="signing_keys"
    )
    fingerprint = models.CharField("empreinte", max_length=64)
    user_id = models.CharField("identité de la clé", max_length=255, blank=True)
    armored = models.TextField("clé publique (ASCII)")
    added_at = models.DateTimeField("ajoutée le", auto_now_add=True)
    is_active = models.BooleanField("active", default=True)

    class Meta:
        verbose_name = "clé de signature du créancier"
        verbose_name_plural = "clés de signature des créanciers"
        constraints = [models.UniqueConstraint(fields=["creditor", "fingerprint"], name="creditor_key_unique")]

    def __str__(self) -> str:
        return f"{self.user_id or self.fingerprint}"


class ImportJobStatus(models.TextChoices):
    PENDING = "pending", "En attente"
    RUNNING = "running", "En cours"
    READY = "ready", "À confirmer"
    DONE = "done", "Terminé"
    CANCELLED = "cancelled", "Annulé"
    FAILED = "failed", "Échec"


class ImportJob(models.Model):
    """A file uploaded from a page, waiting for or being imported by the background worker. The content is
    kept encrypted (never in clear at rest) and emptied once the import is over or cancelled.

    The worker first only checks the file (`READY`: the result waits for the person's confirmation, nothing
    is stored); once confirmed (`confirmed_at`), it runs the import itself, which issues the acknowledgement.
    A job whose worker died (`RUNNING` without a recent heartbeat) is failed and its staged content erased."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="+"
    )
    default_structure = models.ForeignKey(
        "creditors.Structure",
        verbose_name="structure par défaut",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    source = models.CharField("mode de transmission", max_length=20, choices=BatchSource.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="déposé par", on_delete=models.PROTECT, related_name="+"
    )
    filename = models.CharField("nom du fichier", max_length=255)
    staged = models.BinaryField("contenu chiffré", default=b"")
    status = models.CharField("état", max_length=10, choices=ImportJobStatus.choices, default=ImportJobStatus.PENDING)
    outcome = models.JSONField("résultat", null=True, blank=True)
    batch = models.ForeignKey(
        Batch, verbose_name="lot", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    # Written by the worker when it starts the job and as it progresses: a running job whose heartbeat is older
    # than the lease (`services.IMPORT_LEASE`) has lost its worker (`services.import_jobs_fail_stale`).
    heartbeat_at = models.DateTimeField("dernier signe de vie", null=True, blank=True)
    confirmed_at = models.DateTimeField("confirmé le", null=True, blank=True)
    finished_at = models.DateTimeField("terminé le", null=True, blank=True)

    class Meta:
        verbose_name = "import en cours"
        verbose_name_plural = "imports en cours"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.filename} ({self.get_status_display()})"
