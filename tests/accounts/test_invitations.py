"""Invitations (S1): an admin invites a colleague by e-mail, the one-time link lets them choose a password
(12 characters and the validators), then log in; a used, replaced or expired link is refused; who may invite
whom is enforced by the service itself; every step is audited."""

import re
from datetime import UTC, datetime, timedelta
from smtplib import SMTPException

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.utils.encoding import force_bytes
from django.utils.html import escape
from django.utils.http import urlsafe_base64_encode

from amiable.accounts.models import Role, User
from amiable.accounts.services_team import user_activate, user_invitation_resend, user_invite
from amiable.accounts.tokens import invitation_token_generator
from amiable.audit.models import AuditEvent
from amiable.core.exceptions import ApplicationError
from tests.factories import make_user
from tests.web.test_views import assert_every_control_labelled, assert_no_inline_code

INVITE = "/compte/equipe/inviter/"
LINK = re.compile(r"https?://[^/\s]+(/compte/invitation/[^/\s]+/[^/\s]+/)")
NEW_PASSWORD = "Un-secret-bien-a-moi-2027"
EXPIRED = "Ce lien d'invitation n'est plus valable : il a déjà servi ou il a expiré."


def login(client, email: str, password: str):
    return client.post("/connexion/", {"username": email, "password": password})


