"""The dashboards of the home pages: the rollup's figures, scoped to what the person may see (a user limited
to some structures sees only theirs, summed), « calculé le … », a message before the first refresh, and a
number of queries that does not grow with the cases."""

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from amiable.reporting.dashboards import dashboard_for
from amiable.reporting.services_rollup import stats_refresh
from tests.reporting.data import NOW, more_cases, portfolio

NBSP = "\u00a0"


def _refresh(reference):
    stats_refresh(creditor=reference.cpam, actor=None)
    stats_refresh(creditor=reference.other, actor=None)


@pytest.fixture
def data(reference, users):
    with time_machine.travel(NOW, tick=False):
        built = portfolio(reference, users)
        _refresh(reference)
    return built


def _home(client, user) -> str:
    client.force_login(user)
    with time_machine.travel(NOW, tick=False):
        response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_creditors_home_shows_its_figures_and_charts(client, users, data):
    body = _home(client, users.creditor_admin)
    assert "Tableau de bord" in body
    assert "Chiffres calculés le 20/11/2026 à 09:00" in body
    assert f"680,00{NBSP}€" in body and f"210,00{NBSP}€" in body and f"30,9{NBSP}%" in body
    assert body.count('role="img"') == 5
    assert "Montant recouvré par mois" in body and "Dossiers en cours par ancienneté" in body
    # The structure chart names the CPAM's structures, never the other creditor's.
    assert ">CSR<" in body and ">CDOP<" in body
    assert f"999,00{NBSP}€" not in body
    assert 'style="' not in body.split('class="dashboard"')[1]


def test_a_user_limited_to_a_structure_sees_only_its_figures(client, users, data):
    body = _home(client, users.csr_only)
    dashboard = body.split('class="dashboard"')[1]
    assert f"300,00{NBSP}€" in dashboard and f"150,00{NBSP}€" in dashboard and f"50,0{NBSP}%" in dashboard
    assert f"680,00{NBSP}€" not in dashboard
    assert "CDOP" not in dashboard
    assert f"240,00{NBSP}€" not in dashboard  # C's balance (CDOP), in the age bands
    with time_machine.travel(NOW, tick=False):
        board = dashboard_for(user=users.csr_only)
    assert (board.cases, board.claimed, board.recovered) == (2, 300, 150)


def test_the_agencys_home_sums_every_creditor(client, users, data):
    body = _home(client, users.supervisor)
    dashboard = body.split('class="dashboard"')[1]
    assert f"1\u202f679,00{NBSP}€" in dashboard  # 680 + 999
    assert "Autre créancier — AUT" in dashboard  # several creditors: each structure says whose it is


def test_before_the_first_refresh_a_short_message(client, users, reference):
    body = _home(client, users.creditor_admin)
    assert "apparaîtront après le premier calcul quotidien" in body
    assert 'role="img"' not in body


def test_the_home_pages_cost_the_same_queries_with_more_cases(client, users, reference, data):
    def queries(user) -> int:
        client.force_login(user)
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as captured:
            assert client.get("/").status_code == 200
        return len(captured)

    people = [users.creditor_admin, users.csr_only, users.supervisor]
    before = [queries(user) for user in people]
    with time_machine.travel(NOW, tick=False):
        more_cases(reference, 20)
        _refresh(reference)
    assert [queries(user) for user in people] == before
    users.creditor_admin.allowed_structure_ids  # noqa: B018 — read once per request, by every page
    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as captured:
        dashboard_for(user=users.creditor_admin)
    assert len(captured) == 1  # the whole dashboard is one query on the rollup


def test_nobody_else_sees_figures(db, reference, data):
    from django.contrib.auth.models import AnonymousUser

    assert not dashboard_for(user=AnonymousUser()).available
