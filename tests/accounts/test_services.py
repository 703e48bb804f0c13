"""Tests for amiable.accounts.services: personal accounts, their scope (S2) and the audit of role changes."""

import importlib

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.db import IntegrityError, transaction
from django.test import override_settings

from amiable.accounts.models import Role, User
from amiable.accounts.services import user_create, user_deactivate, user_set_role
from amiable.audit.models import AuditEvent
from amiable.core.exceptions import ApplicationError
from tests.factories import PASSWORD, make_user


def _counts() -> tuple[int, int]:
    return User.objects.count(), AuditEvent.objects.count()


# --- user_create --------------------------------------------------------------


def test_user_create_normalises_hashes_and_audits(reference, users):
    before_events = AuditEvent.objects.count()
    user = user_create(
        email="  Jeanne.Petit@CPAM-Paris.Example ",
        password=PASSWORD,
        role=Role.CREDITOR_COLLABORATOR,
        actor=users.creditor_admin,
        first_name="Jeanne",
        last_name="Petit",
        creditor=reference.cpam,
        structures=[reference.csr, reference.cdop],
    )
    user = User.objects.get(pk=user.pk)
    assert user.email == "jeanne.petit@cpam-paris.example"
    assert user.role == Role.CREDITOR_COLLABORATOR
    assert user.creditor == reference.cpam
    assert set(user.structures.all()) == {reference.csr, reference.cdop}
    assert user.password != PASSWORD
    assert user.check_password(PASSWORD)
    assert user.is_active and not user.is_staff and not user.is_superuser

    assert AuditEvent.objects.count() == before_events + 1
    event = AuditEvent.objects.get(verb="user.created", target_id=str(user.pk))
    assert event.target_type == "accounts.user"
    assert event.actor_id == users.creditor_admin.pk
    assert event.creditor_pk == reference.cpam.pk
    assert event.after == {
        "email": "jeanne.petit@cpam-paris.example",
        "role": "creditor_collaborator",
        "creditor": "cpam-paris",
        "structures": ["CSR", "CDOP"],
    }


def test_user_create_without_password_gives_an_unusable_one(db):
    user = user_create(email="sans@test.example", password=None, role=Role.AGENT, actor=None)
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_production_settings_hash_passwords_with_argon2(db):
    base = importlib.import_module("config.settings.base")
    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        user = user_create(email="argon@test.example", password=PASSWORD, role=Role.AGENT, actor=None)
        user.refresh_from_db()
        assert user.password.startswith("argon2$")
        assert identify_hasher(user.password).algorithm == "argon2"
        assert user.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("court-2026", "Ce mot de passe est trop court. Il doit contenir au minimum 12 caractères."),
        ("Abc-1234567", "Ce mot de passe est trop court. Il doit contenir au minimum 12 caractères."),
        ("telechargement", "Ce mot de passe est trop courant."),
        ("qwerty123456", "Ce mot de passe est trop courant."),
        ("123456789012345", "Ce mot de passe est entièrement numérique."),
    ],
)
def test_user_create_validates_the_password(db, password, message):
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        user_create(email="faible@test.example", password=password, role=Role.AGENT, actor=None)
    assert message in excinfo.value.message
    assert _counts() == before


def test_twelve_characters_are_enough(db):
    user = user_create(email="douze@test.example", password="Kx7#pq2!Lm9z", role=Role.AGENT, actor=None)
    assert user.check_password("Kx7#pq2!Lm9z")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "creditor_admin"}, "Un utilisateur du créancier doit être rattaché à un créancier."),
        ({"role": "creditor_collaborator"}, "Un utilisateur du créancier doit être rattaché à un créancier."),
        ({"role": "agent", "creditor": "cpam"}, "Un membre de l'agence ne peut pas être rattaché à un créancier."),
        (
            {"role": "agency_admin", "creditor": "other"},
            "Un membre de l'agence ne peut pas être rattaché à un créancier.",
        ),
        (
            {"role": "creditor_collaborator", "creditor": "cpam", "structures": ["other_structure"]},
            "La structure AUT n'appartient pas au créancier de l'utilisateur.",
        ),
        (
            {"role": "creditor_collaborator", "creditor": "other", "structures": ["csr"]},
            "La structure CSR n'appartient pas au créancier de l'utilisateur.",
        ),
        ({"role": "agent", "structures": ["csr"]}, "La structure CSR n'appartient pas au créancier de l'utilisateur."),
        ({"role": "boss"}, "Rôle inconnu : « boss »."),
    ],
)
def test_user_create_refuses_a_scope_that_breaks_isolation(reference, kwargs, message):
    kwargs = dict(kwargs)
    if "creditor" in kwargs:
        kwargs["creditor"] = getattr(reference, kwargs["creditor"])
    kwargs["structures"] = [getattr(reference, name) for name in kwargs.get("structures", [])]
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        user_create(email="scope@test.example", password=PASSWORD, actor=None, **kwargs)
    assert excinfo.value.message == message
    assert _counts() == before


@pytest.mark.parametrize("email", ["agent@test.example", "AGENT@Test.Example", "  Agent@test.example  "])
def test_user_create_refuses_a_duplicate_email_whatever_the_case(db, email):
    make_user("agent", email="agent@test.example")
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        user_create(email=email, password=PASSWORD, role=Role.SUPERVISOR, actor=None)
    assert excinfo.value.message == "Un compte existe déjà pour agent@test.example."
    assert _counts() == before


