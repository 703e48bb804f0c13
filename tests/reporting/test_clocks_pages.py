"""The « Échéances » pages: the agency's for supervisors (all creditors, filters), the creditor's in the
portal (its own clocks, a structure-limited person's structures only); open clocks soonest first and
paginated, the shares met per month and quarter; their queries do not grow with the cases."""

import html
import re
from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from amiable.cases.models import Case, CaseStatus
from amiable.core.dates import add_months
from amiable.creditor_requests.services import request_create
from amiable.reporting.clocks import clock_shares
from tests.factories import make_case


def received_for(months_before_due: int) -> date:
    """A receipt date whose 12-month certificate clock is due `months_before_due` months from today (negative:
    already past)."""
    return add_months(timezone.localdate(), months_before_due - 12)


@pytest.fixture
def clocks(reference):
    late = make_case(structure=reference.cdop, reference="PAGE-LATE", received_on=received_for(-1))
    soon = make_case(structure=reference.csr, reference="PAGE-SOON", received_on=received_for(1))
    fine = make_case(structure=reference.csr, reference="PAGE-FINE", received_on=received_for(5))
    other = make_case(structure=reference.other_structure, reference="PAGE-OTHER", received_on=received_for(-2))
    return late, soon, fine, other


def test_the_agency_page_lists_every_creditors_open_clocks_soonest_first(client, users, clocks):
    request_create(kind="question", body="Où en est-il ?", actor=users.collaborator, case=clocks[1])
    client.force_login(users.supervisor)
    response = client.get("/echeances/")
    assert response.status_code == 200
    body = response.content.decode()
    positions = [body.index(ref) for ref in ("PAGE-OTHER", "PAGE-LATE", "PAGE-SOON", "PAGE-FINE")]
    assert positions == sorted(positions)
    assert "En retard" in body and "Échéance proche" in body and "Dans les temps" in body
    assert "5 échéances ouvertes" in body
    assert "Question du créancier" in body
    assert 'href="/echeances/" aria-current="page">Échéances' in body


def test_the_agency_page_filters_by_creditor_and_kind(client, users, reference, clocks):
    client.force_login(users.supervisor)
    body = client.get(f"/echeances/?creditor={reference.other.pk}").content.decode()
    assert "PAGE-OTHER" in body and "PAGE-LATE" not in body
    body = client.get("/echeances/?kind=documents_return").content.decode()
    assert "Aucune échéance ouverte" in body


def test_only_supervisors_and_agency_admins_see_the_agency_page(client, users):
    client.force_login(users.agent)
    assert client.get("/echeances/").status_code == 403
    client.force_login(users.collaborator)
    assert client.get("/echeances/").status_code == 403
    client.force_login(users.agency_admin)
    assert client.get("/echeances/").status_code == 200


def test_the_creditor_sees_its_own_clocks_and_a_limited_person_their_structures(client, users, clocks):
    client.force_login(users.collaborator)
    body = client.get("/portail/echeances/").content.decode()
    assert "PAGE-LATE" in body and "PAGE-SOON" in body and "PAGE-OTHER" not in body
    assert 'href="/portail/echeances/" aria-current="page">Échéances' in body
    assert "Factures du mois" not in body  # the agency's own invoicing
    client.force_login(users.csr_only)
    body = client.get("/portail/echeances/").content.decode()
    assert "PAGE-SOON" in body and "PAGE-FINE" in body and "PAGE-LATE" not in body
    client.force_login(users.supervisor)
    assert client.get("/portail/echeances/")["Location"] == "/echeances/"


def test_the_open_clocks_are_paginated(client, users, reference):
    for i in range(27):
        make_case(
            structure=reference.cdop, reference=f"PAGINE-{i:02d}", received_on=received_for(-1) + timedelta(days=i)
        )
    client.force_login(users.supervisor)
    first = client.get("/echeances/?kind=certificate").content.decode()
    assert "PAGINE-00" in first and "PAGINE-24" in first and "PAGINE-25" not in first
    assert "27 échéances ouvertes" in first and "Précédentes" not in first
    second_url = html.unescape(re.search(r'href="(\?[^"]*apres=[^"]*)" rel="next">Suivantes', first).group(1))
    assert "kind=certificate" in second_url  # the filters are kept
    second = client.get("/echeances/" + second_url).content.decode()
    assert "PAGINE-25" in second and "PAGINE-26" in second and "PAGINE-00" not in second
    assert "Suivantes" not in second
    back_url = html.unescape(re.search(r'href="(\?[^"]*avant=[^"]*)" rel="prev">Précédentes', second).group(1))
    back = client.get("/echeances/" + back_url).content.decode()
    assert "PAGINE-00" in back and "PAGINE-24" in back and "PAGINE-25" not in back
    assert back.index("PAGINE-00") < back.index("PAGINE-24")
    assert "Précédentes" not in back and "Suivantes" in back
    # A cursor that is not one shows the first page.
    assert "PAGINE-00" in client.get("/echeances/?apres=n-importe-quoi").content.decode()


