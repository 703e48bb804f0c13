"""Authentication through the real views: login by e-mail, audit of every attempt (S1), lockout after
repeated failures (django-axes), POST-only logout, password change and reset, all in French."""

import re

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core import mail

from amiable.audit.models import AuditEvent
from tests.factories import PASSWORD

LOGIN = "/connexion/"
NEW_PASSWORD = "Nouveau-secret-tres-long-2027"


def login(client, email: str, password: str, **extra):
    return client.post(LOGIN, {"username": email, "password": password}, **extra)


def is_logged_in(client) -> bool:
    return SESSION_KEY in client.session


def events(verb: str):
    return AuditEvent.objects.filter(verb=verb)


# --- login --------------------------------------------------------------------------------------


def test_login_with_the_right_password_redirects_home_and_is_audited(client, users):
    response = login(client, users.agent.email, PASSWORD)

    assert response.status_code == 302
    assert response.url == "/"
    assert int(client.session[SESSION_KEY]) == users.agent.pk
    event = events("auth.login").get()
    assert event.actor == users.agent
    assert event.actor_label == users.agent.email
    assert event.target_id == str(users.agent.pk)
    assert event.ip_address == "127.0.0.1"
    assert not events("auth.login_failed").exists()
    assert client.get("/").status_code == 200


def test_login_of_a_creditor_user_records_their_creditor(client, users):
    login(client, users.collaborator.email, PASSWORD)
    assert events("auth.login").get().creditor_pk == users.collaborator.creditor_id


