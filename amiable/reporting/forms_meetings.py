"""The form of a meeting's minutes: it only parses; the rules (who, dates, file types) are the service's."""

from django import forms
from django.utils import timezone

from amiable.core.forms import SizedFileField
from amiable.reporting.services_meetings import MAX_MINUTES_FILE


class MinutesForm(forms.Form):
    held_on = forms.DateField(
        label="Tenue le", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), initial=timezone.localdate
    )
    minutes = forms.CharField(
        label="Compte rendu",
        required=False,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text="Le compte rendu détaillé remis au créancier (CCTP §1.7) : participants, chiffres commentés, "
        "décisions et suites à donner.",
    )
    upload = SizedFileField(
        label="Fichier du compte rendu",
        max_bytes=MAX_MINUTES_FILE,
        required=False,
        help_text="Facultatif : PDF, Word (.docx), OpenDocument (.odt) ou texte, 20 Mo au plus.",
    )
