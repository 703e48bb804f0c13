"""Settings: production passes Django's deployment checks, refuses to start without a secret, reads the
database from DATABASE_URL; the environment helpers refuse bad values in French."""

import importlib
import json
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.env import env_bool, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parent.parent


def random_secret(length: int = 50) -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def run_python(*args: str, env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def base_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in list(env):
        if name.startswith(("DJANGO_", "AMIABLE_", "DATABASE_")):
            del env[name]
    env.update(overrides)
    return env


# --- production -----------------------------------------------------------------------------------


def test_prod_passes_the_deployment_checks():
    env = base_env(
        DJANGO_SETTINGS_MODULE="config.settings.prod",
        DJANGO_SECRET_KEY=random_secret(),
        AMIABLE_AUDIT_KEY=random_secret(),
        DJANGO_ALLOWED_HOSTS="amiable.example",
    )
    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no issues" in output, output


def test_prod_refuses_to_start_without_a_secret_key():
    env = base_env(DJANGO_ALLOWED_HOSTS="amiable.example")
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings.prod'; django.setup()"
    result = run_python("-c", code, env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "La variable d'environnement DJANGO_SECRET_KEY est obligatoire." in result.stderr


def test_prod_refuses_an_empty_secret_key():
    env = base_env(DJANGO_SECRET_KEY="")
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings.prod'; django.setup()"
    result = run_python("-c", code, env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY est obligatoire" in result.stderr


@pytest.fixture
def prod(monkeypatch):
    """config.settings.prod imported afresh with a secret and the default security values."""
    monkeypatch.setenv("DJANGO_SECRET_KEY", random_secret())
    monkeypatch.setenv("AMIABLE_AUDIT_KEY", random_secret())
    for name in ("DJANGO_SECURE_HSTS_SECONDS", "DJANGO_SECURE_SSL_REDIRECT"):
        monkeypatch.delenv(name, raising=False)
    sys.modules.pop("config.settings.prod", None)
    try:
        yield importlib.import_module("config.settings.prod")
    finally:
        sys.modules.pop("config.settings.prod", None)


def test_prod_is_https_only_with_secure_cookies(prod):
    assert prod.DEBUG is False
    assert os.environ["DJANGO_SECRET_KEY"] == prod.SECRET_KEY
    assert prod.SESSION_COOKIE_SECURE is True
    assert prod.CSRF_COOKIE_SECURE is True
    assert prod.SESSION_COOKIE_HTTPONLY is True
    assert prod.SECURE_SSL_REDIRECT is True
    assert prod.SECURE_HSTS_SECONDS >= 31536000
    assert prod.SECURE_HSTS_INCLUDE_SUBDOMAINS is True
    assert prod.X_FRAME_OPTIONS == "DENY"
    assert prod.SECURE_CONTENT_TYPE_NOSNIFF is True
    assert prod.SESSION_COOKIE_NAME.startswith("__Host-")
    assert prod.CSRF_COOKIE_NAME.startswith("__Host-")


def test_prod_reads_the_previous_secret_keys_of_a_rotation(monkeypatch):
    old = [random_secret(), random_secret()]
    monkeypatch.setenv("DJANGO_SECRET_KEY", random_secret())
    monkeypatch.setenv("AMIABLE_AUDIT_KEY", random_secret())
    monkeypatch.setenv("DJANGO_SECRET_KEY_FALLBACKS", ",".join(old))
    sys.modules.pop("config.settings.prod", None)
    try:
        assert old == importlib.import_module("config.settings.prod").SECRET_KEY_FALLBACKS
    finally:
        sys.modules.pop("config.settings.prod", None)


def test_prod_sends_mail_over_tls_by_default(prod):
    assert prod.EMAIL_USE_TLS is True
    assert prod.EMAIL_USE_SSL is False


def test_prod_uses_implicit_tls_alone_when_asked(monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", random_secret())
    monkeypatch.setenv("AMIABLE_AUDIT_KEY", random_secret())
    monkeypatch.setenv("DJANGO_EMAIL_USE_SSL", "true")
    monkeypatch.delenv("DJANGO_EMAIL_USE_TLS", raising=False)
    sys.modules.pop("config.settings.prod", None)
    try:
        prod = importlib.import_module("config.settings.prod")
        assert (prod.EMAIL_USE_SSL, prod.EMAIL_USE_TLS) == (True, False)
        sys.modules.pop("config.settings.prod", None)
        monkeypatch.setenv("DJANGO_EMAIL_USE_TLS", "true")
        with pytest.raises(ImproperlyConfigured, match="s'excluent"):
            importlib.import_module("config.settings.prod")
    finally:
        sys.modules.pop("config.settings.prod", None)


def test_stored_files_are_for_the_application_alone():
    from config.settings import base

    assert base.FILE_UPLOAD_PERMISSIONS == 0o600
    assert base.FILE_UPLOAD_DIRECTORY_PERMISSIONS == 0o700


def test_prod_is_french(prod):
    assert prod.TIME_ZONE == "Europe/Paris"
    assert prod.LANGUAGE_CODE == "fr-fr"
    assert prod.USE_TZ is True
    assert prod.USE_I18N is True


def test_prod_keeps_argon2_and_strict_csp(prod):
    assert prod.PASSWORD_HASHERS[0].endswith(".Argon2PasswordHasher")
    directives = prod.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]


# --- database from DATABASE_URL -----------------------------------------------------------------

PRINT_DATABASE = (
    "import json; from config.settings import base; print(json.dumps(base.DATABASES['default'], default=str))"
)


def test_database_url_postgres_selects_the_postgresql_engine():
    env = base_env(DATABASE_URL="postgres://amiable:s3cret@db.example:5433/amiable", DATABASE_CONN_MAX_AGE="60")
    result = run_python("-c", PRINT_DATABASE, env=env)
    assert result.returncode == 0, result.stderr
    database = json.loads(result.stdout)
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["NAME"] == "amiable"
    assert database["USER"] == "amiable"
    assert database["PASSWORD"] == "s3cret"
    assert database["HOST"] == "db.example"
    assert int(database["PORT"]) == 5433
    assert database["CONN_MAX_AGE"] == 60
    assert "init_command" not in database.get("OPTIONS", {})  # the SQLite pragmas stay off PostgreSQL


def test_without_database_url_sqlite_in_wal_mode_is_used(tmp_path):
    env = base_env(AMIABLE_VAR_DIR=str(tmp_path))
    result = run_python("-c", PRINT_DATABASE, env=env)
    assert result.returncode == 0, result.stderr
    database = json.loads(result.stdout)
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(tmp_path / "amiable.sqlite3")
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
    assert "foreign_keys=ON" in database["OPTIONS"]["init_command"]


# --- environment helpers ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "on", "oui", "Oui"])
def test_env_bool_true(monkeypatch, value):
    monkeypatch.setenv("AMIABLE_TEST_FLAG", value)
    assert env_bool("AMIABLE_TEST_FLAG", False) is True


@pytest.mark.parametrize("value", ["0", "false", "no", "off", "non", "NON"])
def test_env_bool_false(monkeypatch, value):
    monkeypatch.setenv("AMIABLE_TEST_FLAG", value)
    assert env_bool("AMIABLE_TEST_FLAG", True) is False


def test_env_bool_default_when_unset_or_empty(monkeypatch):
    monkeypatch.delenv("AMIABLE_TEST_FLAG", raising=False)
    assert env_bool("AMIABLE_TEST_FLAG", True) is True
    monkeypatch.setenv("AMIABLE_TEST_FLAG", "")
    assert env_bool("AMIABLE_TEST_FLAG", False) is False


def test_env_bool_refuses_anything_else_in_french(monkeypatch):
    monkeypatch.setenv("AMIABLE_TEST_FLAG", "peut-être")
    with pytest.raises(ImproperlyConfigured) as excinfo:
        env_bool("AMIABLE_TEST_FLAG", False)
    assert str(excinfo.value) == "AMIABLE_TEST_FLAG doit valoir true ou false (reçu : 'peut-être')."


def test_env_int(monkeypatch):
    monkeypatch.setenv("AMIABLE_TEST_NUMBER", "42")
    assert env_int("AMIABLE_TEST_NUMBER", 1) == 42
    monkeypatch.setenv("AMIABLE_TEST_NUMBER", "douze")
    with pytest.raises(ImproperlyConfigured, match="AMIABLE_TEST_NUMBER doit être un entier"):
        env_int("AMIABLE_TEST_NUMBER", 1)
    monkeypatch.delenv("AMIABLE_TEST_NUMBER")
    assert env_int("AMIABLE_TEST_NUMBER", 7) == 7


def test_env_str_without_default_is_required(monkeypatch):
    monkeypatch.delenv("AMIABLE_TEST_TEXT", raising=False)
    with pytest.raises(ImproperlyConfigured, match="La variable d'environnement AMIABLE_TEST_TEXT est obligatoire"):
        env_str("AMIABLE_TEST_TEXT")
    assert env_str("AMIABLE_TEST_TEXT", "défaut") == "défaut"
    monkeypatch.setenv("AMIABLE_TEST_TEXT", "valeur")
    assert env_str("AMIABLE_TEST_TEXT") == "valeur"


def test_env_list(monkeypatch):
    monkeypatch.setenv("AMIABLE_TEST_LIST", " a.example, b.example ,,")
    assert env_list("AMIABLE_TEST_LIST", []) == ["a.example", "b.example"]
    monkeypatch.setenv("AMIABLE_TEST_LIST", "  ")
    assert env_list("AMIABLE_TEST_LIST", ["défaut"]) == ["défaut"]


# --- the contact rule's development switch ------------------------------------------------------------


def test_prod_refuses_to_start_with_the_contact_policy_switched_off():
    env = base_env(DJANGO_SECRET_KEY=random_secret(), AMIABLE_AUDIT_KEY=random_secret(), AMIABLE_CONTACT_POLICY_OFF="1")
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings.prod'; django.setup()"
    result = run_python("-c", code, env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "AMIABLE_CONTACT_POLICY_OFF est réservé au développement" in result.stderr


def test_prod_keeps_the_contact_policy(prod):
    assert prod.AMIABLE_CONTACT_POLICY_OFF is False


def test_dev_reads_the_contact_policy_switch(monkeypatch):
    for value, expected in (("1", True), ("", False)):
        monkeypatch.setenv("AMIABLE_CONTACT_POLICY_OFF", value)
        sys.modules.pop("config.settings.dev", None)
        try:
            assert importlib.import_module("config.settings.dev").AMIABLE_CONTACT_POLICY_OFF is expected
        finally:
            sys.modules.pop("config.settings.dev", None)