def link_in(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def counts() -> tuple[int, int, int]:
    return User.objects.count(), AuditEvent.objects.count(), len(mail.outbox)


def invite(actor, creditor, *, role=Role.CREDITOR_COLLABORATOR, email="jeanne.petit@cpam.example", structures=()):
    return user_invite(
        email=email,
        role=role,
        creditor=creditor,
        structures=structures,
        first_name="Jeanne",
        last_name="Petit",
        actor=actor,
    )


# --- end to end -------------------------------------------------------------------------------------


def test_creditor_admin_invites_a_colleague_who_sets_a_password_and_logs_in(client, users, reference):
    admin = users.creditor_admin
    client.force_login(admin)
    page = client.get(INVITE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Inviter un collaborateur</h1>" in html
    assert "valable 7 jours" in html
    assert_no_inline_code(html)
    assert_every_control_labelled(html)

    response = client.post(
        INVITE,
        {
            "email": " Jeanne.Petit@CPAM.example ",
            "first_name": "Jeanne",
            "last_name": "Petit",
            "role": Role.CREDITOR_APPROVER,
            "structures": [reference.csr.pk, reference.cdop.pk],
        },
    )

    assert response.status_code == 302
    assert response.url == "/compte/equipe/"
    assert "Invitation envoyée à jeanne.petit@cpam.example." in client.get(response.url).content.decode()
    invitee = User.objects.get(email="jeanne.petit@cpam.example")
    assert invitee.role == Role.CREDITOR_APPROVER
    assert invitee.creditor == reference.cpam
    assert set(invitee.structures.all()) == {reference.csr, reference.cdop}
    assert invitee.is_active
    assert not invitee.has_usable_password()
    assert (invitee.first_name, invitee.last_name) == ("Jeanne", "Petit")

    created = AuditEvent.objects.get(verb="user.created", target_id=str(invitee.pk))
    assert created.actor == admin
    invited = AuditEvent.objects.get(verb="user.invited")
    assert invited.actor == admin
    assert invited.target_id == str(invitee.pk)
    assert invited.creditor_pk == reference.cpam.pk
    assert invited.after == {"email": "jeanne.petit@cpam.example", "role": "creditor_approver", "valid_days": 7}

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["jeanne.petit@cpam.example"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.subject == "Amiable — invitation à créer votre compte"
    assert message.body.startswith("Bonjour Jeanne,")
    assert f"{admin.get_full_name()} vous invite à utiliser Amiable" in message.body
    assert f"l'espace sécurisé de suivi des dossiers confiés par {reference.cpam.name}" in message.body
    assert "choisissez votre mot de passe en ouvrant ce lien dans les 7 jours" in message.body
    assert "&#x27;" not in message.body  # plain text, not HTML-escaped
    assert "http://testserver/compte/invitation/" in message.body  # the address the admin was browsing
    link = link_in(message)

    # The invitee opens the link in their own browser.
    client.post("/deconnexion/")
    page = client.get(link)
    assert page.status_code == 200
    assert "no-store" in page.headers["Cache-Control"]
    html = page.content.decode()
    assert "<h1>Activer votre compte</h1>" in html
    assert "jeanne.petit@cpam.example" in html
    assert_no_inline_code(html)
    assert_every_control_labelled(html)

    short = client.post(link, {"new_password1": "Court-2026!", "new_password2": "Court-2026!"})
    assert short.status_code == 200
    assert "Ce mot de passe est trop court. Il doit contenir au minimum 12 caractères." in short.content.decode()
    common = client.post(link, {"new_password1": "qwerty123456", "new_password2": "qwerty123456"})
    assert "Ce mot de passe est trop courant." in common.content.decode()
    assert not User.objects.get(pk=invitee.pk).has_usable_password()

    done = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert done.status_code == 302
    assert done.url == "/connexion/"
    assert "Votre mot de passe est enregistré : vous pouvez vous connecter." in client.get(done.url).content.decode()
    activated = AuditEvent.objects.get(verb="user.activated")
    assert activated.actor_id == invitee.pk
    assert activated.creditor_pk == reference.cpam.pk

    response = login(client, "jeanne.petit@cpam.example", NEW_PASSWORD)
    assert response.status_code == 302
    assert response.url == "/"
    assert int(client.session[SESSION_KEY]) == invitee.pk
    assert client.get("/").status_code == 200

    # The link served once.
    client.post("/deconnexion/")
    reused = client.get(link)
    assert EXPIRED in reused.content.decode()
    assert 'name="new_password1"' not in reused.content.decode()
    again = client.post(
        link, {"new_password1": "Autre-secret-tres-long-1", "new_password2": "Autre-secret-tres-long-1"}
    )
    assert EXPIRED in again.content.decode()
    assert User.objects.get(pk=invitee.pk).check_password(NEW_PASSWORD)


def test_an_invited_account_cannot_log_in_before_choosing_a_password(client, users, reference):
    invitee = invite(users.creditor_admin, reference.cpam)
    for password in ("", "!", invitee.password):
        response = login(client, invitee.email, password)
        assert response.status_code == 200
        assert SESSION_KEY not in client.session


def test_the_link_expires_after_amiable_invitation_days(client, users, reference):
    assert settings.AMIABLE_INVITATION_DAYS == 7
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        invite(users.creditor_admin, reference.cpam)
        link = link_in(mail.outbox[0])
        clock.shift(timedelta(days=6, hours=23))
        assert 'name="new_password1"' in client.get(link).content.decode()

        clock.shift(timedelta(hours=2))
        page = client.get(link)

        assert EXPIRED in page.content.decode()
        response = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        assert EXPIRED in response.content.decode()
        assert not User.objects.get(email="jeanne.petit@cpam.example").has_usable_password()
        assert not AuditEvent.objects.filter(verb="user.activated").exists()


def test_invitation_days_follow_the_setting(client, users, reference, settings):
    settings.AMIABLE_INVITATION_DAYS = 2
    with time_machine.travel(datetime(2026, 11, 2, 8, 0, tzinfo=UTC), tick=False) as clock:
        invite(users.creditor_admin, reference.cpam)
        assert "dans les 2 jours" in mail.outbox[0].body
        clock.shift(timedelta(days=2, minutes=1))
        assert EXPIRED in client.get(link_in(mail.outbox[0])).content.decode()


def test_a_resent_invitation_replaces_the_earlier_link(client, users, reference):
    invitee = invite(users.creditor_admin, reference.cpam)
    first = link_in(mail.outbox[0])

    user_invitation_resend(user=invitee, actor=users.creditor_admin)

    assert len(mail.outbox) == 2
    second = link_in(mail.outbox[1])
    assert first != second
    assert EXPIRED in client.get(first).content.decode()
    assert 'name="new_password1"' in client.get(second).content.decode()
    event = AuditEvent.objects.get(verb="user.invitation_resent")
    assert event.actor == users.creditor_admin
    assert event.target_id == str(invitee.pk)
    assert event.creditor_pk == reference.cpam.pk


def test_a_password_reset_token_does_not_open_an_invitation(client, users, reference):
    invitee = invite(users.creditor_admin, reference.cpam)
    uid = urlsafe_base64_encode(force_bytes(invitee.pk))
    reset_token = default_token_generator.make_token(invitee)
    assert EXPIRED in client.get(f"/compte/invitation/{uid}/{reset_token}/").content.decode()
    # And an invitation token is no password-reset token.
    token = invitation_token_generator.make_token(invitee)
    assert not default_token_generator.check_token(invitee, token)
    assert invitation_token_generator.check_token(invitee, token)


@pytest.mark.parametrize("link", ["/compte/invitation/MQ/lien-invalide/", "/compte/invitation/zzz/1-2/"])
def test_a_malformed_link_is_refused(client, db, link):
    response = client.get(link)
    assert response.status_code == 200
    assert EXPIRED in response.content.decode()


def test_the_link_of_a_deactivated_account_is_refused(client, users, reference):
    invitee = invite(users.creditor_admin, reference.cpam)
    link = link_in(mail.outbox[0])
    User.objects.filter(pk=invitee.pk).update(is_active=False)
    assert EXPIRED in client.get(link).content.decode()


def test_activation_service_checks_the_token_itself(users, reference):
    invitee = invite(users.creditor_admin, reference.cpam)
    before = AuditEvent.objects.count()
    with pytest.raises(ApplicationError) as excinfo:
        user_activate(user=invitee, token="1-abc", password=NEW_PASSWORD)
    assert excinfo.value.message == EXPIRED
    assert AuditEvent.objects.count() == before
    token = invitation_token_generator.make_token(invitee)
    with pytest.raises(ApplicationError) as excinfo:
        user_activate(user=invitee, token=token, password="court")
    assert "Ce mot de passe est trop court" in excinfo.value.message
    user_activate(user=invitee, token=token, password=NEW_PASSWORD)
    with pytest.raises(ApplicationError):
        user_activate(user=invitee, token=token, password="Encore-un-autre-2027")


def test_agency_admin_invites_agency_staff_and_any_creditor(client, users, reference):
    client.force_login(users.agency_admin)
    html = client.get(INVITE).content.decode()
    for role in Role.values:
        assert f'value="{role}"' in html
    assert escape(reference.other.name) in html

    response = client.post(
        INVITE, {"email": "nouvel.agent@agence.example", "first_name": "Luc", "last_name": "Martin", "role": "agent"}
    )
    assert response.status_code == 302
    agent = User.objects.get(email="nouvel.agent@agence.example")
    assert agent.role == Role.AGENT
    assert agent.creditor is None
    assert "confiés par" not in mail.outbox[0].body

    response = client.post(
        INVITE,
        {
            "email": "valideur@autre.example",
            "first_name": "Ana",
            "last_name": "Lopez",
            "role": "creditor_approver",
            "creditor": reference.other.pk,
            "structures": [reference.other_structure.pk],
        },
    )
    assert response.status_code == 302
    approver = User.objects.get(email="valideur@autre.example")
    assert approver.creditor == reference.other
    assert list(approver.structures.all()) == [reference.other_structure]
    assert AuditEvent.objects.filter(verb="user.invited", actor=users.agency_admin).count() == 2


def test_invite_form_of_a_creditor_admin_offers_only_their_creditor(client, users, reference):
    client.force_login(users.creditor_admin)
    html = client.get(INVITE).content.decode()
    assert 'name="creditor"' not in html
    for role in ("agent", "supervisor", "agency_admin"):
        assert f'value="{role}"' not in html
    for structure in (reference.csr, reference.cdop, reference.cesa):
        assert f'value="{structure.pk}"' in html
    assert f'value="{reference.other_structure.pk}"' not in html

    before = counts()
    response = client.post(
        INVITE, {"email": "x@cpam.example", "first_name": "X", "last_name": "Y", "role": "agency_admin"}
    )
    assert response.status_code == 200
    assert "Sélectionnez un choix valide" in response.content.decode()
    response = client.post(
        INVITE,
        {
            "email": "x@cpam.example",
            "first_name": "X",
            "last_name": "Y",
            "role": "creditor_collaborator",
            "structures": [reference.other_structure.pk],
        },
    )
    assert response.status_code == 200
    assert counts() == before


def test_duplicate_email_is_refused_in_french_without_a_mail(client, users):
    client.force_login(users.creditor_admin)
    before = counts()
    response = client.post(
        INVITE,
        {
            "email": users.collaborator.email.upper(),
            "first_name": "A",
            "last_name": "B",
            "role": "creditor_collaborator",
        },
    )
    assert response.status_code == 200
    assert f"Un compte existe déjà pour {users.collaborator.email}." in response.content.decode()
    assert counts() == before


def test_a_mail_that_cannot_be_sent_undoes_the_invitation(users, reference, monkeypatch):
    def refuse(*args, **kwargs):
        raise SMTPException("relais indisponible")

    monkeypatch.setattr("amiable.accounts.services_team.send_mail", refuse)
    before = counts()
    with pytest.raises(ApplicationError) as excinfo:
        invite(users.creditor_admin, reference.cpam)
    assert (
        excinfo.value.message
        == "L'e-mail d'invitation n'a pas pu être envoyé à jeanne.petit@cpam.example : réessayez plus tard."
    )
    assert counts() == before


def test_the_link_uses_amiable_site_url_outside_a_page(users, reference, settings):
    settings.AMIABLE_SITE_URL = "https://amiable.example/"
    invite(users.agency_admin, reference.cpam)
    assert "https://amiable.example/compte/invitation/" in mail.outbox[0].body


# --- who may invite whom -------------------------------------------------------------------------

OTHER_CREDITOR = "Vous ne pouvez gérer que les comptes de votre créancier."
AGENCY_ROLE = "Un administrateur du créancier ne peut attribuer que les rôles du créancier."
NOT_A_MANAGER = "Vous n'avez pas le droit de gérer les comptes."


@pytest.mark.parametrize(
    ("actor", "role", "creditor", "structures", "message"),
    [
        ("creditor_admin", "creditor_collaborator", "other", [], OTHER_CREDITOR),
        ("creditor_admin", "creditor_admin", "other", ["other_structure"], OTHER_CREDITOR),
        ("other_admin", "creditor_collaborator", "cpam", [], OTHER_CREDITOR),
        ("creditor_admin", "agent", None, [], AGENCY_ROLE),
        ("creditor_admin", "agency_admin", None, [], AGENCY_ROLE),
        ("creditor_admin", "supervisor", "cpam", [], AGENCY_ROLE),
        (
            "creditor_admin",
            "creditor_collaborator",
            "cpam",
            ["other_structure"],
            "La structure AUT n'appartient pas au créancier de l'utilisateur.",
        ),
        ("collaborator", "creditor_collaborator", "cpam", [], NOT_A_MANAGER),
        ("approver", "creditor_collaborator", "cpam", [], NOT_A_MANAGER),
        ("agent", "creditor_collaborator", "cpam", [], NOT_A_MANAGER),
        ("supervisor", "agent", None, [], NOT_A_MANAGER),
        ("agency_admin", "agent", "cpam", [], "Un membre de l'agence ne peut pas être rattaché à un créancier."),
    ],
)
def test_invite_permission_rules(users, reference, actor, role, creditor, structures, message):
    before = counts()
    with pytest.raises(ApplicationError) as excinfo:
        invite(
            getattr(users, actor),
            getattr(reference, creditor) if creditor else None,
            role=role,
            structures=[getattr(reference, name) for name in structures],
        )
    assert excinfo.value.message == message
    assert counts() == before


def test_a_deactivated_creditor_admin_cannot_invite(users, reference):
    users.creditor_admin.is_active = False
    with pytest.raises(ApplicationError) as excinfo:
        invite(users.creditor_admin, reference.cpam)
    assert excinfo.value.message == NOT_A_MANAGER


def test_a_creditor_admin_limited_to_some_structures_cannot_grant_wider_access(reference):
    limited = make_user("creditor_admin", creditor=reference.cpam, structures=[reference.csr])
    for structures in ([], [reference.cdop], [reference.csr, reference.cesa]):
        with pytest.raises(ApplicationError) as excinfo:
            invite(limited, reference.cpam, structures=structures)
        assert (
            excinfo.value.message == "Vous ne pouvez attribuer que les structures auxquelles vous avez vous-même accès."
        )
    user = invite(limited, reference.cpam, structures=[reference.csr])
    assert list(user.structures.all()) == [reference.csr]


@pytest.mark.parametrize(
    ("actor", "role", "creditor"),
    [
        ("creditor_admin", "creditor_admin", "cpam"),
        ("other_admin", "creditor_approver", "other"),
        ("agency_admin", "agency_admin", None),
        ("agency_admin", "supervisor", None),
        ("agency_admin", "creditor_collaborator", "other"),
    ],
)
def test_invite_allowed(users, reference, actor, role, creditor):
    user = invite(getattr(users, actor), getattr(reference, creditor) if creditor else None, role=role)
    assert user.role == role
    assert AuditEvent.objects.filter(verb="user.invited", target_id=str(user.pk)).exists()
    assert len(mail.outbox) == 1


def test_resend_rules(users, reference):
    invitee = invite(users.creditor_admin, reference.cpam)
    with pytest.raises(ApplicationError) as excinfo:
        user_invitation_resend(user=invitee, actor=users.other_admin)
    assert excinfo.value.message == OTHER_CREDITOR
    with pytest.raises(ApplicationError) as excinfo:
        user_invitation_resend(user=invitee, actor=users.collaborator)
    assert excinfo.value.message == NOT_A_MANAGER
    with pytest.raises(ApplicationError) as excinfo:
        user_invitation_resend(user=users.approver, actor=users.creditor_admin)
    assert excinfo.value.message == "Ce compte est déjà activé : la personne peut utiliser « Mot de passe oublié »."
    User.objects.filter(pk=invitee.pk).update(is_active=False)
    invitee.refresh_from_db()
    with pytest.raises(ApplicationError) as excinfo:
        user_invitation_resend(user=invitee, actor=users.agency_admin)
    assert excinfo.value.message == "Ce compte est désactivé : aucune invitation ne peut lui être envoyée."
    assert len(mail.outbox) == 1
    assert not AuditEvent.objects.filter(verb="user.invitation_resent").exists()