def test_login_follows_next_but_not_to_another_site(client, users):
    response = client.post(
        f"{LOGIN}?next=/dossiers/", {"username": users.agent.email, "password": PASSWORD, "next": "/dossiers/"}
    )
    assert response.url == "/dossiers/"
    client.logout()
    response = client.post(
        LOGIN, {"username": users.agent.email, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response.url == "/"


def test_login_with_a_wrong_password_shows_a_french_error_and_is_audited(client, users):
    response = login(client, users.agent.email, "pas-le-bon-mot-de-passe")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Adresse e-mail ou mot de passe incorrect" in html
    assert 'role="alert"' in html
    assert not is_logged_in(client)
    event = events("auth.login_failed").get()
    assert event.actor is None
    assert event.target_type == "auth.login"
    assert event.target_id == users.agent.email
    assert event.ip_address == "127.0.0.1"
    assert not events("auth.login").exists()


def test_login_with_an_unknown_email_gives_the_same_error(client, users):
    response = login(client, "personne@test.example", PASSWORD)
    assert response.status_code == 200
    assert "Adresse e-mail ou mot de passe incorrect" in response.content.decode()
    assert events("auth.login_failed").get().target_id == "personne@test.example"


def test_login_of_a_deactivated_account_is_refused(client, users):
    users.agent.is_active = False
    users.agent.save(update_fields=["is_active"])
    response = login(client, users.agent.email, PASSWORD)
    assert response.status_code == 200
    assert not is_logged_in(client)
    assert not events("auth.login").exists()


def test_login_trims_spaces_around_the_email(client, users):
    response = login(client, f"  {users.agent.email} ", PASSWORD)
    assert response.status_code == 302
    assert is_logged_in(client)


def test_login_email_is_case_insensitive(client, users):
    response = login(client, users.agent.email.upper(), PASSWORD)
    assert response.status_code == 302
    assert response.url == "/"
    assert int(client.session[SESSION_KEY]) == users.agent.pk


def test_login_page_is_in_french(client, db):
    response = client.get(LOGIN)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="fr">' in html
    assert "<title>Connexion — Amiable</title>" in html
    assert "<h1>Connexion</h1>" in html
    assert '<label for="id_username">Adresse e-mail' in html
    assert '<label for="id_password">Mot de passe' in html
    assert "Se connecter" in html
    assert "Mot de passe oublié ?" in html
    assert 'type="email"' in html
    assert 'autocomplete="username"' in html


def test_authenticated_user_visiting_login_is_sent_home(client, users):
    client.force_login(users.agent)
    response = client.get(LOGIN)
    assert response.status_code == 302
    assert response.url == "/"


def test_argon2_is_the_password_hasher_outside_tests():
    from config.settings import base

    assert base.PASSWORD_HASHERS[0].endswith(".Argon2PasswordHasher")
    # argon2-cffi is installed, so the hasher really works.
    assert Argon2PasswordHasher().encode("Un-mot-de-passe", "selselselsel").startswith("argon2$argon2id$")
    minimum = next(v for v in base.AUTH_PASSWORD_VALIDATORS if v["NAME"].endswith("MinimumLengthValidator"))
    assert minimum["OPTIONS"]["min_length"] == 12


# --- lockout ------------------------------------------------------------------------------------


def test_lockout_after_too_many_failures_even_with_the_right_password(client, users):
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5
    for _ in range(limit):
        login(client, users.agent.email, "mauvais-mot-de-passe")

    response = login(client, users.agent.email, PASSWORD)

    assert response.status_code == 429
    html = response.content.decode()
    assert "<h1>Compte temporairement bloqué</h1>" in html
    assert '<html lang="fr">' in html
    assert not is_logged_in(client)
    assert not events("auth.login").exists()
    locked = events("auth.locked_out")
    assert locked.exists()
    assert set(locked.values_list("target_id", flat=True)) == {users.agent.email}
    assert set(locked.values_list("ip_address", flat=True)) == {"127.0.0.1"}
    assert events("auth.login_failed").count() >= limit
    assert client.get("/").status_code == 302


def test_fewer_failures_than_the_limit_do_not_lock(client, users):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, users.agent.email, "mauvais-mot-de-passe")
    response = login(client, users.agent.email, PASSWORD)
    assert response.status_code == 302
    assert is_logged_in(client)
    assert not events("auth.locked_out").exists()


def _case_variants(email: str, count: int) -> list[str]:
    """`count` spellings of one address differing only by letter case."""
    variants = [email.lower(), email.upper(), email.capitalize(), email.swapcase(), email.title()]
    variants += [email[:n].upper() + email[n:] for n in range(2, len(email))]
    unique = list(dict.fromkeys(variants))
    assert len(unique) >= count
    return unique[:count]


def test_lockout_cannot_be_dodged_by_changing_the_case_of_the_email(client, users):
    """Logins are case-insensitive, so the lockout must be too: otherwise every spelling of the address gets
    its own quota of attempts, and the right password typed with another case gets through."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, users.agent.email, "mauvais-mot-de-passe")

    response = login(client, users.agent.email.upper(), PASSWORD)

    assert response.status_code == 429
    assert not is_logged_in(client)
    assert not events("auth.login").exists()


def test_failures_under_several_spellings_of_the_email_add_up(client, users):
    for variant in _case_variants(users.agent.email, settings.AXES_FAILURE_LIMIT):
        login(client, variant, "mauvais-mot-de-passe")

    response = login(client, users.agent.email, PASSWORD)

    assert response.status_code == 429
    assert not is_logged_in(client)


def test_lockout_is_per_account(client, users):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, users.agent.email, "mauvais-mot-de-passe")
    assert login(client, users.agent.email, PASSWORD).status_code == 429
    response = login(client, users.supervisor.email, PASSWORD)
    assert response.status_code == 302
    assert response.url == "/"


# --- logout -------------------------------------------------------------------------------------


def test_logout_refuses_get(client, users):
    client.force_login(users.agent)
    response = client.get("/deconnexion/")
    assert response.status_code == 405
    assert is_logged_in(client)
    assert not events("auth.logout").exists()


def test_logout_by_post_is_audited(client, users):
    client.force_login(users.agent)

    response = client.post("/deconnexion/")

    assert response.status_code == 302
    assert response.url == "/connexion/"
    assert not is_logged_in(client)
    event = events("auth.logout").get()
    assert event.actor == users.agent
    assert event.ip_address == "127.0.0.1"
    assert client.get("/").status_code == 302


def test_every_page_offers_a_post_logout_form(client, users):
    client.force_login(users.agent)
    html = client.get("/").content.decode()
    logout_form = re.compile(
        r'<form method="post" action="/deconnexion/"[^>]*>\s*<input type="hidden" name="csrfmiddle'
    )
    assert logout_form.search(html)
    assert 'href="/deconnexion/"' not in html


# --- password change ----------------------------------------------------------------------------


def _change(client, old: str, new: str, confirm: str | None = None):
    return client.post(
        "/mot-de-passe/",
        {"old_password": old, "new_password1": new, "new_password2": new if confirm is None else confirm},
    )


def test_password_change_requires_login(client, db):
    response = client.get("/mot-de-passe/")
    assert response.status_code == 302
    assert response.url == "/connexion/?next=/mot-de-passe/"


def test_password_change_page_is_in_french(client, users):
    client.force_login(users.agent)
    html = client.get("/mot-de-passe/").content.decode()
    assert "<h1>Changer de mot de passe</h1>" in html
    assert "Au moins 12 caractères" in html
    assert "Ancien mot de passe" in html


def test_password_change_works_and_keeps_the_session(client, users):
    client.force_login(users.agent)

    response = _change(client, PASSWORD, NEW_PASSWORD)

    assert response.status_code == 302
    assert response.url == "/mot-de-passe/modifie/"
    users.agent.refresh_from_db()
    assert users.agent.check_password(NEW_PASSWORD)
    assert not users.agent.check_password(PASSWORD)
    assert client.get("/").status_code == 200  # session hash updated, still logged in
    assert "Mot de passe modifié" in client.get("/mot-de-passe/modifie/").content.decode()
    client.post("/deconnexion/")
    assert login(client, users.agent.email, PASSWORD).status_code == 200
    assert login(client, users.agent.email, NEW_PASSWORD).status_code == 302


def test_password_change_refuses_fewer_than_12_characters(client, users):
    client.force_login(users.agent)

    response = _change(client, PASSWORD, "Court-2026!")  # 11 characters

    assert response.status_code == 200
    html = response.content.decode()
    assert "Ce mot de passe est trop court. Il doit contenir au minimum 12 caractères." in html
    users.agent.refresh_from_db()
    assert users.agent.check_password(PASSWORD)


def test_password_change_refuses_a_wrong_old_password(client, users):
    client.force_login(users.agent)
    response = _change(client, "pas-le-bon", NEW_PASSWORD)
    assert response.status_code == 200
    assert "Votre ancien mot de passe est incorrect." in response.content.decode()
    users.agent.refresh_from_db()
    assert users.agent.check_password(PASSWORD)


def test_password_change_refuses_a_mismatched_confirmation(client, users):
    client.force_login(users.agent)
    response = _change(client, PASSWORD, NEW_PASSWORD, confirm=NEW_PASSWORD + "x")
    assert response.status_code == 200
    assert "Les deux mots de passe ne correspondent pas." in response.content.decode()
    users.agent.refresh_from_db()
    assert users.agent.check_password(PASSWORD)


# --- password reset -----------------------------------------------------------------------------

RESET_LINK = re.compile(r"http://testserver(/mot-de-passe/nouveau/[^/\s]+/[^/\s]+/)")


def test_password_reset_page_is_in_french(client, db):
    html = client.get("/mot-de-passe/oublie/").content.decode()
    assert "<h1>Mot de passe oublié</h1>" in html
    assert "Envoyer le lien" in html


def test_password_reset_sends_a_french_mail_and_the_link_sets_a_new_password(client, users):
    response = client.post("/mot-de-passe/oublie/", {"email": users.agent.email})

    assert response.status_code == 302
    assert response.url == "/mot-de-passe/oublie/envoye/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [users.agent.email]
    assert message.subject == "Amiable — réinitialisation de votre mot de passe"
    assert message.body.startswith("Bonjour,")
    assert "Pour choisir un nouveau mot de passe, ouvrez ce lien dans les deux heures" in message.body
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    match = RESET_LINK.search(message.body)
    assert match, message.body
    link = match.group(1)

    page = client.get(link, follow=True)
    assert page.status_code == 200
    form_url = page.redirect_chain[-1][0]
    assert form_url.endswith("/set-password/")
    assert "<h1>Choisir un nouveau mot de passe</h1>" in page.content.decode()

    short = client.post(form_url, {"new_password1": "Court-2026!", "new_password2": "Court-2026!"})
    assert short.status_code == 200
    assert "Ce mot de passe est trop court" in short.content.decode()

    done = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done.url == "/mot-de-passe/nouveau/fait/"
    assert "Mot de passe enregistré" in client.get(done.url).content.decode()

    assert login(client, users.agent.email, PASSWORD).status_code == 200  # the old one no longer works
    response = login(client, users.agent.email, NEW_PASSWORD)
    assert response.status_code == 302
    assert response.url == "/"
    assert int(client.session[SESSION_KEY]) == users.agent.pk

    # The link served once and cannot be used again.
    client.post("/deconnexion/")
    reused = client.get(link, follow=True)
    assert "Ce lien n'est plus valable" in reused.content.decode()


def test_password_reset_for_an_unknown_email_sends_nothing_but_looks_the_same(client, users):
    known = client.post("/mot-de-passe/oublie/", {"email": users.agent.email})
    mail.outbox.clear()

    unknown = client.post("/mot-de-passe/oublie/", {"email": "inconnu@test.example"})

    assert len(mail.outbox) == 0
    assert unknown.status_code == known.status_code == 302
    assert unknown.url == known.url == "/mot-de-passe/oublie/envoye/"
    html = client.get(unknown.url).content.decode()
    assert "Si un compte actif correspond à cette adresse" in html


def test_password_reset_ignores_deactivated_accounts(client, users):
    users.agent.is_active = False
    users.agent.save(update_fields=["is_active"])
    response = client.post("/mot-de-passe/oublie/", {"email": users.agent.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 0


# --- password reset: lockout and throttling -------------------------------------------------------


def _reset_through_the_link(client, email: str) -> None:
    mail.outbox.clear()
    assert client.post("/mot-de-passe/oublie/", {"email": email}).status_code == 302
    link = RESET_LINK.search(mail.outbox[0].body).group(1)
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    done = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302


def test_a_successful_password_reset_lifts_the_lockout(client, users):
    """The lock page tells the person to reset their password: once they did, they can log in at once."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, users.agent.email, "mauvais-mot-de-passe")
    assert login(client, users.agent.email, PASSWORD).status_code == 429

    _reset_through_the_link(client, users.agent.email)

    response = login(client, users.agent.email, NEW_PASSWORD)
    assert response.status_code == 302
    assert is_logged_in(client)
    lifted = events("auth.lockout_lifted").get()
    assert lifted.target_id == str(users.agent.pk)


def test_a_reset_link_not_used_leaves_the_lockout(client, users):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, users.agent.email, "mauvais-mot-de-passe")
    client.post("/mot-de-passe/oublie/", {"email": users.agent.email})  # asked, never followed
    assert login(client, users.agent.email, PASSWORD).status_code == 429


