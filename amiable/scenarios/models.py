"""Recovery scenarios: ordered steps per creditor, and a record of each step run for each case."""

from django.db import models

from amiable.cases.models import Action


class Scenario(models.Model):
    """A creditor's recovery scenario: ordered steps run by `run_scenarios` from the acknowledgement date."""

    creditor = models.ForeignKey(
        "creditors.Creditor", verbose_name="créancier", on_delete=models.PROTECT, related_name="scenarios"
    )
    name = models.CharField("nom", max_length=100)
    is_active = models.BooleanField("actif", default=True)

    class Meta:
        verbose_name = "scénario de recouvrement"
        verbose_name_plural = "scénarios de recouvrement"
        ordering = ["creditor_id", "name"]

    def __str__(self) -> str:
        return self.name


class StepAction(models.TextChoices):
    FIRST_LETTER = "first_letter", "Première lettre"
    REMINDER_LETTER = "reminder_letter", "Lettre de relance"
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    CALL = "call", "Appel (tâche pour le gestionnaire)"
    REVIEW = "review", "Revue du dossier (certificat d'irrécouvrabilité)"


class ScenarioStep(models.Model):
    """One step: what to do, how many days after the acknowledgement, and when it applies."""

    scenario = models.ForeignKey(Scenario, verbose_name="scénario", on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField("ordre")
    delay_days = models.PositiveSmallIntegerField("délai (jours après l'accusé de réception)")
    action = models.CharField("action", max_length=20, choices=StepAction.choices)
    requires_email = models.BooleanField("seulement avec un e-mail valide", default=False)
    requires_phone = models.BooleanField("seulement avec un téléphone valide", default=False)
    min_balance = models.DecimalField("solde minimum", max_digits=12, decimal_places=2, null=True, blank=True)
    max_balance = models.DecimalField("solde maximum", max_digits=12, decimal_places=2, null=True, blank=True)
    skip_if_promise = models.BooleanField("sauter si une promesse de paiement est en cours", default=True)

    class Meta:
        verbose_name = "étape de scénario"
        verbose_name_plural = "étapes de scénario"
        ordering = ["scenario_id", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["scenario", "order"], name="scenario_step_order")]

    def __str__(self) -> str:
        return f"J+{self.delay_days} {self.get_action_display()}"


class StepRun(models.Model):
    """That a step was run (or skipped for good) for a case: the unique pair makes a step run only once."""

    case = models.ForeignKey("cases.Case", verbose_name="dossier", on_delete=models.PROTECT, related_name="step_runs")
    step = models.ForeignKey(ScenarioStep, verbose_name="étape", on_delete=models.PROTECT, related_name="runs")
    run_on = models.DateField("le")
    outcome = models.CharField("résultat", max_length=60)
    action = models.ForeignKey(
        Action, verbose_name="action", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "exécution d'étape"
        verbose_name_plural = "exécutions d'étapes"
        constraints = [models.UniqueConstraint(fields=["case", "step"], name="step_runs_once_per_case")]

    def __str__(self) -> str:
        return f"{self.step} — {self.case_id} — {self.outcome}"
