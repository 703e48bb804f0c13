"""The agency's remittance pages: the list and its filters at a constant cost, a remittance with its lines and
its four files (exact bytes, content type, no cache, access logged), and the transfer marked executed by a
supervisor or an agency admin — once, at a date neither in the future nor before the remittance."""

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from amiable.audit.models import AccessKind, AccessLogEntry, AuditEvent
from amiable.core.exceptions import ApplicationError
from amiable.remittances.execution import remittance_mark_executed
from amiable.remittances.models import Remittance, RemittanceStatus
from tests.remittances.pages_data import CONTENTS, built_remittance, written_remittance

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def today():
    return timezone.localdate()


def test_the_list_shows_each_remittance_with_its_state_and_files(client, reference, users):
    built = built_remittance(structure=reference.csr, actor=users.agent)
    bare = written_remittance(structure=reference.other_structure, weeks_ago=1, total="7.00", files=False)
    bare.emailed_at = timezone.now()
    bare.status = RemittanceStatus.EXECUTED
    bare.executed_on = today()
    bare.save()
    client.force_login(users.agent)
    response = client.get(reverse("remittances:list"))
    assert response.status_code == 200
    page = text_of(response)
    assert "2 reversements." in page
    rows = re.findall(r"<tr>.*?</tr>", page, re.S)
    [row] = [r for r in rows if built.number in r]
    assert reference.cpam.name in row and ">CSR<" in row
    assert f"du {built.period_start:%d/%m/%Y} au {built.period_end:%d/%m/%Y}" in row
    assert ">2<" in row  # two lines
    # The weekly run e-mailed the statement; the structure has no IBAN yet, so no transfer: still « Préparé ».
    assert "65,50" in row and "Préparé" in row and f"Oui, le {today():%d/%m/%Y}" in row
    for kind in ("pdf", "xlsx", "csv", "sepa"):
        assert reverse("remittances:file", args=[built.pk, kind]) in row
    [other] = [r for r in rows if bare.number in r]
    assert "Virement exécuté" in other and f"Oui, le {today():%d/%m/%Y}" in other and "En préparation" in other
    # The latest week first.
    assert page.index(built.number) < page.index(bare.number)


def test_the_filters_narrow_the_list(client, reference, users):
    csr_recent = written_remittance(structure=reference.csr, weeks_ago=0)
    csr_old = written_remittance(structure=reference.csr, weeks_ago=5)
    cdop = written_remittance(structure=reference.cdop, weeks_ago=0)
    other = written_remittance(structure=reference.other_structure, weeks_ago=0)
    cdop.status = RemittanceStatus.SENT
    cdop.save()
    client.force_login(users.agent)
    url = reverse("remittances:list")

    def numbers(**params):
        page = text_of(client.get(url, params))
        return {r.number for r in (csr_recent, csr_old, cdop, other) if r.number in page}

    assert numbers() == {csr_recent.number, csr_old.number, cdop.number, other.number}
    assert numbers(creditor=reference.other.pk) == {other.number}
    assert numbers(structure=reference.csr.pk) == {csr_recent.number, csr_old.number}
    assert numbers(status="sent") == {cdop.number}
    recent_start = csr_recent.period_start
    assert numbers(start=recent_start.isoformat()) == {csr_recent.number, cdop.number, other.number}
    assert numbers(end=(recent_start - timedelta(days=1)).isoformat()) == {csr_old.number}
    # Dates in the wrong order: the form says so and filters nothing.
    response = client.get(url, {"start": recent_start.isoformat(), "end": csr_old.period_start.isoformat()})
    assert "La première date doit précéder la seconde." in text_of(response)


