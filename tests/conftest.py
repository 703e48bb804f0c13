"""Shared fixtures: the reference data and one user per role, built with the project's own services.

The reference data (`tests.factories.seed_reference`) is seeded once per test session, right after the test
database is created, and committed; each test's transaction is rolled back over it. A test that asks for
`reference` reads it back; a database test that does not ask for it finds those tables empty, as before. A
transactional test's flush wipes it: `reference` then seeds it again."""

import sys

import pytest
from django.apps import apps
from django.core.management.color import no_style
from django.db import connection

from tests.factories import REFERENCE_TABLES, make_user, reference_get, seed_reference
from tests.intake.conftest import agency_gnupg_template, gnupg_home  # noqa: F401  (shared GnuPG fixtures)


def _table_counts() -> dict[str, int]:
    return {
        model._meta.db_table: model._base_manager.count()
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, then the reference data seeded into it once and committed."""
    with django_db_blocker.unblock():
        before = _table_counts()
        seed_reference()
        after = _table_counts()
    written = {table for table, count in after.items() if count != before[table]}
    # A database kept from an earlier run (--reuse-db) already holds the data: nothing is written then.
    assert written <= set(REFERENCE_TABLES), f"seed_reference now writes to {sorted(written)}: update REFERENCE_TABLES"


def _uses_db(request) -> bool:
    names = request.fixturenames
    return request.node.get_closest_marker("django_db") is not None or any(
        name in names for name in ("db", "transactional_db", "live_server", "django_db_reset_sequences")
    )


@pytest.fixture(autouse=True)
def _reference_only_when_asked(request):
    """A database test that does not ask for `reference` starts without it: the tables the seeding filled are
    emptied (and their id counters reset) inside the test's transaction, which the rollback undoes."""
    if "reference" in request.fixturenames or not _uses_db(request):
        return
    request.getfixturevalue("db")
    statements = connection.ops.sql_flush(no_style(), list(REFERENCE_TABLES), reset_sequences=True, allow_cascade=True)
    connection.ops.execute_sql_flush(statements)


@pytest.fixture(autouse=True)
def _case_counters_after_flush(request):
    """A transactional test starts on tables emptied by the previous one. SQLite empties them row by row, in no
    set order: the case table's triggers may count those deletions into counters already emptied. The
    counters are counted again from the (empty) cases so that every test starts from true figures."""
    marker = request.node.get_closest_marker("django_db")
    transactional = {"transactional_db", "live_server"} & set(request.fixturenames) or (
        marker is not None and marker.kwargs.get("transaction")
    )
    if not transactional or connection.vendor != "sqlite":
        return
    request.getfixturevalue("transactional_db")
    from amiable.cases.models import CaseCounter

    CaseCounter.objects.filter(cases__lte=0).delete()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: the password-reset counters (per address, per client address)
    would otherwise add up across the tests of a worker, all made from 127.0.0.1."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Generated documents go to a temporary folder, never into the working copy's var/."""
    settings.MEDIA_ROOT = tmp_path / "media"


# Verbs written by the application during the current test that no app declared (audit.timeline).
_UNDECLARED_VERBS: list[str] = []


def _written_by_the_application() -> bool:
    """Whether the audit event being saved comes from the application, not from a test writing a made-up
    verb on purpose: the first caller outside Django and the audit app decides."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        writing = module.startswith("django.") or module in {__name__, "amiable.audit.models"}
        writing = writing or (module == "amiable.audit.services" and frame.f_code.co_name == "audit_record")
        if not writing:
            return module.startswith("amiable.")
        frame = frame.f_back
    return False


@pytest.fixture(autouse=True, scope="session")
def _audit_verbs_watched():
    """Every audit event the application writes while the tests run must have a declared verb, so that a
    new verb without its French label fails the test that first writes it."""
    from django.db.models.signals import post_save

    from amiable.audit.models import AuditEvent
    from amiable.audit.timeline import verb_get

    def watch(sender, instance, created, **kwargs):
        if created and verb_get(instance.verb) is None and _written_by_the_application():
            _UNDECLARED_VERBS.append(instance.verb)

    post_save.connect(watch, sender=AuditEvent, weak=False, dispatch_uid="tests-audit-verbs-declared")
    yield
    post_save.disconnect(sender=AuditEvent, dispatch_uid="tests-audit-verbs-declared")


@pytest.fixture(autouse=True)
def _audit_verbs_declared(_audit_verbs_watched):
    _UNDECLARED_VERBS.clear()
    yield
    undeclared = sorted(set(_UNDECLARED_VERBS))
    _UNDECLARED_VERBS.clear()
    if undeclared:
        pytest.fail(
            f"Audit verbs written without a declaration: {', '.join(undeclared)}. Declare them with "
            "audit.timeline.register_verb in their app's ready() (label, describe, internal).",
            pytrace=False,
        )


@pytest.fixture
def reference(db):
    """The agency, the CPAM de Paris with its three structures, a second creditor with one structure."""
    return reference_get() or seed_reference()


@pytest.fixture
def users(reference):
    """One user per role; creditor users of the CPAM, one limited to CSR, and the other creditor's admin."""
    cpam, other = reference.cpam, reference.other
    return type(
        "Users",
        (),
        {
            "agent": make_user("agent"),
            "supervisor": make_user("supervisor"),
            "agency_admin": make_user("agency_admin"),
            "collaborator": make_user("creditor_collaborator", creditor=cpam),
            "approver": make_user("creditor_approver", creditor=cpam),
            "creditor_admin": make_user("creditor_admin", creditor=cpam),
            "csr_only": make_user("creditor_collaborator", creditor=cpam, structures=[reference.csr]),
            "other_admin": make_user("creditor_admin", creditor=other),
        },
    )
