"""The agency itself, the creditors it works for, their structures and the terms of each contract."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import ProtectedError, Q

from amiable.core.scoping import scope_to_user


class Agency(models.Model):
    """The debt-collection agency's identity, printed on every document (CPCE R124-4, 1st mention).
    A single row (pk 1)."""

    name = models.CharField("raison sociale", max_length=200)
    address_line1 = models.CharField("adresse", max_length=200)
    address_line2 = models.CharField("complément d'adresse", max_length=200, blank=True)
    postal_code = models.CharField("code postal", max_length=10)
    city = models.CharField("ville", max_length=100)
    siret = models.CharField("SIRET", max_length=14)
    activity_statement = models.CharField(
        "mention d'activité",
        max_length=300,
        help_text="La mention obligatoire indiquant que l'agence exerce le recouvrement amiable.",
    )
    phone = models.CharField("téléphone", max_length=30, blank=True)
    email = models.EmailField("e-mail", blank=True)
    client_account_iban = models.CharField("IBAN du compte des fonds de tiers", max_length=34)
    client_account_bic = models.CharField("BIC du compte des fonds de tiers", max_length=11)
    client_account_bank = models.CharField("banque du compte des fonds de tiers", max_length=200, blank=True)
    cheque_payee = models.CharField("ordre des chèques", max_length=200, blank=True)
    invoice_iban = models.CharField(
        "IBAN de règlement des factures",
        max_length=34,
        blank=True,
        help_text="Le compte de l'agence (pas celui des fonds de tiers) sur lequel les créanciers paient ses "
        "factures de commissions ; imprimé sur les factures et dans leur XML Factur-X.",
    )
    invoice_bic = models.CharField("BIC de règlement des factures", max_length=11, blank=True)
    legal_mentions = models.TextField("mentions légales des documents", blank=True)
    vat_number = models.CharField("n° de TVA intracommunautaire", max_length=20, blank=True)
    key_fingerprint = models.CharField(
        "empreinte de la clé OpenPGP de l'agence",
        max_length=64,
        blank=True,
        help_text="La clé pour laquelle les créanciers chiffrent leurs lots (C5) ; "
        "renseignée par `manage.py gpg_import_key` à l'import de la clé secrète de l'agence.",
    )

    class Meta:
        verbose_name = "agence"
        verbose_name_plural = "agence"
        constraints = [models.CheckConstraint(name="agency_single_row", condition=Q(pk=1))]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @property
    def key_fingerprint_display(self) -> str:
        """The fingerprint in groups of four, as gpg prints it, for a creditor to compare by eye."""
        return " ".join(self.key_fingerprint[i : i + 4] for i in range(0, len(self.key_fingerprint), 4))

    @property
    def address_lines(self) -> list[str]:
        lines = [self.address_line1, self.address_line2, f"{self.postal_code} {self.city}"]
        return [line for line in lines if line.strip()]


class CreditorQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CreditorQuerySet":
        """Agency staff see every creditor; creditor staff see only their own."""
        return scope_to_user(self, user, creditor_field="pk")


class Creditor(models.Model):
    """A client of the agency whose claims it recovers (e.g. the CPAM de Paris)."""

    slug = models.SlugField("identifiant", max_length=50, unique=True)
    name = models.CharField("nom", max_length=200)
    name_with_article = models.CharField(
        "nom avec article",
        max_length=220,
        blank=True,
        help_text="Tel qu'il s'écrit en début de phrase dans les courriers : « La Caisse primaire d'assurance "
        "maladie de Paris ». Vide : le nom seul.",
    )
    basis_wording = models.CharField(
        "fondement de la créance (formulation aux débiteurs)",
        max_length=200,
        default="Participation restant à votre charge sur des soins du {date}",
        help_text="Ce que les courriers et documents aux débiteurs disent du fondement de la créance, sans "
        "jamais nommer le soin, la spécialité ni la structure (secret médical). {date} : date des soins.",
    )
    address_line1 = models.CharField("adresse", max_length=200)
    address_line2 = models.CharField("complément d'adresse", max_length=200, blank=True)
    postal_code = models.CharField("code postal", max_length=10)
    city = models.CharField("ville", max_length=100)
    siret = models.CharField("SIRET", max_length=14, blank=True)
    contact_email = models.EmailField("e-mail de contact", blank=True)
    transmission_email = models.EmailField(
        "e-mail de transmission", blank=True, help_text="Reçoit les accusés de réception des lots."
    )
    referent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="référent (agence)",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referent_of",
        help_text="L'interlocuteur unique du créancier à l'agence.",
    )
    is_active = models.BooleanField("actif", default=True)
    created_at = models.DateTimeField("créé le", auto_now_add=True)

    objects = CreditorQuerySet.as_manager()

    class Meta:
        verbose_name = "créancier"
        verbose_name_plural = "créanciers"
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def sentence_name(self) -> str:
        """The name as it opens a sentence: « La Caisse primaire… », not « Caisse primaire… »."""
        return self.name_with_article or self.name

    @property
    def address_lines(self) -> list[str]:
        lines = [self.address_line1, self.address_line2, f"{self.postal_code} {self.city}"]
        return [line for line in lines if line.strip()]


class StructureQuerySet(models.QuerySet):
    def visible_to(self, user) -> "StructureQuerySet":
        """Creditor staff see their creditor's structures, or only those they are limited to."""
        return scope_to_user(self, user, creditor_field="creditor_id", structure_field="pk")


