"""The standard recovery scenario a creditor starts with; agency admins adapt it in the administration."""

from django.db import transaction

from amiable.audit.services import audit_record
from amiable.scenarios.models import Scenario, ScenarioStep

DEFAULT_STEPS = [
    # (order, delay in days after the acknowledgement, action, requires e-mail, requires phone)
    (1, 0, "first_letter", False, False),
    (2, 10, "email", True, False),
    (3, 20, "call", False, True),
    (4, 35, "reminder_letter", False, False),
    (5, 60, "call", False, True),
    (6, 300, "review", False, False),
]


@transaction.atomic
def scenario_ensure(*, creditor, actor=None) -> None:
    """Give a creditor the standard scenario when it has none (idempotent): D0 first letter, D+10 e-mail,
    D+20 call, D+35 reminder letter, D+60 call, D+300 review for a certificate. Audited like a scenario
    created in the administration: it decides how the creditor's debtors will be contacted."""
    if Scenario.objects.filter(creditor=creditor).exists():
        return
    scenario = Scenario.objects.create(creditor=creditor, name="Scénario standard")
    for order, delay, action, email, phone in DEFAULT_STEPS:
        ScenarioStep.objects.create(
            scenario=scenario, order=order, delay_days=delay, action=action, requires_email=email, requires_phone=phone
        )
    audit_record(
        actor=actor,
        verb="scenario.created",
        target=scenario,
        after={
            "name": scenario.name,
            "steps": [f"J+{delay} {action}" for _order, delay, action, _e, _p in DEFAULT_STEPS],
        },
    )
