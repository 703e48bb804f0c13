"""The access log (GDPR art. 28, L11): every view of a case, document, export or list of debtors' data is
logged, by agency and creditor staff alike; the purge command keeps the retention period; agency admins
read the log in the administration, filtered by person if they wish, and nobody else does."""

from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from amiable.audit.models import AccessLogEntry, AuditEvent
from amiable.audit.services import access_log_purge, access_log_record
from tests.factories import make_case

PARIS = ZoneInfo("Europe/Paris")
ADMIN_LIST = "/admin/audit/accesslogentry/"


@pytest.fixture
def case(reference):
    return make_case(structure=reference.csr, reference="LOG-0001")


def entry(user, at: datetime, label: str = "Dossier X") -> AccessLogEntry:
    return AccessLogEntry.objects.create(
        at=at, user=user, user_label=user.email, creditor_pk=user.creditor_id, kind="case_view", label=label
    )


# --- what is logged ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["collaborator", "approver", "creditor_admin", "csr_only"])
def test_creditor_case_view_is_logged(client, reference, case, users, role):
    user = getattr(users, role)
    client.force_login(user)

    response = client.get(f"/dossiers/{case.pk}/", REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 200
    log = AccessLogEntry.objects.get()
    assert log.kind == "case_view"
    assert log.case_pk == case.pk
    assert log.user == user
    assert log.user_label == user.email
    assert log.creditor_pk == reference.cpam.pk
    assert log.label == "Dossier LOG-0001"
    assert log.ip_address == "10.1.2.3"
    assert abs(log.at - timezone.now()) < timedelta(minutes=1)


def test_each_view_is_logged(client, case, users):
    client.force_login(users.collaborator)

    client.get(f"/dossiers/{case.pk}/")
    client.get(f"/dossiers/{case.pk}/")

    assert AccessLogEntry.objects.filter(case_pk=case.pk, user=users.collaborator).count() == 2


@pytest.mark.parametrize("role", ["agent", "supervisor", "agency_admin"])
def test_agency_case_view_is_logged(client, reference, case, users, role):
    user = getattr(users, role)
    client.force_login(user)

    assert client.get(f"/dossiers/{case.pk}/", REMOTE_ADDR="10.9.8.7").status_code == 200

    log = AccessLogEntry.objects.get()
    assert (log.kind, log.case_pk, log.user, log.user_label) == ("case_view", case.pk, user, user.email)
    assert log.creditor_pk == reference.cpam.pk  # whose data was read, though the agent belongs to no creditor
    assert (log.label, log.ip_address) == ("Dossier LOG-0001", "10.9.8.7")


def test_a_case_view_writes_one_row_to_the_log(client, case, users):
    client.force_login(users.agent)

    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/dossiers/{case.pk}/").status_code == 200

    writes = [q["sql"] for q in queries.captured_queries if "accesslogentry" in q["sql"].lower()]
    assert len(writes) == 1 and writes[0].upper().startswith("INSERT")


def test_agent_letter_preview_is_logged(client, reference, case, users):
    from amiable.letters.defaults import letter_templates_ensure

    letter_templates_ensure(creditor=reference.cpam)
    client.force_login(users.agent)

    response = client.get(f"/courriers/dossier/{case.pk}/apercu/first/")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    log = AccessLogEntry.objects.get()
    assert (log.user, log.kind, log.case_pk, log.creditor_pk) == (users.agent, "document", case.pk, reference.cpam.pk)
    assert log.label == "Aperçu de courrier du dossier LOG-0001 : Première lettre (CPCE R124-4)"


def test_agent_reading_the_outbox_is_logged(client, users):
    client.force_login(users.agent)

    assert client.get("/travail/messages-envoyes/").status_code == 200

    log = AccessLogEntry.objects.get()
    assert (log.user, log.kind, log.case_pk, log.creditor_pk) == (users.agent, "list_view", None, None)
    assert log.label == "Messages envoyés aux débiteurs, page 1"


def test_refused_case_view_is_not_logged(client, reference, case, users):
    cdop_case = make_case(structure=reference.cdop, reference="LOG-CDOP")
    client.force_login(users.other_admin)
    assert client.get(f"/dossiers/{case.pk}/").status_code == 404
    client.force_login(users.csr_only)
    assert client.get(f"/dossiers/{cdop_case.pk}/").status_code == 404

    assert not AccessLogEntry.objects.exists()


def test_case_list_is_not_a_case_view(client, case, users):
    client.force_login(users.collaborator)

    assert client.get("/dossiers/").status_code == 200
    assert not AccessLogEntry.objects.filter(kind="case_view").exists()


def test_service_logs_agency_and_creditor_staff_and_ignores_anonymous_users(reference, users):
    from django.contrib.auth.models import AnonymousUser

    access_log_record(user=AnonymousUser(), kind="export", label="Export")
    access_log_record(user=users.agent, kind="export", label="Export", creditor_pk=reference.other.pk)
    access_log_record(user=users.supervisor, kind="export", label="Export")
    access_log_record(user=users.approver, kind="export", label="E" * 300, ip_address="::1")

    agent, supervisor, approver = AccessLogEntry.objects.order_by("pk")
    assert (agent.user, agent.creditor_pk) == (users.agent, reference.other.pk)
    assert (supervisor.user, supervisor.creditor_pk) == (users.supervisor, None)
    assert (approver.user, approver.creditor_pk) == (users.approver, reference.cpam.pk)
    assert approver.label == "E" * 255
    assert approver.ip_address == "::1"


# --- the purge --------------------------------------------------------------------------------------------


def test_purge_command_deletes_entries_older_than_the_retention(users):
    now = timezone.now()
    old = entry(users.collaborator, now - timedelta(days=400), "ANCIEN")
    older = entry(users.approver, now - timedelta(days=800), "TRES-ANCIEN")
    recent = entry(users.collaborator, now - timedelta(days=300), "RECENT")
    today = entry(users.collaborator, now, "AUJOURD-HUI")
    audit_count = AuditEvent.objects.count()
    out = StringIO()

    call_command("purge_access_log", "--months", "12", stdout=out)

    assert out.getvalue().strip() == "2 entrée(s) de plus de 12 mois supprimée(s) du journal des accès."
    assert set(AccessLogEntry.objects.values_list("pk", flat=True)) == {recent.pk, today.pk}
    assert not AccessLogEntry.objects.filter(pk__in=[old.pk, older.pk]).exists()
    # The audit trail is another thing, never purged: it only gains the record of the purge.
    assert AuditEvent.objects.count() == audit_count + 1
    purge = AuditEvent.objects.get(verb="access_log.purged")
    assert (purge.actor_label, purge.after["months"], purge.after["deleted"]) == ("Système", 12, 2)

    out = StringIO()
    call_command("purge_access_log", "--months", "12", stdout=out)
    assert out.getvalue().strip() == "0 entrée(s) de plus de 12 mois supprimée(s) du journal des accès."
    assert AuditEvent.objects.filter(verb="access_log.purged").count() == 1  # nothing purged, nothing recorded


def test_purge_command_defaults_to_the_setting(settings, users):
    settings.AMIABLE_ACCESS_LOG_MONTHS = 6
    now = timezone.now()
    entry(users.collaborator, now - timedelta(days=200))
    kept = entry(users.collaborator, now - timedelta(days=100))
    out = StringIO()

    call_command("purge_access_log", stdout=out)

    assert out.getvalue().strip() == "1 entrée(s) de plus de 6 mois supprimée(s) du journal des accès."
    assert list(AccessLogEntry.objects.all()) == [kept]


def test_purge_limit_is_a_paris_calendar_day(users):
    # 12 months before 17/11/2026 is 17/11/2025: what happened before that Paris day goes.
    gone = entry(users.collaborator, datetime(2025, 11, 16, 23, 30, tzinfo=PARIS))
    kept_first_minute = entry(users.collaborator, datetime(2025, 11, 17, 0, 30, tzinfo=PARIS))

    assert access_log_purge(months=12, today=date(2026, 11, 17)) == 1

    assert not AccessLogEntry.objects.filter(pk=gone.pk).exists()
    assert AccessLogEntry.objects.filter(pk=kept_first_minute.pk).exists()


# --- reading the log in the administration ----------------------------------------------------------------


def test_agency_admin_reads_the_access_log(client, case, users):
    client.force_login(users.collaborator)
    client.get(f"/dossiers/{case.pk}/")
    client.force_login(users.agency_admin)

    response = client.get(ADMIN_LIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert users.collaborator.email in html
    assert "Dossier LOG-0001" in html
    log = AccessLogEntry.objects.get()
    assert client.get(f"{ADMIN_LIST}{log.pk}/change/").status_code == 200
    # Read-only: no adding, no deleting.
    assert client.get(f"{ADMIN_LIST}add/").status_code == 403
    assert client.post(f"{ADMIN_LIST}{log.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AccessLogEntry.objects.count() == 1


def test_agency_admin_filters_the_access_log_by_person(client, case, users):
    now = timezone.now()
    entry(users.collaborator, now, "VU-PAR-COLLABORATEUR")
    entry(users.agent, now, "VU-PAR-AGENT-1")
    entry(users.agent, now, "VU-PAR-AGENT-2")
    client.force_login(users.agency_admin)

    page = client.get(ADMIN_LIST).content.decode()
    assert f"?user__id__exact={users.agent.pk}" in page  # the person filter is offered

    html = client.get(ADMIN_LIST, {"user__id__exact": users.agent.pk}).content.decode()
    assert "VU-PAR-AGENT-1" in html and "VU-PAR-AGENT-2" in html
    assert "VU-PAR-COLLABORATEUR" not in html


def test_the_access_log_list_reads_no_row_by_row(client, users):
    client.force_login(users.agency_admin)
    client.get(ADMIN_LIST)  # warm-up: the session and the admin's caches
    entry(users.agent, timezone.now())

    with CaptureQueriesContext(connection) as few:
        client.get(ADMIN_LIST)
    for n in range(20):
        entry(users.collaborator if n % 2 else users.approver, timezone.now())
    with CaptureQueriesContext(connection) as many:
        client.get(ADMIN_LIST)

    assert len(many) == len(few)


@pytest.mark.parametrize("role", ["collaborator", "approver", "creditor_admin", "other_admin", "agent", "supervisor"])
def test_others_cannot_read_the_access_log(client, users, role):
    entry(users.collaborator, timezone.now(), "SECRET-LOG")
    client.force_login(getattr(users, role))

    response = client.get(ADMIN_LIST)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert "SECRET-LOG" not in response.content.decode()