def test_the_list_is_paginated_and_keeps_its_filters(client, reference, users):
    for weeks in range(27):
        written_remittance(structure=reference.csr, weeks_ago=weeks, files=False)
    written_remittance(structure=reference.cdop, weeks_ago=0, files=False)
    client.force_login(users.agent)
    first = text_of(client.get(reverse("remittances:list"), {"structure": reference.csr.pk}))
    assert "27 reversements." in first and "Page 1 sur 2" in first
    assert f'href="?structure={reference.csr.pk}&page=2" rel="next"' in first
    second = text_of(client.get(reverse("remittances:list"), {"structure": reference.csr.pk, "page": 2}))
    assert "Page 2 sur 2" in second
    assert len(re.findall(r"RV-T-\d{6}", second)) == 2


def _list_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_costs_the_same_queries_for_2_or_20_remittances(client, reference, users):
    client.force_login(users.agent)
    built_remittance(structure=reference.cdop, actor=users.agent)  # one with lines
    written_remittance(structure=reference.csr, weeks_ago=1)
    url = reverse("remittances:list")
    two = _list_queries(client, url)
    for weeks in range(2, 20):
        written_remittance(structure=reference.csr if weeks % 2 else reference.cesa, weeks_ago=weeks)
    assert Remittance.objects.count() == 20
    assert _list_queries(client, url) == two


def test_the_detail_shows_the_lines_files_and_the_form_for_a_supervisor(client, reference, users):
    remittance = built_remittance(structure=reference.cdop, actor=users.agent)
    client.force_login(users.supervisor)
    response = client.get(reverse("remittances:detail", args=[remittance.pk]))
    page = text_of(response)
    assert f"Reversement {remittance.number}" in page
    for line in remittance.lines.select_related("payment__case__debtor"):
        case = line.payment.case
        row = next(r for r in re.findall(r"<tr>.*?</tr>", page, re.S) if case.reference in r)
        assert case.debtor.display_name in row
        assert f'href="{reverse("case_detail", args=[case.pk])}"' in row
        assert f"{line.payment.collected_on:%d/%m/%Y}" in row
        assert f"{line.amount:.2f}".replace(".", ",") in row
    assert "DUPONT Marie" in page and "MARTIN Marie" in page
    for kind in ("pdf", "xlsx", "csv", "sepa"):
        assert reverse("remittances:file", args=[remittance.pk, kind]) in page
    assert remittance.statement_pdf_sha256 in page
    assert "Marquer le virement comme exécuté" in page
    assert reverse("remittances:executed", args=[remittance.pk]) in page


def test_an_agent_sees_the_remittance_but_not_the_form(client, reference, users):
    remittance = written_remittance(structure=reference.csr, weeks_ago=0)
    client.force_login(users.agent)
    page = text_of(client.get(reverse("remittances:detail", args=[remittance.pk])))
    assert remittance.number in page
    assert "Marquer le virement comme exécuté" not in page


