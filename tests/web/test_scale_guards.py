"""The hot pages cost the same number of SQL queries whatever the number of cases: each is counted, the data grown
tenfold, and counted again (DESIGN, Performance; the times themselves are `make bench`'s business)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from amiable.cases.models import Case, TaskKind
from amiable.cases.services import case_assign, comment_add, task_open
from amiable.creditor_requests.services import request_create
from amiable.payments.services import payment_record
from tests.factories import make_case

NAMES = [("Dupont", "Marie"), ("Lefèvre", "Zoé"), ("Martin", "Hélène"), ("Petit", "Jean")]


def _grow(reference, users, count: int, start: int) -> list[Case]:
    """`count` cases of every kind the pages show: assigned or not, across structures, with a payment, an open
    task due, a creditor message and a request."""
    today = timezone.localdate()
    made = []
    for n in range(start, start + count):
        last, first = NAMES[n % len(NAMES)]
        structure = (reference.csr, reference.cdop, reference.cesa)[n % 3]
        case = make_case(
            structure=structure,
            reference=f"GARDE-{n:05d}",
            last_name=last,
            first_name=first,
            principal=f"{100 + n}.25",
            received_on=today - timedelta(days=n),
        )
        if n % 4:
            case_assign(case=case, agent=users.agent, actor=users.supervisor)
        if n % 3 == 0:
            payment_record(case=case, amount=Decimal("10.00"), collected_on=today, method="transfer", actor=users.agent)
        task_open(case=case, kind=TaskKind.CALL, reason="Appeler", due_on=today - timedelta(days=n % 2))
        if n % 5 == 0:
            comment_add(case=case, author=users.collaborator, body="Où en est ce dossier ?")
        if n % 7 == 0:
            request_create(kind="question", body="Le débiteur a-t-il répondu ?", actor=users.collaborator, case=case)
        made.append(case)
    return made


def _pages(reference, users, case: Case) -> list[tuple[str, object, str]]:
    """(name, user, URL) of each hot page."""
    return [
        ("accueil gestionnaire", users.agent, "/"),
        ("accueil superviseur", users.supervisor, "/"),
        ("accueil administrateur", users.agency_admin, "/"),
        ("accueil créancier", users.collaborator, "/"),
        ("accueil créancier limité", users.csr_only, "/"),
        ("liste, mes dossiers", users.agent, "/dossiers/"),
        ("liste, superviseur", users.supervisor, "/dossiers/"),
        ("liste par reste dû", users.supervisor, "/dossiers/?sort=montant"),
        ("liste par statut et gestionnaire", users.supervisor, f"/dossiers/?status=ouverts&agent={users.agent.pk}"),
        ("liste créancier", users.collaborator, "/dossiers/"),
        ("recherche d'un nom", users.supervisor, "/dossiers/?q=Lefevre+Zoe"),
        ("recherche accentuée", users.supervisor, "/dossiers/?q=Lef%C3%A8vre"),
        ("recherche de référence", users.supervisor, "/dossiers/?q=GARDE-0000"),
        ("fiche dossier, agence", users.agent, f"/dossiers/{case.pk}/"),
        ("fiche dossier, créancier", users.collaborator, f"/dossiers/{case.pk}/"),
        ("ma journée", users.agent, "/travail/ma-journee/"),
        ("journée des non attribués", users.supervisor, "/travail/ma-journee/?agent=none"),
        ("demandes, agence", users.supervisor, "/demandes/"),
        ("demandes, créancier", users.collaborator, "/demandes/"),
    ]


def _count(client, user, url: str) -> int:
    client.force_login(user)
    client.get(url)  # first visit: the session and the caches settle
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.django_db
def test_hot_pages_cost_the_same_queries_with_ten_times_the_cases(client, reference, users):
    first = _grow(reference, users, 3, 0)
    pages = _pages(reference, users, first[0])
    before = {name: _count(client, user, url) for name, user, url in pages}
    _grow(reference, users, 27, 3)
    assert Case.objects.count() == 30
    after = {name: _count(client, user, url) for name, user, url in pages}
    grown = {name: (before[name], after[name]) for name in before if after[name] != before[name]}
    assert grown == {}, f"requêtes par page avant → après ×10 : {grown}"


@pytest.mark.django_db
def test_the_case_list_counts_no_further_than_its_cap(client, reference, users, monkeypatch):
    """Beyond the cap the list says « Plus de … » and stops its pages there instead of counting every case."""
    monkeypatch.setattr("amiable.core.pagination.COUNT_CAP", 10)
    monkeypatch.setattr("amiable.web.views.PAGE_SIZE", 5)
    _grow(reference, users, 12, 100)
    client.force_login(users.supervisor)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/dossiers/")
    text = response.content.decode()
    assert "Plus de 10 dossiers trouvés" in text
    assert "Page 1 sur plus de 2" in text
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "cases_case" in q["sql"]]
    assert counts and all("LIMIT 11" in sql for sql in counts), counts
    # Only ids are counted: neither the « prochaine action » subqueries (on the tasks) nor the joined rows.
    assert not any("cases_task" in sql or "cases_debtor" in sql for sql in counts), counts
