"""Forms of the account pages: second-factor codes, invitations, access changes and the team filter."""

from django import forms

from amiable.accounts.models import AGENCY_ROLES, CREDITOR_ROLES, Role, User
from amiable.accounts.services_twofactor import normalise_code
from amiable.creditors.models import Creditor, Structure

CODE_WIDGET_ATTRS = {"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false", "autocapitalize": "off"}


class VerifyForm(forms.Form):
    """The code asked after the password: the authenticator's six digits, or a recovery code."""

    otp_token = forms.CharField(
        label="Code de vérification",
        max_length=32,
        help_text="Les 6 chiffres affichés par votre application d'authentification, ou l'un de vos codes de secours.",
        widget=forms.TextInput(attrs=CODE_WIDGET_ATTRS),
    )


class EnrolForm(forms.Form):
    otp_token = forms.CharField(
        label="Code à 6 chiffres",
        max_length=16,
        help_text="Le code que l'application affiche maintenant pour Amiable.",
        widget=forms.TextInput(attrs={**CODE_WIDGET_ATTRS, "inputmode": "numeric"}),
    )

    def clean_otp_token(self) -> str:
        code = normalise_code(self.cleaned_data["otp_token"])
        if not (len(code) == 6 and code.isdigit()):
            raise forms.ValidationError("Saisissez les 6 chiffres affichés par l'application.")
        return code


class StructureChoiceField(forms.ModelMultipleChoiceField):
    """Structures as checkboxes; named with their creditor when several creditors are offered."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, *args, with_creditor: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.with_creditor = with_creditor

    def label_from_instance(self, obj: Structure) -> str:
        return f"{obj.creditor.name} — {obj}" if self.with_creditor else str(obj)


def _role_choices(roles) -> list[tuple[str, str]]:
    return [(value, label) for value, label in Role.choices if value in roles]


def _structures_for(actor, creditor=None):
    qs = Structure.objects.visible_to(actor).select_related("creditor")
    if creditor is not None:
        qs = qs.filter(creditor=creditor)
    return qs.order_by("creditor__name", "code", "pk")


class InviteForm(forms.Form):
    """A creditor admin invites their own creditor's staff; an agency admin anyone. The service re-checks."""

    email = forms.EmailField(
        label="Adresse e-mail professionnelle", widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    first_name = forms.CharField(label="Prénom", max_length=150)
    last_name = forms.CharField(label="Nom", max_length=150)
    role = forms.ChoiceField(label="Rôle")
    creditor = forms.ModelChoiceField(
        label="Créancier",
        queryset=Creditor.objects.none(),
        required=False,
        empty_label="— Aucun (personnel de l'agence) —",
        help_text="Obligatoire pour les rôles du créancier ; vide pour le personnel de l'agence.",
    )
    structures = StructureChoiceField(
        label="Structures autorisées",
        queryset=Structure.objects.none(),
        required=False,
        help_text="Aucune case cochée : toutes les structures du créancier.",
    )

    def __init__(self, *args, actor: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        if actor.is_agency_admin:
            self.fields["role"].choices = [("", "— Choisir —"), *_role_choices(Role.values)]
            self.fields["creditor"].queryset = Creditor.objects.visible_to(actor).order_by("name", "pk")
            self.fields["structures"].with_creditor = True
            self.fields["structures"].queryset = _structures_for(actor)
        else:
            self.fields["role"].choices = [("", "— Choisir —"), *_role_choices(CREDITOR_ROLES)]
            del self.fields["creditor"]
            self.fields["structures"].queryset = _structures_for(actor)
            if actor.allowed_structure_ids is not None:
                self.fields["structures"].required = True
                self.fields["structures"].help_text = "Parmi les structures auxquelles vous avez accès."

    def invitation_creditor(self):
        if "creditor" in self.fields:
            return self.cleaned_data.get("creditor")
        return self.actor.creditor


class AccessForm(forms.Form):
    """A colleague's role and structure limits; roles stay in the account's family (agency or creditor)."""

    role = forms.ChoiceField(label="Rôle")
    structures = StructureChoiceField(
        label="Structures autorisées",
        queryset=Structure.objects.none(),
        required=False,
        help_text="Aucune case cochée : toutes les structures du créancier.",
    )

    def __init__(self, *args, actor: User, member: User, **kwargs):
        initial = {"role": member.role, "structures": list(member.structures.all())}
        super().__init__(*args, initial=initial, **kwargs)
        if member.role in CREDITOR_ROLES:
            self.fields["role"].choices = _role_choices(CREDITOR_ROLES)
            self.fields["structures"].queryset = _structures_for(actor, creditor=member.creditor)
        else:
            self.fields["role"].choices = _role_choices(AGENCY_ROLES)
            del self.fields["structures"]


class TeamFilterForm(forms.Form):
    creditor = forms.ChoiceField(label="Créancier", required=False)

    def __init__(self, *args, actor: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["creditor"].choices = [
            ("", "Tous les comptes"),
            ("agence", "Personnel de l'agence"),
            *((c.slug, c.name) for c in Creditor.objects.visible_to(actor).order_by("name", "pk")),
        ]