class Structure(models.Model):
    """A care centre of a creditor; claims, remittances and invoices are kept per structure (C1, C21, C23)."""

    creditor = models.ForeignKey(
        Creditor, verbose_name="créancier", on_delete=models.PROTECT, related_name="structures"
    )
    code = models.CharField("code", max_length=20)
    name = models.CharField("nom", max_length=200)
    address_line1 = models.CharField("adresse", max_length=200)
    address_line2 = models.CharField("complément d'adresse", max_length=200, blank=True)
    postal_code = models.CharField("code postal", max_length=10)
    city = models.CharField("ville", max_length=100)
    siret = models.CharField("SIRET", max_length=14, blank=True)
    remittance_iban = models.CharField("IBAN de reversement", max_length=34, blank=True)
    remittance_bic = models.CharField("BIC de reversement", max_length=11, blank=True)
    finance_email = models.EmailField(
        "e-mail du service financier",
        blank=True,
        help_text="Reçoit les relevés de reversement et les factures de la structure ; vide : l'e-mail de "
        "contact du créancier.",
    )
    legal_commitment_number = models.CharField("n° d'engagement juridique", max_length=50, blank=True)
    service_code = models.CharField("code service", max_length=50, blank=True)
    commission_rate = models.DecimalField(
        "taux de commission propre (%)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Vide : le taux du contrat s'applique.",
    )
    is_active = models.BooleanField("active", default=True)

    objects = StructureQuerySet.as_manager()

    class Meta:
        verbose_name = "structure"
        verbose_name_plural = "structures"
        ordering = ["creditor_id", "code", "pk"]
        constraints = [models.UniqueConstraint(fields=["creditor", "code"], name="structure_code_per_creditor")]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    @property
    def address_lines(self) -> list[str]:
        lines = [self.address_line1, self.address_line2, f"{self.postal_code} {self.city}"]
        return [line for line in lines if line.strip()]

    def delete_refusal(self) -> str:
        """Why this structure cannot be deleted (its cases or the people limited to it), or "": it is then
        deactivated instead, so that nobody's access and no case loses its structure."""
        if self.cases.exists():
            return f"La structure {self.code} a des dossiers : désactivez-la au lieu de la supprimer."
        if self.limited_users.exists():
            return (
                f"Des comptes sont limités à la structure {self.code} : désactivez-la au lieu de la supprimer, "
                "ou retirez-la d'abord de ces comptes."
            )
        return ""

    def delete(self, *args, **kwargs):
        refusal = self.delete_refusal()
        if refusal:
            raise ProtectedError(refusal, set(self.limited_users.all()))
        return super().delete(*args, **kwargs)


class AutoAssignment(models.TextChoices):
    """How the cases of a new batch are given to the agents (`cases.services_assignment`)."""

    NONE = "none", "Aucune"
    ROUND_ROBIN = "round_robin", "Tour de rôle"
    LOAD = "load", "Selon la charge"