@pytest.mark.parametrize(
    ("email", "shown"),
    [("", ""), ("   ", ""), (None, ""), ("pas-une-adresse", "pas-une-adresse"), ("a@b@c.example", "a@b@c.example")],
)
def test_user_create_refuses_an_empty_or_malformed_email(db, email, shown):
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        user_create(email=email, password=PASSWORD, role=Role.AGENT, actor=None)
    assert excinfo.value.message == f"Adresse e-mail invalide : « {shown} »."
    assert _counts() == before


# --- user_set_role ------------------------------------------------------------


def test_user_set_role_changes_scope_and_audits_before_after(users, reference):
    user = users.csr_only
    assert user.allowed_structure_ids == [reference.csr.pk]
    before_events = AuditEvent.objects.count()

    user_set_role(
        user=user,
        role=Role.CREDITOR_APPROVER,
        actor=users.creditor_admin,
        structures=[reference.cdop, reference.cesa],
    )

    # The cached scope of the instance is refreshed, not left limited to CSR.
    assert set(user.allowed_structure_ids) == {reference.cdop.pk, reference.cesa.pk}
    fresh = User.objects.get(pk=user.pk)
    assert fresh.role == Role.CREDITOR_APPROVER
    assert fresh.creditor_id == reference.cpam.pk
    assert set(fresh.structures.all()) == {reference.cdop, reference.cesa}

    assert AuditEvent.objects.count() == before_events + 1
    event = AuditEvent.objects.get(verb="user.role_changed")
    assert event.target_id == str(user.pk)
    assert event.actor_id == users.creditor_admin.pk
    assert event.creditor_pk == reference.cpam.pk
    assert event.before == {"role": "creditor_collaborator", "creditor": "cpam-paris", "structures": ["CSR"]}
    assert event.after == {"role": "creditor_approver", "creditor": "cpam-paris", "structures": ["CDOP", "CESA"]}


def test_user_set_role_from_creditor_to_agency_drops_the_creditor(users):
    user_set_role(user=users.collaborator, role=Role.AGENT, actor=users.agency_admin)
    fresh = User.objects.get(pk=users.collaborator.pk)
    assert fresh.role == Role.AGENT
    assert fresh.creditor_id is None
    assert fresh.is_agency
    event = AuditEvent.objects.get(verb="user.role_changed")
    assert event.before["creditor"] == "cpam-paris"
    assert event.after == {"role": "agent", "creditor": None, "structures": []}


@pytest.mark.parametrize(
    ("who", "kwargs", "message"),
    [
        ("agent", {"role": "creditor_admin"}, "Un utilisateur du créancier doit être rattaché à un créancier."),
        (
            "collaborator",
            {"role": "creditor_admin", "structures": ["other_structure"]},
            "La structure AUT n'appartient pas au créancier de l'utilisateur.",
        ),
        (
            "collaborator",
            {"role": "agent", "creditor": "cpam"},
            "Un membre de l'agence ne peut pas être rattaché à un créancier.",
        ),
        ("agent", {"role": "root"}, "Rôle inconnu : « root »."),
    ],
)
def test_user_set_role_refuses_a_bad_scope_and_writes_nothing(users, reference, who, kwargs, message):
    user = getattr(users, who)
    kwargs = dict(kwargs)
    if "creditor" in kwargs:
        kwargs["creditor"] = getattr(reference, kwargs["creditor"])
    kwargs["structures"] = [getattr(reference, name) for name in kwargs.get("structures", [])]
    stored = User.objects.get(pk=user.pk)
    before = _counts()
    with pytest.raises(ApplicationError) as excinfo:
        user_set_role(user=user, actor=users.agency_admin, **kwargs)
    assert excinfo.value.message == message
    assert _counts() == before
    fresh = User.objects.get(pk=user.pk)
    assert (fresh.role, fresh.creditor_id) == (stored.role, stored.creditor_id)


# --- user_deactivate ----------------------------------------------------------


def test_user_deactivate_is_audited_once(users, reference):
    before_events = AuditEvent.objects.count()
    user_deactivate(user=users.approver, actor=users.creditor_admin)
    fresh = User.objects.get(pk=users.approver.pk)
    assert not fresh.is_active
    assert not fresh.is_creditor_user
    assert AuditEvent.objects.count() == before_events + 1
    event = AuditEvent.objects.get(verb="user.deactivated")
    assert event.target_id == str(users.approver.pk)
    assert event.actor_id == users.creditor_admin.pk
    assert event.creditor_pk == reference.cpam.pk
    assert event.before == {"is_active": True}
    assert event.after == {"is_active": False}

    # Deactivating again changes nothing and writes nothing.
    user_deactivate(user=fresh, actor=users.creditor_admin)
    assert AuditEvent.objects.count() == before_events + 1
    assert User.objects.filter(pk=users.approver.pk).exists()


# --- the database constraint --------------------------------------------------


@pytest.mark.parametrize(
    ("role", "creditor"),
    [("creditor_admin", None), ("creditor_collaborator", None), ("agent", "cpam"), ("agency_admin", "other")],
)
def test_database_refuses_a_creditor_that_does_not_match_the_role(reference, role, creditor):
    user = User(email="bypass@test.example", role=role, creditor=getattr(reference, creditor) if creditor else None)
    user.set_password(PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        user.save()
    assert not User.objects.filter(email="bypass@test.example").exists()
