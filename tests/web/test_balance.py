"""What the pages show of the money once payments are recorded: the case list's remaining balance (and its
sort), and the home dashboards' amounts recovered and recovery rates, from aggregates (constant queries)."""

import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from amiable.core.money import NARROW_NBSP, NBSP
from amiable.payments.services import payment_record
from tests.factories import make_case

PAID_ON = date(2026, 11, 10)


def euros(text: str) -> str:
    """« 1 210,00 € » as the pages write it (narrow no-break space between thousands, no-break space before €)."""
    return text.replace(" ", NARROW_NBSP) + f"{NBSP}€"


def pct(text: str) -> str:
    return f"{text}{NBSP}%"


def cells(*values: str) -> str:
    return "".join(f'<td class="num">{value}</td>' for value in values)


def pay(case, amount: str, users):
    payment_record(case=case, amount=amount, collected_on=PAID_ON, method="transfer", actor=users.agent)
    case.refresh_from_db()
    return case


@pytest.fixture
def money(reference, users):
    """CPAM: 300,00 € claimed, 90,00 € recovered (40 of a CSR case, 50 of a CDOP case overpaid by 10,00 €);
    the other creditor: 1 000,00 € claimed, nothing recovered."""
    csr = pay(
        make_case(structure=reference.csr, reference="CSR-1", principal="100.00", assigned_agent=users.agent),
        "40.00",
        users,
    )
    cdop = pay(make_case(structure=reference.cdop, reference="CDOP-1", principal="50.00"), "60.00", users)
    cesa = make_case(structure=reference.cesa, reference="CESA-1", principal="150.00", assigned_agent=users.agent)
    other = make_case(structure=reference.other_structure, reference="AUTRE-1", principal="1000.00")
    assert (cdop.status, cdop.balance, cdop.overpaid_amount) == ("paid", 0, 10)
    return type("Money", (), {"csr": csr, "cdop": cdop, "cesa": cesa, "other": other})


def page(client, user, url: str = "/") -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


# --- the case list -------------------------------------------------------------------------------------


def test_case_list_shows_the_remaining_balance(client, users, money):
    html = page(client, users.agent, "/dossiers/?agent=")

    assert re.search(r'<th scope="col" class="num"><a href="[^"]*" class="sort-link">Reste dû</a></th>', html)
    assert "Montant réclamé</th>" not in html.split("<table")[1]  # the list's table, not the totals
    row = html[html.index("CSR-1</a>") :]
    row = row[: row.index("</tr>")]
    assert f'<td class="num">{euros("60,00")}</td>' in row
    assert euros("100,00") not in row
    paid = html[html.index("CDOP-1</a>") :]
    assert f'<td class="num">{euros("0,00")}</td>' in paid[: paid.index("</tr>")]


def test_case_list_sorts_by_the_remaining_balance(client, users, money):
    html = page(client, users.agent, "/dossiers/?sort=montant&agent=")

    assert re.findall(r">(CSR-1|CDOP-1|CESA-1|AUTRE-1)</a>", html) == ["AUTRE-1", "CESA-1", "CSR-1", "CDOP-1"]
    assert '<option value="montant" selected>Reste dû décroissant</option>' in html


# --- the home dashboards ---------------------------------------------------------------------------------


def test_supervisor_home_shows_recovered_amounts_and_rates(client, reference, users, money):
    html = page(client, users.supervisor)

    assert ">Reste dû</th>" in html and ">Recouvré</th>" in html and ">Taux de recouvrement</th>" in html
    # Per creditor: open cases and what remains due on them, what was recovered of all its cases and the rate.
    assert cells("2", euros("210,00"), euros("90,00"), pct("30,0")) in html
    assert cells("1", euros("1 000,00"), euros("0,00"), pct("0,0")) in html
    # The totals: 90,00 € of 1 300,00 €.
    assert (
        f"Montant recouvré : <strong>{euros('90,00')}</strong> sur {euros('1 300,00')} réclamés, soit un taux de "
        f"recouvrement de <strong>{pct('6,9')}</strong>."
    ) in html
    assert f">Soldé</a></th>{cells('1', euros('50,00'), euros('50,00'), euros('0,00'))}</tr>" in html
    assert f"{cells('4', euros('1 300,00'), euros('90,00'), euros('1 210,00'))}</tr></tfoot>" in html


def test_agent_home_shows_what_was_recovered_of_their_cases(client, users, money):
    html = page(client, users.agent)

    assert "Vous suivez <strong>2</strong> dossiers ouverts." in html
    assert (
        f"Sur vos dossiers : <strong>{euros('40,00')}</strong> recouvrés sur {euros('250,00')} réclamés "
        f"(taux de recouvrement : <strong>{pct('16,0')}</strong>), reste dû {euros('210,00')}."
    ) in html
    assert f"soit un taux de recouvrement de <strong>{pct('6,9')}</strong>" in html


def test_creditor_home_shows_recovered_amounts_per_structure(client, reference, users, money):
    html = page(client, users.collaborator)

    def row(structure) -> str:
        start = html.index(f'<a href="/dossiers/?structure={structure.pk}">')
        return html[start : html.index("</tr>", start)]

    assert row(reference.csr).endswith(cells("1", euros("60,00"), euros("40,00"), pct("40,0")))
    assert row(reference.cdop).endswith(cells("0", euros("0,00"), euros("50,00"), pct("100,0")))
    assert row(reference.cesa).endswith(cells("1", euros("150,00"), euros("0,00"), pct("0,0")))
    assert f"<strong>{euros('90,00')}</strong> sur {euros('300,00')} réclamés" in html
    assert f"<strong>{pct('30,0')}</strong>" in html
    assert euros("1 000,00") not in html  # never the other creditor's money


def test_structure_limited_user_sees_the_rate_of_their_structure_only(client, users, money):
    html = page(client, users.csr_only)

    assert f"<strong>{euros('40,00')}</strong> sur {euros('100,00')} réclamés" in html
    assert f"<strong>{pct('40,0')}</strong>" in html


def test_a_rate_without_any_claim_is_a_dash(client, users):
    html = page(client, users.supervisor)

    assert f"sur {euros('0,00')} réclamés, soit un taux de recouvrement de <strong>—</strong>." in html


@pytest.mark.parametrize("role", ["agent", "supervisor", "creditor_admin", "csr_only"])
@pytest.mark.parametrize("url", ["/", "/dossiers/?sort=montant"])
def test_payments_cost_no_query_on_the_dashboards_and_list(
    client, reference, users, role, url, django_assert_max_num_queries
):
    cases = [
        make_case(structure=s, principal="100.00", assigned_agent=users.agent)
        for s in (reference.csr, reference.cdop, reference.cesa, reference.other_structure)
    ]
    client.force_login(getattr(users, role))
    client.get(url)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(url).status_code == 200
        return len(context.captured_queries)

    few = queries()
    for n, case in enumerate(cases * 3):
        pay(case, f"{10 + n}.00", users)
    for n in range(12):
        pay(make_case(structure=reference.csr, principal="80.00", assigned_agent=users.agent), f"{n + 1}.00", users)

    assert queries() == few
    with django_assert_max_num_queries(22):  # the budget of the existing home and list pages
        client.get(url)