class ContractTerms(models.Model):
    """The clauses of a creditor's contract that the software enforces: commission, clocks, contact policy."""

    creditor = models.OneToOneField(Creditor, verbose_name="créancier", on_delete=models.PROTECT, related_name="terms")
    commission_rate = models.DecimalField(
        "taux de commission (%)",
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    vat_rate = models.DecimalField("taux de TVA (%)", max_digits=5, decimal_places=2, default=Decimal("20.00"))
    direct_payments_bear_commission = models.BooleanField(
        "commission sur les paiements directs au créancier", default=False
    )
    public_procurement = models.BooleanField(
        "marché public",
        default=True,
        help_text="Le contrat est un marché public (code de la commande publique) : les factures citent ses "
        "intérêts moratoires (BCE + 8 points) ; sinon, les pénalités du code de commerce (BCE + 10 points).",
    )
    # The contract's dates: the follow-up meetings (C14) count from its start; at its end every case is handed
    # back to the creditor (C26).
    contract_start = models.DateField("début du contrat", null=True, blank=True)
    contract_end = models.DateField("fin du contrat", null=True, blank=True)
    auto_assignment = models.CharField(
        "attribution automatique",
        max_length=12,
        choices=AutoAssignment.choices,
        default=AutoAssignment.NONE,
        help_text="Les dossiers d'un lot importé sont confiés aux gestionnaires actifs : à tour de rôle, ou à "
        "celui qui a le moins de dossiers ouverts. « Aucune » : un superviseur les attribue.",
    )
    # The agent who got the last case of the round-robin, so that the next batch goes on from the next one.
    auto_assignment_last = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="dernier gestionnaire servi (tour de rôle)",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    max_plan_months = models.PositiveSmallIntegerField("durée maximale d'un plan sans accord (mois)", default=6)
    certificate_months = models.PositiveSmallIntegerField("délai du certificat d'irrécouvrabilité (mois)", default=12)
    remittance_weekday = models.PositiveSmallIntegerField(
        "jour de reversement",
        default=0,
        choices=[
            (0, "lundi"),
            (1, "mardi"),
            (2, "mercredi"),
            (3, "jeudi"),
            (4, "vendredi"),
        ],
    )
    statement_hours = models.PositiveSmallIntegerField("délai d'envoi d'un décompte (heures)", default=48)
    meeting_days = models.PositiveSmallIntegerField("délai d'organisation d'une réunion (jours)", default=3)
    documents_return_months = models.PositiveSmallIntegerField("délai de restitution des pièces (mois)", default=2)
    payment_days = models.PositiveSmallIntegerField(
        "délai de paiement demandé au débiteur (jours)",
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
    )
    allocation_order = models.CharField(
        "ordre d'imputation des paiements",
        max_length=30,
        default="principal,interest,other",
        choices=[
            ("principal,interest,other", "principal, puis intérêts, puis accessoires"),
            ("interest,principal,other", "intérêts, puis principal, puis accessoires"),
            ("other,interest,principal", "accessoires, puis intérêts, puis principal"),
        ],
    )
    plan_grace_days = models.PositiveSmallIntegerField(
        "délai de grâce d'une échéance de plan (jours)", default=10, validators=[MaxValueValidator(60)]
    )
    plan_max_missed = models.PositiveSmallIntegerField(
        "échéances manquées avant rupture du plan",
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
    )
    # Contact policy defaults (L8).
    contact_weekdays = models.CharField(
        "jours d'appel autorisés", max_length=7, default="12345", help_text="Jours ISO : 1 = lundi … 7 = dimanche."
    )
    contact_hours = models.CharField("plages horaires autorisées", max_length=100, default="10:00-13:00,14:00-20:00")
    contact_on_public_holidays = models.BooleanField("contacts les jours fériés", default=False)
    max_calls_per_30_days = models.PositiveSmallIntegerField("appels max. sur 30 jours", default=4)
    max_emails_per_30_days = models.PositiveSmallIntegerField("e-mails max. sur 30 jours", default=4)
    max_sms_per_30_days = models.PositiveSmallIntegerField("SMS max. sur 30 jours", default=4)
    max_letters_per_30_days = models.PositiveSmallIntegerField("courriers max. sur 30 jours", default=2)
    mandate_reference = models.CharField(
        "référence du mandat",
        max_length=300,
        blank=True,
        help_text="La clause du contrat qui fait de l'accusé de réception un mandat, citée après « Conformément "
        "à » : « l'article 1.2 du cahier des clauses techniques particulières (CCTP) du marché ». Vide : « la "
        "convention de recouvrement conclue entre les parties ».",
    )
    # Batch security policy (C5), for files that do not come through an authenticated upload.
    require_encryption = models.BooleanField("chiffrement des lots exigé", default=False)
    require_signature = models.BooleanField("signature des lots exigée", default=False)

    class Meta:
        verbose_name = "conditions du contrat"
        verbose_name_plural = "conditions des contrats"
        constraints = [
            models.CheckConstraint(
                name="terms_commission_rate_range",
                condition=Q(commission_rate__gte=0, commission_rate__lte=100),
            ),
            models.CheckConstraint(name="terms_remittance_weekday", condition=Q(remittance_weekday__lte=4)),
        ]

    def __str__(self) -> str:
        return f"Conditions — {self.creditor}"

    def commission_rate_for(self, structure: Structure) -> Decimal:
        return structure.commission_rate if structure.commission_rate is not None else self.commission_rate