THROTTLED = "Trop de demandes de réinitialisation ont été faites depuis ce poste ou pour cette adresse."


@pytest.mark.parametrize("known", [True, False])
def test_reset_requests_are_throttled_per_address_without_telling_whether_it_exists(client, users, known):
    email = users.agent.email if known else "inconnu@test.example"
    for _ in range(settings.AMIABLE_PASSWORD_RESET_PER_ADDRESS):
        assert client.post("/mot-de-passe/oublie/", {"email": email}).status_code == 302
    mail.outbox.clear()

    refused = client.post("/mot-de-passe/oublie/", {"email": email.upper()}, REMOTE_ADDR="10.9.9.9")

    assert refused.status_code == 200
    assert THROTTLED in refused.content.decode()
    assert not mail.outbox
    assert events("auth.password_reset_throttled").get().target_id == email
    # Another address from the same client is still served.
    assert client.post("/mot-de-passe/oublie/", {"email": users.supervisor.email}).status_code == 302
    assert len(mail.outbox) == 1


def test_reset_requests_are_throttled_per_client_address(client, users, settings):
    settings.AMIABLE_PASSWORD_RESET_PER_CLIENT = 4
    for n in range(4):
        assert client.post("/mot-de-passe/oublie/", {"email": f"essai{n}@test.example"}).status_code == 302

    refused = client.post("/mot-de-passe/oublie/", {"email": users.agent.email})
    assert refused.status_code == 200
    assert THROTTLED in refused.content.decode()
    assert not mail.outbox

    elsewhere = client.post("/mot-de-passe/oublie/", {"email": users.agent.email}, REMOTE_ADDR="10.1.2.3")
    assert elsewhere.status_code == 302
    assert len(mail.outbox) == 1
