"""Default wording of the letters, lawful as written; agency admins adapt it per creditor."""

from amiable.letters.models import LetterKind, LetterTemplate
from amiable.letters.services import letter_template_save

FIRST_LETTER = (
    "{{ salutation }},\n\n"
    "{{ le_creancier }} nous a confié le recouvrement amiable de la somme détaillée ci-dessous, qui reste due "
    "à ce jour (dossier {{ reference }}).\n\n"
    "Si vous avez déjà réglé cette somme, merci de ne pas tenir compte de ce courrier et de nous indiquer la "
    "date et le moyen de votre paiement. Si vous rencontrez des difficultés, contactez-nous : nous pouvons "
    "étudier avec vous un échéancier adapté à votre situation."
)
REMINDER = (
    "{{ salutation }},\n\n"
    "Sauf erreur de notre part, la somme de {{ montant }} reste due (créancier : {{ creancier }}, "
    "dossier {{ reference }}).\n\n"
    "Nous vous remercions de la régler dès réception de ce courrier ou de nous contacter pour convenir "
    "ensemble d'un échéancier."
)


def letter_templates_ensure(*, creditor, actor=None) -> None:
    """Give a creditor the default first letter and reminder when it has none (idempotent)."""
    for kind, body in ((LetterKind.FIRST, FIRST_LETTER), (LetterKind.REMINDER, REMINDER)):
        if not LetterTemplate.objects.filter(creditor=creditor, kind=kind).exists():
            letter_template_save(creditor=creditor, kind=kind, name="Modèle standard", body=body, actor=actor)
