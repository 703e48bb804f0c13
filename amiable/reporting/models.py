"""What the reports keep: they read the business data and write only their own outputs — the quarterly
workbooks (C41), the follow-up meetings with their packs and minutes (C14), the notices of the contract
clocks (B3) and the rollup the dashboards read."""

from django.conf import settings
from django.db import models


class QuarterlyReport(models.Model):
    """The quarterly statistics workbook of a creditor (C41), stored once per quarter with its hash; built
    again on demand (the newest build replaces the file)."""

    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="quarterly_reports"
    )
    quarter = models.CharField("trimestre", max_length=7)  # « 2026-Q3 »
    period_start = models.DateField("du")
    period_end = models.DateField("au")
    xlsx = models.FileField("classeur (XLSX)", upload_to="reports/", blank=True)
    xlsx_sha256 = models.CharField("empreinte", max_length=64, blank=True)
    built_at = models.DateTimeField("produit le")
    built_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="demandé par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    summary = models.JSONField("chiffres clés", default=dict)

    class Meta:
        verbose_name = "statistiques trimestrielles"
        verbose_name_plural = "statistiques trimestrielles"
        ordering = ["-period_start", "creditor_id"]
        constraints = [models.UniqueConstraint(fields=["creditor", "quarter"], name="quarterly_report_unique")]

    def __str__(self) -> str:
        return f"Statistiques {self.quarter}"


class FollowUpMeeting(models.Model):
    """A follow-up meeting of the contract (C14): at 1 month, 3 months, then every semester from its start;
    reminded to both sides, with its pack and, once held, its minutes."""

    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="follow_up_meetings"
    )
    label = models.CharField("réunion", max_length=60)  # « Réunion à 1 mois », « Réunion du 2e semestre »…
    due_on = models.DateField("prévue le")
    reminded_at = models.DateTimeField("rappel envoyé le", null=True, blank=True)
    pack_pdf = models.FileField("dossier de séance (PDF)", upload_to="meetings/", blank=True)
    pack_pdf_sha256 = models.CharField("empreinte du dossier de séance", max_length=64, blank=True)
    pack_xlsx = models.FileField("classeur de séance (XLSX)", upload_to="meetings/", blank=True)
    pack_xlsx_sha256 = models.CharField("empreinte du classeur", max_length=64, blank=True)
    pack_built_at = models.DateTimeField("dossier produit le", null=True, blank=True)
    held_on = models.DateField("tenue le", null=True, blank=True)
    minutes = models.TextField("compte rendu", blank=True)
    minutes_file = models.FileField("compte rendu (fichier)", upload_to="meetings/", blank=True)
    minutes_file_sha256 = models.CharField("empreinte du compte rendu", max_length=64, blank=True)
    minutes_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="compte rendu déposé par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    minutes_at = models.DateTimeField("compte rendu déposé le", null=True, blank=True)

    class Meta:
        verbose_name = "réunion de suivi"
        verbose_name_plural = "réunions de suivi"
        ordering = ["due_on", "pk"]
        constraints = [models.UniqueConstraint(fields=["creditor", "due_on"], name="follow_up_meeting_unique")]

    def __str__(self) -> str:
        return f"{self.label} ({self.due_on:%d/%m/%Y})"


class ClockNotice(models.Model):
    """A contract clock that was told to people as at risk or late, once per clock and state: what makes
    `check_deadlines` safe to run twice."""

    kind = models.CharField("échéance", max_length=30)
    key = models.CharField("objet", max_length=80)  # the clock's own identity, e.g. « case:42 », « week:2026-W40 »
    state = models.CharField("état", max_length=10)
    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="+"
    )
    case_pk = models.BigIntegerField("dossier", null=True, blank=True)
    due_on = models.DateField("échéance le")
    noticed_at = models.DateTimeField("signalée le")

    class Meta:
        verbose_name = "échéance signalée"
        verbose_name_plural = "échéances signalées"
        ordering = ["-noticed_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["kind", "key", "state"], name="clock_notice_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} {self.state}"


class StatsRollup(models.Model):
    """Figures the dashboards read, refreshed per creditor by the daily run so that a home page never
    aggregates every case: one row per (structure, metric, period, dimension); structure empty for the
    creditor's total."""

    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.CASCADE, related_name="+"
    )
    structure = models.ForeignKey(
        "creditors.Structure",
        verbose_name="structure",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    metric = models.CharField("indicateur", max_length=30)
    period = models.DateField("mois", null=True, blank=True)  # first day of the month, when the metric has one
    dimension = models.CharField("dimension", max_length=40, blank=True)  # channel, age band, status, clock…
    count = models.BigIntegerField("nombre", default=0)
    amount = models.DecimalField("montant", max_digits=14, decimal_places=2, default=0)
    refreshed_at = models.DateTimeField("calculé le")

    class Meta:
        verbose_name = "agrégat des tableaux de bord"
        verbose_name_plural = "agrégats des tableaux de bord"
        ordering = ["creditor_id", "metric", "period", "dimension", "pk"]
        indexes = [models.Index(fields=["creditor", "metric", "period"], name="stats_rollup_read_idx")]

    def __str__(self) -> str:
        return f"{self.metric} {self.period} {self.dimension}"