def test_the_open_clocks_beyond_a_thousand_are_not_counted(users, reference):
    """The count stops at 1 000: « plus de 1 000 », never a count of every open case."""
    from amiable.reporting import clocks as clock_module

    for i in range(4):
        make_case(structure=reference.cdop, reference=f"CAP-{i}", received_on=received_for(2))
    page = clock_module.open_clock_page(user=users.supervisor, size=2)
    assert (page.count, page.count_capped, len(page.rows)) == (4, False, 2)
    cap, clock_module.COUNT_CAP = clock_module.COUNT_CAP, 3
    try:
        page = clock_module.open_clock_page(user=users.supervisor, size=2)
    finally:
        clock_module.COUNT_CAP = cap
    assert (page.count, page.count_capped) == (3, True)


def test_the_shares_met_per_month_and_quarter(reference, users, request):
    if timezone.localdate().day == 1:  # the late one needs a day past its due date within this month
        travel = time_machine.travel(timezone.now() + timedelta(days=1), tick=False)
        travel.start()
        request.addfinalizer(travel.stop)
    today = timezone.localdate()
    # Three certificates due on the 1st of this month, before today: one met, one missed, one late.
    due = today.replace(day=1)
    received = add_months(due, -12)
    met = make_case(structure=reference.cdop, received_on=received)
    missed = make_case(structure=reference.cdop, received_on=received)
    make_case(structure=reference.cdop, received_on=received)
    Case.objects.filter(pk=met.pk).update(status=CaseStatus.PAID, status_changed_at=timezone.now() - timedelta(days=40))
    Case.objects.filter(pk=missed.pk).update(
        status=CaseStatus.PAID, status_changed_at=timezone.now() + timedelta(days=1)
    )
    [certificates] = clock_shares(user=users.supervisor, kind="certificate", day=today, at=timezone.now())
    assert len(certificates.months) == 12
    this_month = certificates.months[-1]
    assert (this_month.met, this_month.due, this_month.percent) == (1, 3, 33)
    assert sum(q.due for q in certificates.quarters) == 3
    assert all(m.due == 0 for m in certificates.months[:-1])
    [limited] = clock_shares(user=users.csr_only, kind="certificate", day=today, at=timezone.now())
    assert sum(m.due for m in limited.months) == 0


def _grow(reference, n: int, offset: int) -> None:
    for i in range(n):
        structure = (reference.cdop, reference.csr, reference.other_structure)[i % 3]
        make_case(structure=structure, reference=f"VOLUME-{offset + i}", received_on=received_for(-1 - i % 3))


@pytest.mark.parametrize(("who", "url"), [("supervisor", "/echeances/"), ("csr_only", "/portail/echeances/")])
def test_the_pages_queries_do_not_grow_with_the_cases(
    client, users, reference, django_assert_max_num_queries, who, url
):
    client.force_login(getattr(users, who))
    _grow(reference, 3, 0)
    client.get(url)  # the session and the caches settle
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    assert len(few) <= 40
    _grow(reference, 30, 3)
    with django_assert_max_num_queries(len(few)):
        assert client.get(url).status_code == 200


def test_the_pages_show_the_shares_of_the_rollup_even_without_the_cases(client, users, reference):
    """The shares are read from the rollup the daily run refreshes: a row counted there shows on the pages
    though no case is left, with when it was computed; a limited person reads its structures' rows and the
    creditor's own, the creditor never the agency's invoices."""
    from amiable.reporting.models import StatsRollup

    month = timezone.localdate().replace(day=1)
    at = timezone.now() - timedelta(hours=3)

    def row(structure, dimension, count, creditor=reference.cpam):
        StatsRollup.objects.create(
            creditor=creditor,
            structure=structure,
            metric="clock",
            period=month,
            dimension=dimension,
            count=count,
            refreshed_at=at,
        )

    row(reference.cdop, "certificate:met", 3)
    row(reference.cdop, "certificate:missed", 1)
    row(reference.csr, "certificate:late", 1)
    row(None, "remittance:met", 2)
    row(None, "invoice:missed", 5)
    row(reference.other_structure, "certificate:met", 6, creditor=reference.other)
    assert not Case.objects.exists()
    client.force_login(users.supervisor)
    body = client.get("/echeances/?kind=certificate").content.decode()
    assert "Parts calculées le" in body
    assert '82 %<span class="share-detail"> (9/11)</span>' in body  # every creditor: 3 + 6 met of 5 + 6
    body = client.get(f"/echeances/?creditor={reference.cpam.pk}").content.decode()
    assert '60 %<span class="share-detail"> (3/5)</span>' in body  # certificates: 3 met of 5
    assert '100 %<span class="share-detail"> (2/2)</span>' in body  # remittances
    assert '0 %<span class="share-detail"> (0/5)</span>' in body  # invoices
    client.force_login(users.collaborator)
    body = client.get("/portail/echeances/").content.decode()
    assert "(3/5)" in body and "(2/2)" in body and "(0/5)" not in body and "(6/6)" not in body
    client.force_login(users.csr_only)
    body = client.get("/portail/echeances/").content.decode()
    assert "(0/1)" in body and "(2/2)" in body and "(3/5)" not in body


def test_without_a_rollup_the_pages_say_the_shares_are_not_computed_yet(client, users, clocks):
    client.force_login(users.supervisor)
    body = client.get("/echeances/").content.decode()
    assert "pas encore été calculées" in body and "PAGE-LATE" in body
