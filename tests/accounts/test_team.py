"""Team pages (S1, S2): a creditor admin manages their own creditor's staff, an agency admin everyone;
anyone else gets 403, another creditor's account answers 404; the permission rules live in the services;
every change is audited with before and after."""

import inspect
import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from amiable.accounts import services, services_team, services_twofactor
from amiable.accounts.models import Role, User
from amiable.accounts.services import user_deactivate
from amiable.accounts.services_team import user_invite, user_update_access
from amiable.audit.models import AuditEvent
from amiable.core.exceptions import ApplicationError
from tests.accounts.test_twofactor import code_of
from tests.factories import PASSWORD, make_user
from tests.web.test_views import assert_every_control_labelled, assert_no_inline_code

TEAM = "/compte/equipe/"
OTHER_CREDITOR = "Vous ne pouvez gérer que les comptes de votre créancier."
AGENCY_ROLE = "Un administrateur du créancier ne peut attribuer que les rôles du créancier."
NOT_A_MANAGER = "Vous n'avez pas le droit de gérer les comptes."


def member_urls(pk: int) -> list[tuple[str, str]]:
    base = f"{TEAM}{pk}/"
    return [
        ("get", base),
        ("post", base),
        ("post", f"{base}desactiver/"),
        ("post", f"{base}renvoyer-invitation/"),
        ("post", f"{base}reinitialiser-double-authentification/"),
    ]


def snapshot(user: User) -> tuple:
    user = User.objects.get(pk=user.pk)
    return (
        user.role,
        user.creditor_id,
        user.is_active,
        user.password,
        sorted(user.structures.values_list("pk", flat=True)),
    )


# --- who reaches the pages ----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["collaborator", "approver", "csr_only", "agent", "supervisor"])
def test_non_admins_get_403_on_every_team_page(client, users, who):
    client.force_login(getattr(users, who))
    target = users.collaborator if who != "collaborator" else users.approver
    assert client.get(TEAM).status_code == 403
    assert client.get(f"{TEAM}inviter/").status_code == 403
    assert client.post(f"{TEAM}inviter/", {"email": "x@x.example"}).status_code == 403
    before = snapshot(target)
    for method, url in member_urls(target.pk):
        response = getattr(client, method)(url, {"role": "creditor_admin"} if method == "post" else None)
        assert response.status_code == 403, url
        assert "Accès refusé" in response.content.decode()
    assert snapshot(target) == before
    assert len(mail.outbox) == 0


def test_anonymous_visitors_are_sent_to_login(client, users):
    assert client.get(TEAM).url == f"/connexion/?next={TEAM}"
    assert client.get(f"{TEAM}{users.collaborator.pk}/").status_code == 302


def test_the_other_creditors_accounts_answer_404_and_stay_unchanged(client, users, reference):
    client.force_login(users.creditor_admin)
    other_staff = make_user("creditor_collaborator", creditor=reference.other)
    for target in (users.other_admin, other_staff, users.agent, users.agency_admin):
        before = snapshot(target)
        for method, url in member_urls(target.pk):
            response = getattr(client, method)(url, {"role": "creditor_collaborator"} if method == "post" else None)
            assert response.status_code == 404, (target, url)
            assert target.email not in response.content.decode()
        assert snapshot(target) == before
    assert client.get(f"{TEAM}999999/").status_code == 404


def test_ones_own_account_is_not_a_team_member_page(client, users):
    client.force_login(users.creditor_admin)
    for method, url in member_urls(users.creditor_admin.pk):
        assert getattr(client, method)(url).status_code == 404, url
    html = client.get(TEAM).content.decode()
    assert "(vous)" in html
    assert f'href="{TEAM}{users.creditor_admin.pk}/"' not in html


def test_nav_links_for_admins_and_others(client, users):
    client.force_login(users.creditor_admin)
    html = client.get("/").content.decode()
    assert 'href="/compte/">Mon compte</a>' in html
    assert f'href="{TEAM}">Équipe</a>' in html
    client.force_login(users.collaborator)
    html = client.get("/").content.decode()
    assert 'href="/compte/">Mon compte</a>' in html
    assert f'href="{TEAM}"' not in html
    client.force_login(users.agency_admin)
    assert f'href="{TEAM}"' in client.get("/").content.decode()


# --- lists --------------------------------------------------------------------------------------


