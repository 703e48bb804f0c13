"""Second factor (S1) through the real pages: a TOTP code after the password, recovery codes that work once,
enrolment with a server-drawn QR code, mandatory enrolment when AMIABLE_REQUIRE_2FA, logout and lockout after
repeated wrong codes, the agency admin's reset, every step audited; and the idle-session timeout."""

import base64
import importlib
import re
import sys
from datetime import UTC, datetime

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from amiable.accounts.models import User
from amiable.accounts.services_team import user_reset_2fa
from amiable.accounts.services_twofactor import (
    recovery_codes_regenerate,
    totp_device_pending,
    two_factor_confirm,
    two_factor_verify,
)
from amiable.audit.models import AuditEvent
from amiable.core.exceptions import ApplicationError
from tests.factories import PASSWORD
from tests.web.test_views import assert_every_control_labelled, assert_no_inline_code

LOGIN = "/connexion/"
VERIFY = "/compte/verification/"
ENROL = "/compte/double-authentification/"
CODES = "/compte/codes-de-secours/"
ACCOUNT = "/compte/"
WRONG = escape("Code incorrect. Vérifiez que l'heure de votre téléphone est juste et saisissez le code affiché.")


@pytest.fixture
def clock():
    """Time stands still unless the test moves it: TOTP codes, throttling and sessions all follow it."""
    with time_machine.travel(datetime(2026, 11, 2, 8, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def code_of(device: TOTPDevice) -> str:
    """The code the person's authenticator app shows right now."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


def wrong_code_for(device: TOTPDevice) -> str:
    right = int(code_of(device))
    # Not the current code, nor the previous or next one (the device tolerates one step of drift).
    taken = {int(totp(device.bin_key, device.step, device.t0 + shift, device.digits)) for shift in (-30, 0, 30)}
    candidate = (right + 1) % 1_000_000
    while candidate in taken:
        candidate = (candidate + 1) % 1_000_000
    return f"{candidate:06d}"


def enrol(user: User) -> tuple[TOTPDevice, list[str]]:
    """Enrol through the services, as the enrolment page does."""
    device = totp_device_pending(user=user)
    codes = two_factor_confirm(user=user, code=code_of(device))
    device.refresh_from_db()
    return device, codes


def password_login(client, user: User, password: str = PASSWORD):
    return client.post(LOGIN, {"username": user.email, "password": password})


def events(verb: str):
    return AuditEvent.objects.filter(verb=verb)


def is_logged_in(client) -> bool:
    return SESSION_KEY in client.session


def is_verified(client) -> bool:
    return DEVICE_ID_SESSION_KEY in client.session


def verified_client(client, user: User, clock) -> TOTPDevice:
    """`client` logged in with password and code; the user is enrolled."""
    device, _ = enrol(user)
    clock.shift(30)  # the enrolment code cannot be replayed
    password_login(client, user)
    response = client.post(VERIFY, {"otp_token": code_of(device)})
    assert response.status_code == 302, response.content.decode()[:500]
    return device


# --- login with a second factor -----------------------------------------------------------------


def test_full_login_flow_password_then_code_then_home(client, users, clock):
    user = users.collaborator
    device, _ = enrol(user)
    clock.shift(60)

    response = password_login(client, user)
    assert response.status_code == 302
    assert response.url == "/"
    assert is_logged_in(client)
    assert not is_verified(client)

    # Before the code, every page sends to the verification, keeping where the person was going.
    home = client.get("/")
    assert home.status_code == 302
    assert home.url == f"{VERIFY}?next=%2F"
    for url in ("/dossiers/", ACCOUNT, "/mot-de-passe/", "/admin/"):
        assert client.get(url).url.startswith(VERIFY), url

    page = client.get(home.url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<title>Vérification en deux étapes — Amiable</title>" in html
    assert "<h1>Vérification en deux étapes</h1>" in html
    assert "Saisissez le code à 6 chiffres affiché par votre application d'authentification" in html
    assert 'autocomplete="one-time-code"' in html
    assert 'name="next" value="/"' in html
    assert_no_inline_code(html)
    assert_every_control_labelled(html)

    session_before = client.session.session_key
    response = client.post(VERIFY, {"otp_token": code_of(device), "next": "/dossiers/"})

    assert response.status_code == 302
    assert response.url == "/dossiers/"
    assert is_verified(client)
    assert client.session.session_key != session_before  # a new key for the fully authenticated session
    assert client.get("/").status_code == 200
    assert client.get("/dossiers/").status_code == 200
    event = events("auth.2fa_verified").get()
    assert event.actor == user
    assert event.creditor_pk == user.creditor_id
    assert event.after == {"method": "totp"}
    assert event.ip_address == "127.0.0.1"
    assert not events("auth.2fa_failed").exists()


def test_wrong_code_is_refused_in_french_and_audited(client, users, clock):
    user = users.agent
    device, _ = enrol(user)
    clock.shift(60)
    password_login(client, user)

    response = client.post(VERIFY, {"otp_token": wrong_code_for(device)})

    assert response.status_code == 200
    html = response.content.decode()
    assert WRONG in html
    assert 'role="alert"' in html
    assert not is_verified(client)
    assert client.get("/").status_code == 302
    event = events("auth.2fa_failed").get()
    assert event.actor == user
    assert event.after == {"method": "totp"}
    assert not events("auth.2fa_verified").exists()

    # After the throttling delay, the right code is accepted.
    clock.shift(5)
    assert client.post(VERIFY, {"otp_token": code_of(device)}).status_code == 302
    assert client.get("/").status_code == 200


def test_a_code_right_after_a_failure_is_throttled_not_counted(client, users, clock):
    user = users.agent
    device, _ = enrol(user)
    clock.shift(60)
    password_login(client, user)
    client.post(VERIFY, {"otp_token": wrong_code_for(device)})

    response = client.post(VERIFY, {"otp_token": code_of(device)})

    assert "patientez quelques secondes avant de réessayer" in response.content.decode()
    assert not is_verified(client)
    assert events("auth.2fa_failed").count() == 1
    assert client.session["amiable_2fa_failures"] == 1


def test_a_totp_code_cannot_be_used_twice(client, users, clock):
    user = users.agent
    device, _ = enrol(user)
    clock.shift(60)
    code = code_of(device)
    password_login(client, user)
    assert client.post(VERIFY, {"otp_token": code}).status_code == 302
    client.post("/deconnexion/")

    password_login(client, user)
    response = client.post(VERIFY, {"otp_token": code})

    assert response.status_code == 200
    assert WRONG in response.content.decode()
    assert not is_verified(client)


def test_recovery_code_works_once_and_not_twice(client, users, clock):
    user = users.creditor_admin
    _, codes = enrol(user)
    clock.shift(60)
    password_login(client, user)

    # Typed in capitals with a dash, as people copy them.
    typed = f"{codes[3][:4].upper()}-{codes[3][4:].upper()}"
    response = client.post(VERIFY, {"otp_token": typed})

    assert response.status_code == 302
    assert response.url == "/"
    assert is_verified(client)
    event = events("auth.2fa_verified").get()
    assert event.after == {"method": "recovery_code", "recovery_codes_left": 9}
    assert StaticToken.objects.filter(device__user=user).count() == 9
    assert "Code de secours accepté : il vous en reste 9." in client.get("/").content.decode()

    client.post("/deconnexion/")
    clock.shift(60)
    password_login(client, user)
    response = client.post(VERIFY, {"otp_token": codes[3]})

    assert response.status_code == 200
    assert WRONG in response.content.decode()
    assert not is_verified(client)
    assert events("auth.2fa_failed").get().after == {"method": "recovery_code"}
    clock.shift(5)
    assert client.post(VERIFY, {"otp_token": codes[4]}).status_code == 302


def test_five_wrong_codes_log_out_and_lock_the_account(client, users, clock):
    user = users.agent
    device, _ = enrol(user)
    clock.shift(60)
    password_login(client, user)
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5

    for attempt in range(1, limit):
        response = client.post(VERIFY, {"otp_token": wrong_code_for(device)})
        assert response.status_code == 200
        assert is_logged_in(client), attempt
        clock.shift(2**attempt + 1)  # past the device's growing throttling delay

    response = client.post(VERIFY, {"otp_token": wrong_code_for(device)})

    assert not is_logged_in(client)
    assert response.status_code == 429
    assert "<h1>Compte temporairement bloqué</h1>" in response.content.decode()
    assert events("auth.2fa_failed").count() == limit
    assert events("auth.logout").filter(actor=user).count() == 1
    assert events("auth.locked_out").filter(target_id=user.email).exists()
    # Wrong codes count like wrong passwords: the right password is refused until the lockout ends.
    assert password_login(client, user).status_code == 429
    assert not is_logged_in(client)
    clock.shift(settings.AXES_COOLOFF_TIME * 3600 + 60)
    assert password_login(client, user).status_code == 302


def test_five_wrong_codes_log_out_even_without_the_lockout(client, users, clock, settings):
    """The session's own count logs out, whatever django-axes is configured to do."""
    settings.AXES_ENABLED = False
    user = users.agent
    device, _ = enrol(user)
    clock.shift(60)
    password_login(client, user)
    for attempt in range(1, settings.AXES_FAILURE_LIMIT):
        client.post(VERIFY, {"otp_token": wrong_code_for(device)})
        clock.shift(2**attempt + 1)
    assert is_logged_in(client)

    response = client.post(VERIFY, {"otp_token": wrong_code_for(device)})

    assert response.status_code == 302
    assert response.url == LOGIN
    assert not is_logged_in(client)
    html = client.get(LOGIN).content.decode()
    assert "Trop de codes erronés : vous avez été déconnecté. Reconnectez-vous pour réessayer." in html
    assert not events("auth.locked_out").exists()
    assert password_login(client, user).status_code == 302


def test_four_wrong_codes_do_not_log_out(client, users, clock):
    user = users.agent
    device, _ = enrol(user)
    clock.shift(60)
    password_login(client, user)
    for attempt in range(1, settings.AXES_FAILURE_LIMIT):
        client.post(VERIFY, {"otp_token": wrong_code_for(device)})
        clock.shift(2**attempt + 1)
    assert is_logged_in(client)
    assert client.post(VERIFY, {"otp_token": code_of(device)}).status_code == 302
    assert client.get("/").status_code == 200
    assert "amiable_2fa_failures" not in client.session


def test_verification_ignores_a_next_url_on_another_site(client, users, clock):
    device, _ = enrol(users.agent)
    clock.shift(60)
    password_login(client, users.agent)
    response = client.post(VERIFY, {"otp_token": code_of(device), "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response.url == "/"


def test_verification_page_needs_a_password_login_first(client, db):
    response = client.get(VERIFY)
    assert response.status_code == 302
    assert response.url.startswith(f"{LOGIN}?next=")


def test_user_without_authenticator_is_not_asked_for_a_code(client, users):
    response = password_login(client, users.agent)
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.get(VERIFY).url == "/"


def test_the_gate_costs_no_query_for_a_user_without_authenticator(client, users, settings):
    client.force_login(users.agent)
    client.get("/")
    with CaptureQueriesContext(connection) as with_gate:
        assert client.get("/").status_code == 200
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m not in {"amiable.accounts.middleware.TwoFactorMiddleware"}
    ]
    with CaptureQueriesContext(connection) as without_gate:
        assert client.get("/").status_code == 200
    assert len(with_gate.captured_queries) == len(without_gate.captured_queries)


# --- mandatory enrolment ------------------------------------------------------------------------


@pytest.fixture
def required(settings):
    settings.AMIABLE_REQUIRE_2FA = True


def test_required_2fa_sends_every_page_to_enrolment(client, users, required):
    client.force_login(users.collaborator)

    for url in ("/", "/dossiers/", ACCOUNT, "/mot-de-passe/", "/compte/equipe/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(f"{ENROL}?next="), url
    assert client.get("/dossiers/?q=x").url == f"{ENROL}?next=%2Fdossiers%2F%3Fq%3Dx"

    # htmx requests are told to load the whole page elsewhere, not to swap the enrolment page into a fragment.
    fragment = client.get("/dossiers/", headers={"HX-Request": "true"})
    assert fragment.headers["HX-Redirect"] == f"{ENROL}?next=%2Fdossiers%2F"

    # What stays open: the enrolment and verification pages, static files and logout.
    assert client.get(ENROL).status_code == 200
    assert client.get("/static/css/amiable.css").status_code == 200
    assert client.get(VERIFY).url.startswith(ENROL)  # no authenticator yet: enrol first
    response = client.post("/deconnexion/")
    assert response.status_code == 302
    assert response.url == LOGIN
    assert not is_logged_in(client)


def test_without_the_setting_enrolment_is_voluntary(client, users):
    assert settings.AMIABLE_REQUIRE_2FA is False
    client.force_login(users.collaborator)
    assert client.get("/").status_code == 200
    html = client.get(ACCOUNT).content.decode()
    assert "Non activée" in html
    assert f'href="{ENROL}"' in html
    assert "Activer la double authentification" in html


def test_required_enrolment_confirms_with_a_valid_code_then_goes_on(client, users, required, clock):
    user = users.collaborator
    password_login(client, user)
    start = client.get("/dossiers/")
    assert start.url == f"{ENROL}?next=%2Fdossiers%2F"

    page = client.get(start.url)
    html = page.content.decode()
    assert "La double authentification est obligatoire" in html
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed

    response = client.post(ENROL, {"otp_token": code_of(device), "next": "/dossiers/"})

    assert response.status_code == 200
    assert 'href="/dossiers/"' in response.content.decode()
    assert is_verified(client)
    assert client.get("/dossiers/").status_code == 200


# --- enrolment ----------------------------------------------------------------------------------


def _qr_svg(html: str) -> str:
    match = re.search(r'<img class="qr-code" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', html)
    assert match, html[:2000]
    return base64.b64decode(match.group(1)).decode()


def test_enrolment_page_shows_a_server_drawn_qr_code_and_the_secret(client, users):
    user = users.agent
    client.force_login(user)

    response = client.get(ENROL)

    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]  # the page holds the secret
    html = response.content.decode()
    assert "<h1>Activer la double authentification</h1>" in html
    assert "Scannez ce QR code avec l'application" in html
    assert 'alt="QR code à scanner avec votre application d\'authentification"' in html
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    shown = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', html).group(1)
    assert shown.replace(" ", "") == secret
    svg = _qr_svg(html)
    assert svg.startswith("<svg")
    assert "<path" in svg
    assert "style" not in svg and "<script" not in svg
    assert_no_inline_code(html)
    assert_every_control_labelled(html)
    assert "img-src 'self' data:" in response.headers["Content-Security-Policy"]
    assert events("auth.2fa_enrolment_started").count() == 1

    # Reloading keeps the same secret, so a QR code already scanned stays good.
    again = client.get(ENROL).content.decode()
    assert TOTPDevice.objects.filter(user=user).count() == 1
    assert re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', again).group(1) == shown
    assert events("auth.2fa_enrolment_started").count() == 1


def test_enrolment_refuses_a_wrong_code_and_confirms_with_a_valid_one_showing_ten_codes_once(client, users, clock):
    user = users.approver
    client.force_login(user)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=user)

    bad = client.post(ENROL, {"otp_token": wrong_code_for(device)})
    assert bad.status_code == 200
    assert WRONG in bad.content.decode()
    letters = client.post(ENROL, {"otp_token": "abc"})
    assert "Saisissez les 6 chiffres affichés par l&#x27;application." in letters.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert not User.objects.get(pk=user.pk).two_factor_enabled
    assert not events("auth.2fa_enrolled").exists()

    clock.shift(5)
    response = client.post(ENROL, {"otp_token": code_of(device)})

    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    html = response.content.decode()
    assert "<h1>Double authentification activée</h1>" in html
    assert "ils ne seront plus jamais affichés" in html
    shown = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", html)
    stored = sorted(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(shown) == 10
    assert sorted(shown) == stored
    assert_no_inline_code(html)
    device.refresh_from_db()
    assert device.confirmed
    assert User.objects.get(pk=user.pk).two_factor_enabled
    assert is_verified(client)
    event = events("auth.2fa_enrolled").get()
    assert event.actor == user
    assert event.creditor_pk == user.creditor_id
    assert event.before == {"two_factor_enabled": False}
    assert event.after == {"two_factor_enabled": True, "recovery_codes": 10}

    # Shown once: neither « Mon compte » nor the enrolment page shows them again.
    account = client.get(ACCOUNT).content.decode()
    assert not any(code in account for code in shown)
    assert "Codes de secours restants : <strong>10</strong>" in account
    again = client.get(ENROL, follow=True)
    assert again.redirect_chain[-1][0] == ACCOUNT
    assert "La double authentification est déjà activée sur votre compte." in again.content.decode()
    assert not any(code in again.content.decode() for code in shown)


def test_confirm_service_refuses_a_second_enrolment(users, clock):
    enrol(users.agent)
    with pytest.raises(ApplicationError) as excinfo:
        totp_device_pending(user=users.agent)
    assert excinfo.value.message == "La double authentification est déjà activée sur ce compte."
    with pytest.raises(ApplicationError):
        two_factor_confirm(user=users.agent, code="123456")
    assert TOTPDevice.objects.filter(user=users.agent).count() == 1


def test_an_enrolled_but_unverified_session_cannot_enrol_again(client, users, clock):
    device, _ = enrol(users.agent)
    clock.shift(60)
    password_login(client, users.agent)
    response = client.get(ENROL)
    assert response.status_code == 302
    assert response.url.startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=users.agent).get() == device


# --- recovery codes -----------------------------------------------------------------------------


def test_recovery_codes_can_be_regenerated_and_the_old_ones_stop_working(client, users, clock):
    user = users.agent
    verified_client(client, user, clock)
    old = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert client.get(CODES).status_code == 405

    response = client.post(CODES)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Nouveaux codes de secours</h1>" in html
    assert "Les anciens codes ne fonctionnent plus." in html
    shown = set(re.findall(r"<li><code>([a-z2-7]{8})</code></li>", html))
    assert len(shown) == 10
    assert shown == set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert not shown & old
    event = events("auth.2fa_codes_regenerated").get()
    assert event.actor == user
    assert event.before == {"recovery_codes": 10}
    assert event.after == {"recovery_codes": 10}

    assert not two_factor_verify(user=user, code=sorted(old)[0]).ok
    clock.shift(5)  # past the throttling delay of the failure
    assert two_factor_verify(user=user, code=sorted(shown)[0]).ok


def test_recovery_codes_need_an_authenticator(users):
    with pytest.raises(ApplicationError) as excinfo:
        recovery_codes_regenerate(user=users.agent)
    assert excinfo.value.message == "Activez d'abord la double authentification."
    assert not StaticDevice.objects.exists()


# --- « Mon compte » -----------------------------------------------------------------------------


def test_my_account_page_in_french(client, users, reference):
    user = users.csr_only
    client.force_login(user)

    response = client.get(ACCOUNT)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Mon compte — Amiable</title>" in html
    assert "<h1>Mon compte</h1>" in html
    assert user.email in html
    assert user.get_full_name() in html
    assert "Collaborateur (créancier)" in html
    assert escape(reference.cpam.name) in html
    assert "CSR — " in html
    assert "CDOP" not in html
    assert 'href="/mot-de-passe/"' in html
    assert "Changer de mot de passe" in html
    assert 'href="/compte/" aria-current="page">Mon compte</a>' in html
    assert_no_inline_code(html)


def test_my_account_page_of_an_enrolled_user_offers_new_recovery_codes(client, users, clock):
    verified_client(client, users.agent, clock)
    html = client.get(ACCOUNT).content.decode()
    assert "Activée" in html
    assert f'<form method="post" action="{CODES}"' in html
    assert "Générer de nouveaux codes de secours" in html
    assert "<dt>Créancier</dt>" not in html  # agency staff belong to no creditor


def test_my_account_requires_login(client, db):
    assert client.get(ACCOUNT).url == f"{LOGIN}?next=/compte/"


# --- reset by an agency admin -------------------------------------------------------------------


def test_agency_admin_resets_a_second_factor_from_the_team_page(client, users, clock):
    member = users.collaborator
    enrol(member)
    verified_client(client, users.agency_admin, clock)
    url = f"/compte/equipe/{member.pk}/reinitialiser-double-authentification/"
    assert "Réinitialiser la double authentification" in client.get(f"/compte/equipe/{member.pk}/").content.decode()

    response = client.post(url, follow=True)

    assert "La double authentification de" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=member).exists()
    assert not StaticDevice.objects.filter(user=member).exists()
    assert not User.objects.get(pk=member.pk).two_factor_enabled
    event = events("user.2fa_reset").get()
    assert event.actor == users.agency_admin
    assert event.target_id == str(member.pk)
    assert event.creditor_pk == member.creditor_id
    assert event.before == {"two_factor_enabled": True, "recovery_codes": 10}
    assert event.after == {"two_factor_enabled": False, "recovery_codes": 0}

    # The person's next login asks no code (and, if 2FA is required, sends them to enrol again).
    other = client.__class__()
    assert password_login(other, member).status_code == 302
    assert other.get("/").status_code == 200


def test_reset_ends_the_verified_state_of_open_sessions(client, users, clock, settings):
    verified_client(client, users.agent, clock)
    assert client.get("/").status_code == 200
    user_reset_2fa(user=users.agent, actor=users.agency_admin)
    settings.AMIABLE_REQUIRE_2FA = True
    assert client.get("/").url.startswith(ENROL)


@pytest.mark.parametrize("who", ["creditor_admin", "supervisor", "agent", "collaborator"])
def test_only_agency_admins_reset_a_second_factor(users, clock, who):
    enrol(users.approver)
    before = AuditEvent.objects.count()
    with pytest.raises(ApplicationError) as excinfo:
        user_reset_2fa(user=users.approver, actor=getattr(users, who))
    assert excinfo.value.message == "Seul un administrateur de l'agence peut réinitialiser la double authentification."
    assert TOTPDevice.objects.filter(user=users.approver, confirmed=True).exists()
    assert User.objects.get(pk=users.approver.pk).two_factor_enabled
    assert AuditEvent.objects.count() == before


def test_creditor_admin_has_no_reset_button_and_the_url_refuses(client, users, clock):
    enrol(users.approver)
    client.force_login(users.creditor_admin)
    page = client.get(f"/compte/equipe/{users.approver.pk}/").content.decode()
    assert "Réinitialiser la double authentification" not in page
    response = client.post(f"/compte/equipe/{users.approver.pk}/reinitialiser-double-authentification/", follow=True)
    assert "Seul un administrateur de l&#x27;agence peut réinitialiser" in response.content.decode()
    assert User.objects.get(pk=users.approver.pk).two_factor_enabled


def test_otp_devices_are_not_editable_in_the_technical_admin(client, users):
    client.force_login(users.agency_admin)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert client.get("/admin/otp_static/staticdevice/").status_code == 404


# --- idle session timeout -----------------------------------------------------------------------


@pytest.fixture
def touch_every_minute(settings):
    """The production default (config/settings/test.py saves sessions once a day, for the query counts)."""
    settings.AMIABLE_SESSION_TOUCH_SECONDS = 60


def test_a_session_idle_longer_than_the_setting_requires_a_new_login(client, users, touch_every_minute):
    idle = settings.SESSION_COOKIE_AGE
    assert idle == 30 * 60
    with time_machine.travel(datetime(2026, 11, 2, 8, 0, tzinfo=UTC), tick=False) as clock:
        assert password_login(client, users.agent).status_code == 302
        # Each request pushes the end of the session back: activity keeps it open past 30 minutes in total.
        clock.shift(idle - 60)
        assert client.get("/").status_code == 200
        clock.shift(idle - 60)
        assert client.get("/").status_code == 200

        clock.shift(idle + 1)
        response = client.get("/dossiers/")

        assert response.status_code == 302
        assert response.url == f"{LOGIN}?next=/dossiers/"
        assert client.get("/").status_code == 302
        assert password_login(client, users.agent).status_code == 302
        assert client.get("/").status_code == 200


def session_writes(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith(("UPDATE", "INSERT")) and "django_session" in q["sql"]
    ]


def test_a_page_writes_the_session_at_most_once_a_minute(client, users, touch_every_minute):
    with time_machine.travel(datetime(2026, 11, 2, 8, 0, tzinfo=UTC), tick=False) as clock:
        assert password_login(client, users.agent).status_code == 302  # the login saves the session
        with CaptureQueriesContext(connection) as within_the_minute:
            assert client.get("/").status_code == 200
            clock.shift(59)
            assert client.get("/dossiers/").status_code == 200
        clock.shift(1)
        with CaptureQueriesContext(connection) as a_minute_later:
            assert client.get("/").status_code == 200
            assert client.get("/").status_code == 200

    assert session_writes(within_the_minute) == []
    assert len(session_writes(a_minute_later)) == 1


def test_the_idle_timeout_counts_from_the_last_save_at_most_a_minute_before_the_last_request(
    client, users, touch_every_minute
):
    idle = settings.SESSION_COOKIE_AGE
    with time_machine.travel(datetime(2026, 11, 2, 8, 0, tzinfo=UTC), tick=False) as clock:
        assert password_login(client, users.agent).status_code == 302  # saved: the session ends at 8:30
        assert client.get("/").status_code == 200
        clock.shift(50)
        assert client.get("/").status_code == 200  # within the minute: not saved again
        clock.shift(idle - 50 - 1)
        assert client.get("/").status_code == 200  # 8:29:59, still open, and saved again: ends at 8:59:59
        clock.shift(idle - 1)
        assert client.get("/").status_code == 200
        clock.shift(idle + 1)
        assert client.get("/").status_code == 302


def test_a_visit_with_a_stale_session_cookie_creates_no_session(client, db):
    client.cookies[settings.SESSION_COOKIE_NAME] = "perimee0123456789abcdefghijklmnop"
    response = client.get(LOGIN)

    assert response.status_code == 200
    assert not Session.objects.exists()
    assert (
        not response.cookies.get(settings.SESSION_COOKIE_NAME, None)
        or not response.cookies[settings.SESSION_COOKIE_NAME].value
    )


def test_idle_timeout_follows_amiable_session_idle_minutes(monkeypatch):
    monkeypatch.setenv("AMIABLE_SESSION_IDLE_MINUTES", "10")
    sys.modules.pop("config.settings.base", None)
    try:
        base = importlib.import_module("config.settings.base")
        assert base.SESSION_COOKIE_AGE == 10 * 60
        assert base.AMIABLE_SESSION_TOUCH_SECONDS == 60
        assert base.SESSION_SAVE_EVERY_REQUEST is False  # SessionTouchMiddleware does it once a minute
    finally:
        sys.modules.pop("config.settings.base", None)
        importlib.import_module("config.settings.base")


# --- settings -----------------------------------------------------------------------------------


def test_second_factor_is_required_in_production_only_by_default(monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 60)
    monkeypatch.setenv("AMIABLE_AUDIT_KEY", "y" * 60)
    monkeypatch.delenv("AMIABLE_REQUIRE_2FA", raising=False)
    for name in ("config.settings.base", "config.settings.prod", "config.settings.dev"):
        sys.modules.pop(name, None)
    try:
        assert importlib.import_module("config.settings.prod").AMIABLE_REQUIRE_2FA is True
        assert importlib.import_module("config.settings.dev").AMIABLE_REQUIRE_2FA is False
        monkeypatch.setenv("AMIABLE_REQUIRE_2FA", "non")
        sys.modules.pop("config.settings.prod", None)
        assert importlib.import_module("config.settings.prod").AMIABLE_REQUIRE_2FA is False
    finally:
        for name in ("config.settings.base", "config.settings.prod", "config.settings.dev"):
            sys.modules.pop(name, None)
        importlib.import_module("config.settings.base")
    assert settings.AMIABLE_REQUIRE_2FA is False  # the test settings


def test_middleware_order():
    middleware = list(settings.MIDDLEWARE)
    auth = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    otp = middleware.index("django_otp.middleware.OTPMiddleware")
    gate = middleware.index("amiable.accounts.middleware.TwoFactorMiddleware")
    assert auth < otp < gate


def test_verification_service_audits_and_ignores_unknown_codes(users, clock):
    device, codes = enrol(users.agent)
    clock.shift(60)
    result = two_factor_verify(user=users.agent, code="", ip_address="10.0.0.1")
    assert not result.ok
    assert events("auth.2fa_failed").get().ip_address == "10.0.0.1"
    clock.shift(5)
    assert two_factor_verify(user=users.agent, code=code_of(device)).method == "totp"
    assert two_factor_verify(user=users.supervisor, code=codes[0]).ok is False  # another person's code