@pytest.mark.parametrize(
    ("kind", "content_type", "filename", "inline"),
    [
        ("pdf", "application/pdf", "{number}.pdf", True),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "{number}.xlsx", False),
        ("csv", "text/csv; charset=utf-8", "{number}.csv", False),
        ("sepa", "application/xml", "{number}-virement.xml", False),
    ],
)
def test_each_file_is_handed_out_as_stored_and_its_reading_logged(
    client, reference, users, kind, content_type, filename, inline
):
    remittance = written_remittance(structure=reference.csr, weeks_ago=0)
    client.force_login(users.agent)
    response = client.get(reverse("remittances:file", args=[remittance.pk, kind]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == CONTENTS[kind]
    assert response["Content-Type"] == content_type
    assert response["Cache-Control"] == "private, no-store"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("inline" if inline else "attachment")
    assert filename.format(number=remittance.number) in disposition
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.kind, entry.creditor_pk) == (users.agent, AccessKind.DOCUMENT, reference.cpam.pk)
    assert remittance.number in entry.label


def test_a_file_not_produced_yet_or_unknown_is_not_found(client, reference, users):
    remittance = written_remittance(structure=reference.csr, weeks_ago=0, files=False)
    client.force_login(users.agent)
    assert client.get(reverse("remittances:file", args=[remittance.pk, "pdf"])).status_code == 404
    done = written_remittance(structure=reference.csr, weeks_ago=1)
    assert client.get(reverse("remittances:file", args=[done.pk, "exe"])).status_code == 404
    assert not AccessLogEntry.objects.exists()


def test_creditor_staff_cannot_reach_the_agencys_pages(client, reference, users):
    remittance = written_remittance(structure=reference.csr, weeks_ago=0)
    client.force_login(users.creditor_admin)  # the remittance's own creditor
    for url in (
        reverse("remittances:list"),
        reverse("remittances:detail", args=[remittance.pk]),
        reverse("remittances:file", args=[remittance.pk, "sepa"]),
        reverse("remittances:file", args=[remittance.pk, "pdf"]),
    ):
        assert client.get(url).status_code == 403, url
    response = client.post(reverse("remittances:executed", args=[remittance.pk]), {"executed_on": today()})
    assert response.status_code == 403
    remittance.refresh_from_db()
    assert remittance.status == RemittanceStatus.PREPARED and remittance.executed_on is None
    assert not AccessLogEntry.objects.exists()


def test_a_supervisor_marks_the_transfer_executed_once(client, reference, users):
    remittance = written_remittance(structure=reference.csr, weeks_ago=0)
    client.force_login(users.supervisor)
    url = reverse("remittances:executed", args=[remittance.pk])
    response = client.post(url, {"executed_on": today().isoformat()}, follow=True)
    assert messages_of(response) == [
        f"Virement du reversement {remittance.number} marqué exécuté le {today():%d/%m/%Y}."
    ]
    remittance.refresh_from_db()
    assert (remittance.status, remittance.executed_on, remittance.executed_by) == (
        RemittanceStatus.EXECUTED,
        today(),
        users.supervisor,
    )
    event = AuditEvent.objects.get(verb="remittance.executed")
    assert (event.actor, event.creditor_pk) == (users.supervisor, reference.cpam.pk)
    assert event.target_id == str(remittance.pk)
    assert event.before == {"status": "prepared"}
    assert event.after["executed_on"] == today().isoformat() and event.after["total"] == "10.00"
    page = text_of(response)
    assert "Marquer le virement comme exécuté" not in page and f"exécuté le {today():%d/%m/%Y}" in page

    # The same form submitted again (a double click, the back button): nothing changes, a French message says so.
    again = client.post(url, {"executed_on": (today() - timedelta(days=1)).isoformat()}, follow=True)
    assert messages_of(again) == [
        f"Le virement du reversement {remittance.number} est déjà marqué exécuté le {today():%d/%m/%Y} : "
        "rien n'a été modifié."
    ]
    remittance.refresh_from_db()
    assert remittance.executed_on == today()
    assert AuditEvent.objects.filter(verb="remittance.executed").count() == 1


def test_an_agency_admin_may_mark_it_too(reference, users):
    remittance = written_remittance(structure=reference.csr, weeks_ago=0)
    done = remittance_mark_executed(remittance=remittance, executed_on=today(), actor=users.agency_admin)
    assert done.status == RemittanceStatus.EXECUTED and done.executed_by == users.agency_admin


def test_an_agent_cannot_mark_the_transfer_executed(client, reference, users):
    remittance = written_remittance(structure=reference.csr, weeks_ago=0)
    with pytest.raises(ApplicationError) as refused:
        remittance_mark_executed(remittance=remittance, executed_on=today(), actor=users.agent)
    assert refused.value.message == (
        "Seuls les superviseurs et les administrateurs de l'agence constatent l'exécution d'un virement."
    )
    client.force_login(users.agent)
    response = client.post(
        reverse("remittances:executed", args=[remittance.pk]), {"executed_on": today().isoformat()}, follow=True
    )
    assert messages_of(response) == [refused.value.message]
    remittance.refresh_from_db()
    assert remittance.status == RemittanceStatus.PREPARED and remittance.executed_by is None
    assert not AuditEvent.objects.filter(verb="remittance.executed").exists()


def test_a_date_in_the_future_or_before_the_remittance_is_refused(client, reference, users):
    remittance = written_remittance(structure=reference.csr, weeks_ago=0)
    prepared_on = timezone.localdate(remittance.created_at)
    with pytest.raises(ApplicationError) as future:
        remittance_mark_executed(remittance=remittance, executed_on=today() + timedelta(days=1), actor=users.supervisor)
    assert future.value.message == "La date d'exécution ne peut pas être dans le futur."
    with pytest.raises(ApplicationError) as early:
        remittance_mark_executed(
            remittance=remittance, executed_on=prepared_on - timedelta(days=1), actor=users.supervisor
        )
    assert early.value.message == (
        f"La date d'exécution ne peut pas précéder la préparation du reversement, le {prepared_on:%d/%m/%Y}."
    )
    client.force_login(users.supervisor)
    response = client.post(
        reverse("remittances:executed", args=[remittance.pk]),
        {"executed_on": (today() + timedelta(days=3)).isoformat()},
        follow=True,
    )
    assert messages_of(response) == [future.value.message]
    response = client.post(reverse("remittances:executed", args=[remittance.pk]), {"executed_on": ""}, follow=True)
    assert messages_of(response) == ["Date d'exécution du virement : Ce champ est obligatoire."]
    remittance.refresh_from_db()
    assert remittance.status == RemittanceStatus.PREPARED and remittance.executed_on is None
    assert not AuditEvent.objects.filter(verb="remittance.executed").exists()


def test_a_sent_transfer_can_be_marked_executed(reference, users):
    remittance = written_remittance(structure=reference.csr, weeks_ago=0)
    Remittance.objects.filter(pk=remittance.pk).update(status=RemittanceStatus.SENT, sent_at=timezone.now())
    done = remittance_mark_executed(remittance=remittance, executed_on=today(), actor=None)
    assert done.status == RemittanceStatus.EXECUTED and done.executed_by is None
    assert AuditEvent.objects.get(verb="remittance.executed").before == {"status": "sent"}
    assert done.total == Decimal("10.00")


def test_the_navigation_links_the_pages_for_agency_staff(client, reference, users):
    client.force_login(users.agent)
    page = text_of(client.get(reverse("remittances:list")))
    nav = page[page.index('class="main-nav"') : page.index("</nav>")]
    assert f'href="{reverse("remittances:list")}" aria-current="page">Reversements' in nav
    assert f'href="{reverse("invoicing:list")}"' in nav


def test_the_detail_says_why_no_transfer_was_made(client, reference, users):
    from amiable.payments.services import payment_record
    from amiable.remittances.selectors import week_before
    from amiable.remittances.services import remittances_build
    from tests.factories import make_case

    start, _end = week_before(today())
    case = make_case(structure=reference.csr, principal="100.00")
    payment_record(case=case, amount="12.00", collected_on=start, method="cheque", actor=users.agent)
    remittances_build(actor=None)
    remittance = Remittance.objects.get()
    client.force_login(users.supervisor)
    page = text_of(client.get(reverse("remittances:detail", args=[remittance.pk])))
    assert "Virement non émis : la structure CSR n'a pas d'IBAN de reversement" in page
    reference.csr.remittance_iban, reference.csr.remittance_bic = "FR7630001007941234567890185", "BDFEFRPPCCT"
    reference.csr.save()
    remittances_build(actor=None)  # the next run makes the transfer
    assert "Virement non émis" not in text_of(client.get(reverse("remittances:detail", args=[remittance.pk])))


def test_the_list_flags_money_held_more_than_seven_days(client, reference, users):
    from amiable.payments.services import payment_record
    from tests.factories import make_case

    case = make_case(structure=reference.cdop, principal="100.00")
    payment_record(
        case=case, amount="33.00", collected_on=today() - timedelta(days=9), method="cheque", actor=users.agent
    )
    client.force_login(users.agent)
    page = text_of(client.get(reverse("remittances:list")))
    assert "Fonds non reversés depuis plus de 7 jours : 33,00" in page
    assert f"{reference.cdop.code} : 33,00" in page