def test_creditor_admin_sees_their_creditors_staff_only(client, users, reference):
    client.force_login(users.creditor_admin)

    response = client.get(TEAM)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Équipe — Amiable</title>" in html
    assert f"<h1>Équipe — {escape(reference.cpam.name)}</h1>" in html
    for user in (users.collaborator, users.approver, users.csr_only, users.creditor_admin):
        assert user.email in html
    for user in (users.other_admin, users.agent, users.agency_admin, users.supervisor):
        assert user.email not in html
    assert "4 comptes." in html
    row = re.search(rf"<tr>\s*<th scope=\"row\"><a href=\"{TEAM}{users.csr_only.pk}/\">.*?</tr>", html, re.S).group(0)
    assert "Collaborateur (créancier)" in row
    assert "<td>CSR</td>" in row
    assert "Actif" in row
    assert "<td>Non</td>" in row  # no second factor
    assert "<td>Jamais</td>" in row  # never logged in
    assert 'href="/compte/equipe/inviter/"' in html
    assert "Créancier</th>" not in html  # one creditor: no column
    assert_no_inline_code(html)


def test_team_list_shows_second_factor_pending_invitation_and_deactivated(client, users, reference):
    from tests.accounts.test_twofactor import enrol

    enrol(users.approver)
    user_deactivate(user=users.collaborator, actor=users.creditor_admin)
    invitee = user_invite(
        email="nouvelle@cpam.example",
        role=Role.CREDITOR_COLLABORATOR,
        creditor=reference.cpam,
        structures=[],
        first_name="Nina",
        last_name="Nouvelle",
        actor=users.creditor_admin,
    )
    client.force_login(users.creditor_admin)
    html = client.get(TEAM).content.decode()

    def row(user):
        return re.search(rf'<a href="{TEAM}{user.pk}/">.*?</tr>', html, re.S).group(0)

    assert "<td>Oui</td>" in row(users.approver)
    assert "Désactivé" in row(users.collaborator)
    assert "Invitation envoyée" in row(invitee)
    assert "<td>Toutes</td>" in row(invitee)


def test_agency_admin_sees_everyone_and_filters_by_creditor(client, users, reference):
    client.force_login(users.agency_admin)
    html = client.get(TEAM).content.decode()
    for user in (users.collaborator, users.other_admin, users.agent, users.supervisor):
        assert user.email in html
    assert "Créancier</th>" in html
    assert_every_control_labelled(html)

    cpam = client.get(TEAM, {"creditor": reference.cpam.slug}).content.decode()
    assert users.collaborator.email in cpam
    assert users.other_admin.email not in cpam
    assert users.agent.email not in cpam

    agency = client.get(TEAM, {"creditor": "agence"}).content.decode()
    assert users.agent.email in agency
    assert users.collaborator.email not in agency

    unknown = client.get(TEAM, {"creditor": "inconnu"})
    assert unknown.status_code == 200
    assert users.collaborator.email in unknown.content.decode()  # an invalid filter shows everyone


