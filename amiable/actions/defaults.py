"""Default wording of the letters, lawful as written; agency admins adapt it per creditor."""

from amiable.actions.letters import letter_template_save
from amiable.actions.models import LetterKind, LetterTemplate

FIRST_LETTER = (
    "Madame, Monsieur,\n\n"
    "{{ creancier }} nous a confié le recouvrement amiable de la somme détaillée ci-dessous, qui reste due "
    "à ce jour (dossier {{ reference }}).\n\n"
    "Si vous avez déjà réglé cette somme, merci de ne pas tenir compte de ce courrier et de nous indiquer la "
    "date et le moyen de votre paiement. Si vous rencontrez des difficultés, contactez-nous : nous pouvons "
    "étudier avec vous un échéancier adapté à votre situation."
)
REMINDER = (
    "Madame, Monsieur,\n\n"
    "Sauf erreur de notre part, la somme de {{ montant }} reste due à {{ creancier }} (dossier {{ reference }}).\n\n"
    "Nous vous remercions de la régler dès réception de ce courrier ou de nous contacter pour convenir "
    "ensemble d'un échéancier."
)


def letter_templates_ensure(*, creditor, actor=None) -> None:
    """Give a creditor the default first letter and reminder when it has none (idempotent)."""
    for kind, body in ((LetterKind.FIRST, FIRST_LETTER), (LetterKind.REMINDER, REMINDER)):
        if not LetterTemplate.objects.filter(creditor=creditor, kind=kind).exists():
            letter_template_save(creditor=creditor, kind=kind, name="Modèle standard", body=body, actor=actor)


DEFAULT_STEPS = [
    # (order, delay in days after the acknowledgement, action, requires e-mail, requires phone)
    (1, 0, "first_letter", False, False),
    (2, 10, "email", True, False),
    (3, 20, "call", False, True),
    (4, 35, "reminder_letter", False, False),
    (5, 60, "call", False, True),
    (6, 300, "review", False, False),
]


def scenario_ensure(*, creditor) -> None:
    """Give a creditor the standard scenario when it has none (idempotent): D0 first letter, D+10 e-mail,
    D+20 call, D+35 reminder letter, D+60 call, D+300 review for a certificate."""
    from amiable.actions.models import Scenario, ScenarioStep

    if Scenario.objects.filter(creditor=creditor).exists():
        return
    scenario = Scenario.objects.create(creditor=creditor, name="Scénario standard")
    for order, delay, action, email, phone in DEFAULT_STEPS:
        ScenarioStep.objects.create(
            scenario=scenario, order=order, delay_days=delay, action=action, requires_email=email, requires_phone=phone
        )
