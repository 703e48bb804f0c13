"""People who log in to Amiable: agency staff and creditor staff, each with a personal account."""

from functools import cached_property

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone

from amiable.audit.services import audit_record


class Role(models.TextChoices):
    """What a person may do; agency roles work cases, creditor roles follow their own creditor's cases."""

    AGENT = "agent", "Gestionnaire (agence)"
    SUPERVISOR = "supervisor", "Référent / superviseur (agence)"
    AGENCY_ADMIN = "agency_admin", "Administrateur (agence)"
    CREDITOR_COLLABORATOR = "creditor_collaborator", "Collaborateur (créancier)"
    CREDITOR_APPROVER = "creditor_approver", "Valideur (créancier)"
    CREDITOR_ADMIN = "creditor_admin", "Administrateur (créancier)"


AGENCY_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.AGENCY_ADMIN})
CREDITOR_ROLES = frozenset({Role.CREDITOR_COLLABORATOR, Role.CREDITOR_APPROVER, Role.CREDITOR_ADMIN})


class UserManager(BaseUserManager):
    """Creates users by e-mail; the e-mail is the login."""

    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields) -> "User":
        if not email:
            raise ValueError("L'adresse e-mail est obligatoire.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        audit_record(actor=None, verb="user.created", target=user, after={"email": user.email, "role": user.role})
        return user

    def get_by_natural_key(self, username: str) -> "User":
        """Logins are e-mails, stored lower-case: whatever case the person types, it is the same account."""
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("role", Role.AGENCY_ADMIN)
        fields["is_staff"] = True
        fields["is_superuser"] = True
        return self._create(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """One person's account. Creditor staff belong to exactly one creditor and may be limited to some
    of its structures; agency staff belong to none."""

    email = models.EmailField("adresse e-mail", unique=True)
    first_name = models.CharField("prénom", max_length=150, blank=True)
    last_name = models.CharField("nom", max_length=150, blank=True)
    role = models.CharField("rôle", max_length=32, choices=Role.choices)
    creditor = models.ForeignKey(
        "creditors.Creditor",
        verbose_name="créancier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    structures = models.ManyToManyField(
        "creditors.Structure",
        verbose_name="structures autorisées",
        blank=True,
        related_name="limited_users",
        help_text="Les seules structures que voit la personne quand « toutes les structures » n'est pas coché ; "
        "vide : aucune.",
    )
    # Explicit, so that an empty limit never means « all »: a person limited to structures that were all
    # removed sees nothing (fail closed) instead of every structure of the creditor.
    all_structures = models.BooleanField(
        "toutes les structures",
        default=True,
        help_text="Coché : toutes les structures du créancier ; décoché : seulement les structures autorisées.",
    )
    is_active = models.BooleanField("actif", default=True)
    is_staff = models.BooleanField(
        "accès à l'administration technique", default=False, editable=False, help_text="Réservé aux administrateurs."
    )
    date_joined = models.DateTimeField("créé le", default=timezone.now)
    # Mirrors "has a confirmed authenticator" on the row read at every request, so that the second-factor
    # gate costs no query; only the services of services_twofactor/services_team change it.
    two_factor_enabled = models.BooleanField("double authentification activée", default=False, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = "utilisateur"
        verbose_name_plural = "utilisateurs"
        ordering = ["last_name", "first_name", "email"]
        constraints = [
            # A creditor role without a creditor, or an agency role with one, would break isolation.
            models.CheckConstraint(
                name="user_creditor_matches_role",
                condition=(
                    Q(role__in=sorted(r.value for r in CREDITOR_ROLES), creditor__isnull=False)
                    | (~Q(role__in=sorted(r.value for r in CREDITOR_ROLES)) & Q(creditor__isnull=True))
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def save(self, *args, **kwargs):
        # Agency admins, and only they, enter the technical administration, with every permission there:
        # whatever path changes a role (service, admin form, shell), a creditor user never keeps it.
        self.is_staff = self.is_superuser = self.role == Role.AGENCY_ADMIN
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "role" in update_fields:
            kwargs["update_fields"] = {*update_fields, "is_staff", "is_superuser"}
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @property
    def is_agency(self) -> bool:
        return self.is_active and self.role in AGENCY_ROLES

    @property
    def is_creditor_user(self) -> bool:
        """Active creditor staff of an active creditor: a deactivated creditor cuts all its staff at once (the
        request's user is read with its creditor, so this costs no query there)."""
        return (
            self.is_active and self.role in CREDITOR_ROLES and self.creditor_id is not None and self.creditor.is_active
        )

    @property
    def can_decide(self) -> bool:
        """The rule is `permissions.can_decide` (templates ask `user|may:"decide"`); kept for code that reads
        the attribute, so that it can never disagree with the rule."""
        from amiable.accounts.permissions import can_decide  # permissions imports this module

        return can_decide(self)

    @property
    def can_manage_colleagues(self) -> bool:
        return self.is_creditor_user and self.role == Role.CREDITOR_ADMIN

    @property
    def is_agency_admin(self) -> bool:
        return self.is_agency and self.role == Role.AGENCY_ADMIN

    @property
    def can_manage_accounts(self) -> bool:
        """Agency admins manage every account, creditor admins their own creditor's staff."""
        return self.is_agency_admin or self.can_manage_colleagues

    @property
    def invitation_pending(self) -> bool:
        """Invited but has not chosen a password yet."""
        return self.is_active and not self.has_usable_password()

    @cached_property
    def allowed_structure_ids(self) -> list[int] | None:
        """The structures a creditor user is limited to, or None when not limited (read once per request).
        An empty list limits to nothing: it is never read as « all »."""
        if self.all_structures:
            return None
        return list(self.structures.values_list("pk", flat=True))