def test_team_page_query_count_does_not_grow_with_users(client, users, reference, django_assert_max_num_queries):
    client.force_login(users.creditor_admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(TEAM).status_code == 200
        return len(context.captured_queries)

    client.get(TEAM)
    few = queries()
    for _ in range(15):
        make_user("creditor_collaborator", creditor=reference.cpam, structures=[reference.csr, reference.cdop])
    assert queries() == few
    with django_assert_max_num_queries(12):
        client.get(TEAM)


# --- changes through the pages ------------------------------------------------------------------


def test_creditor_admin_changes_role_and_structures_of_a_colleague(client, users, reference):
    member = users.collaborator
    client.force_login(users.creditor_admin)
    page = client.get(f"{TEAM}{member.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Modifier les accès" in html
    for role in ("agent", "supervisor", "agency_admin"):
        assert f'value="{role}"' not in html
    assert f'value="{reference.other_structure.pk}"' not in html
    assert_no_inline_code(html)
    assert_every_control_labelled(html)

    response = client.post(
        f"{TEAM}{member.pk}/", {"role": "creditor_approver", "structures": [reference.cdop.pk, reference.cesa.pk]}
    )

    assert response.status_code == 302
    assert response.url == f"{TEAM}{member.pk}/"
    assert f"Les accès de {member} sont enregistrés." in client.get(response.url).content.decode()
    fresh = User.objects.get(pk=member.pk)
    assert fresh.role == Role.CREDITOR_APPROVER
    assert set(fresh.structures.all()) == {reference.cdop, reference.cesa}
    event = AuditEvent.objects.get(verb="user.role_changed")
    assert event.actor == users.creditor_admin
    assert event.target_id == str(member.pk)
    assert event.creditor_pk == reference.cpam.pk
    assert event.before == {"role": "creditor_collaborator", "creditor": "cpam-paris", "structures": []}
    assert event.after == {"role": "creditor_approver", "creditor": "cpam-paris", "structures": ["CDOP", "CESA"]}


def test_an_unchanged_form_writes_nothing(client, users):
    client.force_login(users.creditor_admin)
    before = AuditEvent.objects.count()
    client.post(
        f"{TEAM}{users.csr_only.pk}/",
        {"role": "creditor_collaborator", "structures": [users.csr_only.structures.get().pk]},
    )
    assert AuditEvent.objects.count() == before


def test_the_page_refuses_an_agency_role(client, users):
    client.force_login(users.creditor_admin)
    before = snapshot(users.collaborator)
    response = client.post(f"{TEAM}{users.collaborator.pk}/", {"role": "agency_admin"})
    assert response.status_code == 200
    assert "Sélectionnez un choix valide" in response.content.decode()
    assert snapshot(users.collaborator) == before


def test_deactivate_from_the_page(client, users):
    member = users.approver
    client.force_login(users.creditor_admin)
    assert client.get(f"{TEAM}{member.pk}/desactiver/").status_code == 405

    response = client.post(f"{TEAM}{member.pk}/desactiver/", follow=True)

    assert f"Le compte de {member} est désactivé." in response.content.decode()
    assert not User.objects.get(pk=member.pk).is_active
    event = AuditEvent.objects.get(verb="user.deactivated")
    assert event.actor == users.creditor_admin
    assert event.before == {"is_active": True}
    assert event.after == {"is_active": False}
    client.post("/deconnexion/")
    response = client.post("/connexion/", {"username": member.email, "password": PASSWORD})
    assert response.status_code == 200  # refused


def test_resend_from_the_page(client, users, reference):
    invitee = user_invite(
        email="nouvelle@cpam.example",
        role=Role.CREDITOR_COLLABORATOR,
        creditor=reference.cpam,
        structures=[],
        first_name="Nina",
        last_name="Nouvelle",
        actor=users.agency_admin,
    )
    client.force_login(users.creditor_admin)
    assert "Renvoyer l'invitation" in client.get(f"{TEAM}{invitee.pk}/").content.decode()

    response = client.post(f"{TEAM}{invitee.pk}/renvoyer-invitation/", follow=True)

    assert "Une nouvelle invitation a été envoyée à nouvelle@cpam.example." in response.content.decode()
    assert len(mail.outbox) == 2
    assert "http://testserver/compte/invitation/" in mail.outbox[1].body
    assert AuditEvent.objects.get(verb="user.invitation_resent").actor == users.creditor_admin

    # An account already activated has no invitation to resend.
    page = client.get(f"{TEAM}{users.approver.pk}/").content.decode()
    assert "Renvoyer l'invitation" not in page
    response = client.post(f"{TEAM}{users.approver.pk}/renvoyer-invitation/", follow=True)
    assert escape("Ce compte est déjà activé : la personne peut utiliser « Mot de passe oublié ».") in (
        response.content.decode()
    )
    assert len(mail.outbox) == 2


def test_agency_admin_manages_any_account(client, users, reference):
    client.force_login(users.agency_admin)
    response = client.post(f"{TEAM}{users.other_admin.pk}/", {"role": "creditor_collaborator"})
    assert response.status_code == 302
    assert User.objects.get(pk=users.other_admin.pk).role == Role.CREDITOR_COLLABORATOR

    agent_page = client.get(f"{TEAM}{users.agent.pk}/").content.decode()
    assert 'value="supervisor"' in agent_page
    assert 'value="creditor_admin"' not in agent_page  # an agency account stays in the agency
    response = client.post(f"{TEAM}{users.agent.pk}/", {"role": "supervisor"})
    assert response.status_code == 302
    assert User.objects.get(pk=users.agent.pk).role == Role.SUPERVISOR

    client.post(f"{TEAM}{users.supervisor.pk}/desactiver/")
    assert not User.objects.get(pk=users.supervisor.pk).is_active


# --- the rules, in the services -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "target", "role", "message"),
    [
        ("creditor_admin", "other_admin", "creditor_collaborator", OTHER_CREDITOR),
        ("creditor_admin", "agent", "agent", OTHER_CREDITOR),
        ("other_admin", "collaborator", "creditor_admin", OTHER_CREDITOR),
        ("creditor_admin", "collaborator", "agent", AGENCY_ROLE),
        ("creditor_admin", "collaborator", "agency_admin", AGENCY_ROLE),
        (
            "creditor_admin",
            "creditor_admin",
            "creditor_collaborator",
            "Vous ne pouvez pas modifier votre propre rôle ni vos propres structures.",
        ),
        (
            "agency_admin",
            "agency_admin",
            "agent",
            "Vous ne pouvez pas modifier votre propre rôle ni vos propres structures.",
        ),
        ("collaborator", "approver", "creditor_collaborator", NOT_A_MANAGER),
        ("approver", "collaborator", "creditor_admin", NOT_A_MANAGER),
        ("supervisor", "agent", "supervisor", NOT_A_MANAGER),
        ("agent", "collaborator", "creditor_admin", NOT_A_MANAGER),
    ],
)
def test_update_access_rules(users, actor, target, role, message):
    user = getattr(users, target)
    before = (snapshot(user), AuditEvent.objects.count())
    with pytest.raises(ApplicationError) as excinfo:
        user_update_access(user=user, role=role, structures=[], actor=getattr(users, actor))
    assert excinfo.value.message == message
    assert (snapshot(user), AuditEvent.objects.count()) == before


def test_update_access_refuses_another_creditors_structure(users, reference):
    with pytest.raises(ApplicationError) as excinfo:
        user_update_access(
            user=users.collaborator,
            role="creditor_collaborator",
            structures=[reference.other_structure],
            actor=users.creditor_admin,
        )
    assert excinfo.value.message == "La structure AUT n'appartient pas au créancier de l'utilisateur."


def test_limited_creditor_admin_acts_only_within_their_structures(users, reference):
    limited = make_user("creditor_admin", creditor=reference.cpam, structures=[reference.csr])
    # A colleague with wider access is out of their reach.
    with pytest.raises(ApplicationError) as excinfo:
        user_deactivate(user=users.collaborator, actor=limited)
    assert excinfo.value.message == "Vous ne pouvez attribuer que les structures auxquelles vous avez vous-même accès."
    with pytest.raises(ApplicationError):
        user_update_access(
            user=users.csr_only, role="creditor_collaborator", structures=[reference.cdop], actor=limited
        )
    user_update_access(user=users.csr_only, role="creditor_approver", structures=[reference.csr], actor=limited)
    assert User.objects.get(pk=users.csr_only.pk).role == Role.CREDITOR_APPROVER


@pytest.mark.parametrize(
    ("actor", "target", "message"),
    [
        ("creditor_admin", "other_admin", OTHER_CREDITOR),
        ("creditor_admin", "agent", OTHER_CREDITOR),
        ("creditor_admin", "creditor_admin", "Vous ne pouvez pas désactiver votre propre compte."),
        ("agency_admin", "agency_admin", "Vous ne pouvez pas désactiver votre propre compte."),
        ("collaborator", "approver", NOT_A_MANAGER),
        ("supervisor", "agent", NOT_A_MANAGER),
    ],
)
def test_deactivate_rules(users, actor, target, message):
    user = getattr(users, target)
    before = AuditEvent.objects.count()
    with pytest.raises(ApplicationError) as excinfo:
        user_deactivate(user=user, actor=getattr(users, actor))
    assert excinfo.value.message == message
    assert User.objects.get(pk=user.pk).is_active
    assert AuditEvent.objects.count() == before


def test_the_system_actor_may_still_deactivate(users):
    user_deactivate(user=users.agent, actor=None)  # commands and data fixes run as the system
    assert not User.objects.get(pk=users.agent.pk).is_active


def test_errors_of_the_services_show_on_the_pages_in_french(client, users, reference):
    limited = make_user("creditor_admin", creditor=reference.cpam, structures=[reference.csr])
    client.force_login(limited)
    response = client.post(f"{TEAM}{users.collaborator.pk}/desactiver/", follow=True)
    assert "Vous ne pouvez attribuer que les structures auxquelles vous avez vous-même accès." in (
        response.content.decode().replace("&#x27;", "'")
    )
    assert User.objects.get(pk=users.collaborator.pk).is_active


# --- every service of the account pages is audited ----------------------------------------------

SERVICE_MODULES = [services_team, services_twofactor]


def _public_services() -> list[str]:
    return sorted(
        f"{module.__name__}.{name}"
        for module in SERVICE_MODULES
        for name, obj in inspect.getmembers(module, inspect.isfunction)
        if not name.startswith("_") and obj.__module__ == module.__name__
    )


def _invite(ctx):
    return user_invite(
        email="audit@cpam.example",
        role="creditor_collaborator",
        creditor=ctx.reference.cpam,
        structures=[],
        first_name="A",
        last_name="B",
        actor=ctx.users.creditor_admin,
    )


def _activate(ctx):
    from amiable.accounts.tokens import invitation_token_generator

    user = _invite(ctx)
    count = AuditEvent.objects.count()
    services_team.user_activate(user=user, token=invitation_token_generator.make_token(user), password=PASSWORD)
    assert AuditEvent.objects.count() > count


def _resend(ctx):
    user = _invite(ctx)
    count = AuditEvent.objects.count()
    services_team.user_invitation_resend(user=user, actor=ctx.users.creditor_admin)
    assert AuditEvent.objects.count() > count


def _enrolled(user):
    from tests.accounts.test_twofactor import enrol

    return enrol(user)


def _confirm(ctx):
    device = services_twofactor.totp_device_pending(user=ctx.users.agent)
    count = AuditEvent.objects.count()
    services_twofactor.two_factor_confirm(user=ctx.users.agent, code=code_of(device))
    assert AuditEvent.objects.count() > count


def _regenerate(ctx):
    _enrolled(ctx.users.agent)
    count = AuditEvent.objects.count()
    services_twofactor.recovery_codes_regenerate(user=ctx.users.agent)
    assert AuditEvent.objects.count() > count


def _verify(ctx):
    _, codes = _enrolled(ctx.users.agent)
    count = AuditEvent.objects.count()
    services_twofactor.two_factor_verify(user=ctx.users.agent, code=codes[0])
    assert AuditEvent.objects.count() > count


def _reset(ctx):
    _enrolled(ctx.users.agent)
    count = AuditEvent.objects.count()
    services_team.user_reset_2fa(user=ctx.users.agent, actor=ctx.users.agency_admin)
    assert AuditEvent.objects.count() > count


SERVICE_CALLS = {
    "amiable.accounts.services_team.user_invite": _invite,
    "amiable.accounts.services_team.user_activate": _activate,
    "amiable.accounts.services_team.user_invitation_resend": _resend,
    "amiable.accounts.services_team.user_update_access": lambda ctx: user_update_access(
        user=ctx.users.collaborator, role="creditor_admin", structures=[], actor=ctx.users.creditor_admin
    ),
    "amiable.accounts.services_team.user_reset_2fa": _reset,
    "amiable.accounts.services_twofactor.totp_device_pending": lambda ctx: services_twofactor.totp_device_pending(
        user=ctx.users.agent
    ),
    "amiable.accounts.services_twofactor.two_factor_confirm": _confirm,
    "amiable.accounts.services_twofactor.recovery_codes_regenerate": _regenerate,
    "amiable.accounts.services_twofactor.two_factor_verify": _verify,
    # Not a write: turns what people type into the stored form of a code.
    "amiable.accounts.services_twofactor.normalise_code": None,
}


@pytest.mark.parametrize("service", _public_services())
def test_every_account_service_leaves_an_audit_event(service, users, reference):
    assert service in SERVICE_CALLS, f"{service} is a new public service: add a call to SERVICE_CALLS."
    call = SERVICE_CALLS[service]
    if call is None:
        return
    ctx = type("Ctx", (), {"users": users, "reference": reference})
    before = AuditEvent.objects.count()
    call(ctx)
    assert AuditEvent.objects.count() > before, f"{service} wrote no audit event"


def test_the_account_audit_check_covers_every_service():
    assert set(SERVICE_CALLS) == set(_public_services())
    # services.py is covered by tests/cases/test_services.py.
    assert {name for name, _ in inspect.getmembers(services, inspect.isfunction) if name.startswith("user_")} == {
        "user_create",
        "user_set_role",
        "user_deactivate",
    }
