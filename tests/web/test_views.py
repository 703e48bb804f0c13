"""The web shell: home page per role, case list and case page, tenant isolation (S2), constant query
counts, security headers and the accessibility basics of the HTML."""

import re
from datetime import date
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.html import escape

from amiable.cases.services import case_assign, case_transition, comment_add, contact_point_add
from amiable.core.money import NARROW_NBSP, NBSP
from amiable.web import urls as web_urls
from tests.factories import make_case, make_user, pay_in_full

CASE_LINK = re.compile(r'href="/dossiers/(\d+)/"')


def html_of(response) -> str:
    return response.content.decode()


def case_pks_in(html: str) -> set[int]:
    return {int(pk) for pk in CASE_LINK.findall(html)}


# --- HTML inspection ----------------------------------------------------------------------------


class PageParser(HTMLParser):
    """Collects what the accessibility checks need: start tags, labels, form controls, headings."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.label_for: list[str] = []
        self.controls: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag == "label" and attributes.get("for"):
            self.label_for.append(attributes["for"])
        if tag in {"input", "select", "textarea"}:
            self.controls.append((tag, attributes))

    def count(self, tag: str) -> int:
        return sum(1 for name, _ in self.tags if name == tag)

    def first_index(self, tag: str, **attrs) -> int | None:
        for index, (name, attributes) in enumerate(self.tags):
            if name == tag and all(attributes.get(k) == v for k, v in attrs.items()):
                return index
        return None


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)


def assert_no_inline_code(html: str) -> None:
    """What a strict CSP (no 'unsafe-inline') would block: inline scripts, styles and event handlers."""
    scripts = SCRIPT.findall(html)
    assert len(scripts) == html.lower().count("<script"), "a <script> tag is not closed"
    for attrs, body in scripts:
        assert re.search(r"\bsrc\s*=", attrs), f"<script{attrs}> has no src"
        assert body.strip() == "", f"inline script body: {body[:80]!r}"
    assert not re.search(r"<[a-z][^>]*\sstyle\s*=", html, re.IGNORECASE), "style= attribute found"
    assert not re.search(r"<style\b", html, re.IGNORECASE), "<style> element found"
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", html, re.IGNORECASE), "inline event handler found"
    assert "javascript:" not in html.lower()


def assert_every_control_labelled(html: str) -> None:
    page = parse(html)
    visible = [
        (tag, attrs)
        for tag, attrs in page.controls
        if not (tag == "input" and attrs.get("type") in {"hidden", "submit", "button", "reset"})
    ]
    assert visible, "no form control found"
    for tag, attrs in visible:
        control_id = attrs.get("id")
        assert control_id, f"<{tag} name={attrs.get('name')!r}> has no id"
        assert page.label_for.count(control_id) == 1, f"<{tag} id={control_id!r}> has no (or several) <label for>"


# --- data ---------------------------------------------------------------------------------------


@pytest.fixture
def other_collaborator(reference):
    return make_user("creditor_collaborator", creditor=reference.other)


@pytest.fixture
def cases(reference, users):
    """A CSR case worked by the agent, a CDOP case and a case of the other creditor."""
    csr = make_case(
        structure=reference.csr,
        reference="CSR-0001",
        principal="1234.56",
        interest_amount="10.00",
        last_name="Dupont",
        first_name="Marie",
        claim_date=date(2026, 9, 15),
        basis="Soins dentaires non remboursables",
        received_on=date(2026, 11, 2),
    )
    contact_point_add(
        debtor=csr.debtor, kind="phone", value="+33612345678", source="Appel entrant", actor=None, quality="doubtful"
    )
    contact_point_add(
        debtor=csr.debtor, kind="email", value="m.dupont@example.org", source="Courrier", actor=None, quality="invalid"
    )
    case_assign(case=csr, agent=users.agent, actor=users.supervisor)
    cdop = make_case(structure=reference.cdop, reference="CDOP-0001", last_name="Bernard", first_name="Luc")
    other = make_case(structure=reference.other_structure, reference="AUTRE-0001", last_name="Petit", first_name="Anne")
    return type("Cases", (), {"csr": csr, "cdop": cdop, "other": other})


# --- home page per role -------------------------------------------------------------------------


def test_anonymous_home_redirects_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == "/connexion/?next=/"


def test_agent_home_lists_only_their_open_cases(client, reference, users):
    colleague = make_user("agent")
    mine = make_case(structure=reference.csr, reference="MIEN-0001", assigned_agent=users.agent)
    make_case(structure=reference.csr, reference="COLLEGUE-0001", assigned_agent=colleague)
    make_case(structure=reference.cdop, reference="PERSONNE-0001")
    paid = make_case(structure=reference.cesa, reference="MIEN-SOLDE", assigned_agent=users.agent)
    pay_in_full(paid)
    client.force_login(users.agent)

    response = client.get("/")

    assert response.status_code == 200
    html = html_of(response)
    assert "Mes dossiers ouverts" in html
    assert "Vous suivez <strong>1</strong> dossier ouvert." in html
    assert case_pks_in(html) == {mine.pk}
    assert "MIEN-0001" in html
    assert "COLLEGUE-0001" not in html
    assert "PERSONNE-0001" not in html
    assert "MIEN-SOLDE" not in html
    assert "Pilotage de l" not in html


@pytest.mark.parametrize("role", ["supervisor", "agency_admin"])
def test_supervisor_home_shows_the_creditors_table(client, reference, users, role):
    make_case(structure=reference.csr, reference="CSR-0001", principal="100.00")
    make_case(structure=reference.cdop, reference="CDOP-0001", principal="50.00")
    make_case(structure=reference.other_structure, reference="AUTRE-0001", principal="1000.00")
    client.force_login(getattr(users, role))

    response = client.get("/")

    assert response.status_code == 200
    html = html_of(response)
    assert "<h1>Pilotage de l'agence</h1>" in html
    assert "Mes dossiers ouverts" not in html
    assert '<h2 id="creanciers-titre">Créanciers</h2>' in html
    for creditor in (reference.cpam, reference.other):
        assert f'<a href="/dossiers/?creditor={creditor.pk}">{escape(creditor.name)}</a>' in html
    # Open counts and amounts per creditor: 2 cases for 150,00 € at the CPAM, 1 for 1 000,00 € elsewhere.
    assert f'<td class="num">2</td><td class="num">150,00{NBSP}€</td>' in html
    assert f'<td class="num">1</td><td class="num">1{NARROW_NBSP}000,00{NBSP}€</td>' in html
    assert "3 dossiers ouverts sans gestionnaire." in html


@pytest.mark.parametrize("role", ["collaborator", "approver", "creditor_admin"])
def test_creditor_home_shows_their_creditor_and_structures(client, reference, users, role):
    own = make_case(structure=reference.cdop, reference="CDOP-0001")
    make_case(structure=reference.other_structure, reference="AUTRE-0001")
    client.force_login(getattr(users, role))

    response = client.get("/")

    assert response.status_code == 200
    html = html_of(response)
    assert f"<h1>{escape(reference.cpam.name)}</h1>" in html
    for structure in (reference.csr, reference.cdop, reference.cesa):
        assert f'<a href="/dossiers/?structure={structure.pk}">{escape(structure.name)}</a>' in html
    assert escape(reference.other_structure.name) not in html
    assert escape(reference.other.name) not in html
    assert case_pks_in(html) == {own.pk}
    assert "AUTRE-0001" not in html
    assert "Pilotage de l" not in html


def test_structure_limited_creditor_user_sees_only_their_structure(client, reference, users):
    csr_case = make_case(structure=reference.csr, reference="CSR-0001")
    make_case(structure=reference.cdop, reference="CDOP-0001")
    make_case(structure=reference.cesa, reference="CESA-0001")
    client.force_login(users.csr_only)

    response = client.get("/")

    assert response.status_code == 200
    html = html_of(response)
    assert f"<h1>{escape(reference.cpam.name)}</h1>" in html
    assert f'<a href="/dossiers/?structure={reference.csr.pk}">{escape(reference.csr.name)}</a>' in html
    for hidden in (reference.cdop, reference.cesa):
        assert escape(hidden.name) not in html
        assert f"?structure={hidden.pk}" not in html
    assert case_pks_in(html) == {csr_case.pk}
    assert "CDOP-0001" not in html
    assert "CESA-0001" not in html


# --- case list ----------------------------------------------------------------------------------


@pytest.fixture
def listed(reference):
    """Four cases with distinct references, debtors, structures and statuses."""
    alpha = make_case(structure=reference.csr, reference="ALPHA-001", last_name="Martin", first_name="Claire")
    beta = make_case(structure=reference.cdop, reference="BETA-002", last_name="Durand", first_name="Paul")
    gamma = make_case(structure=reference.cesa, reference="GAMMA-003", last_name="Lefèvre", first_name="Jeanne")
    pay_in_full(gamma)
    other = make_case(structure=reference.other_structure, reference="AUTRE-004", last_name="Martin", first_name="Hugo")
    return type("Listed", (), {"alpha": alpha, "beta": beta, "gamma": gamma, "other": other})


def _list(client, user, query: str = "") -> tuple[int, str]:
    client.force_login(user)
    response = client.get(f"/dossiers/{query}")
    return response.status_code, html_of(response)


def test_case_list_anonymous_redirects_to_login(client, db):
    response = client.get("/dossiers/")
    assert response.status_code == 302
    assert response.url == "/connexion/?next=/dossiers/"


def test_case_list_without_filters_shows_every_visible_case(client, users, listed):
    status, html = _list(client, users.supervisor)
    assert status == 200
    assert case_pks_in(html) == {listed.alpha.pk, listed.beta.pk, listed.gamma.pk, listed.other.pk}
    assert "4 dossiers trouvés." in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?q=ALPHA-001", {"alpha"}),
        ("?q=alpha", {"alpha"}),  # reference prefix, case-insensitive
        ("?q=BETA", {"beta"}),
        ("?q=durand", {"beta"}),  # debtor's last name
        ("?q=Jeanne", {"gamma"}),  # debtor's first name
        ("?q=martin", {"alpha", "other"}),
        ("?q=claire+martin", {"alpha"}),  # every word must match a name
        ("?q=inconnu", set()),
    ],
)
def test_case_list_search(client, users, listed, query, expected):
    status, html = _list(client, users.agent, query)
    assert status == 200
    assert case_pks_in(html) == {getattr(listed, name).pk for name in expected}
    if not expected:
        assert "Aucun dossier." in html
    else:
        count = len(expected)
        assert f"{count} dossier{'s' if count > 1 else ''} trouvé{'s' if count > 1 else ''}." in html


def test_case_list_count_of_zero_is_singular_in_french(client, users, listed):
    status, html = _list(client, users.agent, "?q=inconnu")
    assert status == 200
    assert "0 dossier trouvé." in html


def test_agent_home_count_of_zero_is_singular_in_french(client, users):
    client.force_login(users.agent)
    html = html_of(client.get("/"))
    assert "Vous suivez <strong>0</strong> dossier ouvert." in html
    assert "Aucun dossier." in html


def test_case_list_filters(client, reference, users, listed):
    client.force_login(users.agent)

    def pks(query):
        response = client.get(f"/dossiers/{query}")
        assert response.status_code == 200
        return case_pks_in(html_of(response))

    assert pks(f"?structure={reference.cdop.pk}") == {listed.beta.pk}
    assert pks("?status=paid") == {listed.gamma.pk}
    assert pks("?status=new") == {listed.alpha.pk, listed.beta.pk, listed.other.pk}
    assert pks(f"?creditor={reference.other.pk}") == {listed.other.pk}
    assert pks(f"?creditor={reference.cpam.pk}") == {listed.alpha.pk, listed.beta.pk, listed.gamma.pk}
    assert pks(f"?creditor={reference.cpam.pk}&status=new&q=martin") == {listed.alpha.pk}


def test_case_list_french_labels(client, users, listed):
    status, html = _list(client, users.agent, "?agent=")
    assert status == 200
    for label in (
        "Rechercher (référence, nom, téléphone ou e-mail)",
        "Créancier",
        "Structure",
        "Statut",
        "Trier par",
        "Gestionnaire",
    ):
        assert f">{escape(label)}</label>" in html
    for header in ("Référence", "Débiteur", "Structure", "Reste dû", "Statut", "Prochaine action", "Gestionnaire"):
        assert f'class="sort-link">{header}</a></th>' in html
    assert 'class="sort-link">Reçu le <span aria-hidden="true">▼</span></a></th>' in html
    assert '<th scope="col">Créancier</th>' in html
    assert "<h1>Dossiers</h1>" in html
    assert ">Nouveau</span>" in html
    assert ">Soldé</span>" in html
    assert "Reçus le plus récemment" in html
    assert ">02/11/2026</td>" in html
    assert f">120,50{NBSP}€</td>" in html
    assert "Mme MARTIN Claire" in html


def test_case_list_paginates_by_25(client, reference, users):
    created = [make_case(structure=reference.csr, reference=f"PAGE-{n:03d}") for n in range(30)]
    client.force_login(users.supervisor)

    first = html_of(client.get("/dossiers/"))
    second = html_of(client.get("/dossiers/?page=2"))

    assert "30 dossiers trouvés." in first
    assert len(case_pks_in(first)) == 25
    assert len(case_pks_in(second)) == 5
    assert case_pks_in(first) | case_pks_in(second) == {case.pk for case in created}
    assert "Page 1 sur 2" in first
    assert '<a href="?page=2" rel="next">Page suivante</a>' in first
    assert "Page précédente" not in first
    assert "Page 2 sur 2" in second
    assert '<a href="?page=1" rel="prev">Page précédente</a>' in second
    assert "Page suivante" not in second
    # The filters survive a page change.
    filtered = html_of(client.get("/dossiers/?status=new"))
    assert '<a href="?status=new&amp;page=2" rel="next">Page suivante</a>' in filtered


@pytest.mark.parametrize("role", ["collaborator", "creditor_admin", "csr_only"])
@pytest.mark.parametrize(
    "query",
    [
        "",
        "?creditor={other_creditor}",
        "?structure={other_structure}",
        "?creditor={other_creditor}&structure={other_structure}",
        "?q=AUTRE",
        "?q=martin&creditor={other_creditor}",
        "?status=new&structure={other_structure}",
    ],
)
def test_creditor_user_never_lists_another_creditors_cases(client, reference, users, listed, role, query):
    query = query.format(other_creditor=reference.other.pk, other_structure=reference.other_structure.pk)
    status, html = _list(client, getattr(users, role), query)
    assert status == 200
    assert "AUTRE-004" not in html
    assert listed.other.pk not in case_pks_in(html)
    assert escape(reference.other.name) not in html
    assert escape(reference.other_structure.name) not in html
    # The creditor filter is not offered to creditor staff.
    assert 'name="creditor"' not in html


def test_structure_limited_user_cannot_widen_the_list_with_filters(client, reference, users, listed):
    for query in ("", f"?structure={reference.cdop.pk}", f"?structure={reference.cesa.pk}", "?q=BETA"):
        status, html = _list(client, users.csr_only, query)
        assert status == 200
        assert "BETA-002" not in html
        assert "GAMMA-003" not in html
        assert case_pks_in(html) <= {listed.alpha.pk}
        assert escape(reference.cdop.name) not in html
        assert escape(reference.cesa.name) not in html


# --- case page ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "supervisor", "agency_admin", "collaborator", "creditor_admin", "csr_only"])
def test_case_page_shows_debtor_contacts_amounts_dates_and_timeline(client, users, cases, role):
    client.force_login(getattr(users, role))

    response = client.get(f"/dossiers/{cases.csr.pk}/")

    assert response.status_code == 200
    html = html_of(response)
    assert "<h1>Dossier CSR-0001" in html
    assert "Débiteur : Mme DUPONT Marie" in html
    # Contact points with their quality in French.
    assert ">Valide</span>" in html
    assert ">Douteux</span>" in html
    assert ">Invalide</span>" in html
    assert "06 12 34 56 78" in html
    assert 'href="tel:+33612345678"' in html
    assert "rue de la Paix, 75002 Paris" in html
    assert "Appel entrant" in html
    # Amounts: narrow no-break space between thousands, no-break space before the euro sign.
    assert f">1{NARROW_NBSP}234,56{NBSP}€</td>" in html  # principal
    assert f">10,00{NBSP}€</td>" in html  # interest
    assert f">0,00{NBSP}€</td>" in html  # other
    assert f">1{NARROW_NBSP}244,56{NBSP}€</td>" in html  # claimed balance and initial amount
    assert "1 234,56" not in html
    assert "1234.56" not in html
    # Dates dd/mm/yyyy.
    assert "<dt>Reçu le</dt><dd>02/11/2026</dd>" in html
    assert "<dt>Date de la créance</dt><dd>15/09/2026</dd>" in html
    assert "2026-11-02" not in html
    # Timeline.
    assert "<strong>Dossier reçu</strong>" in html
    assert re.search(r">\d{2}/\d{2}/\d{4} à \d{2}:\d{2}</time>", html)


@pytest.mark.parametrize("role", ["agent", "supervisor", "agency_admin"])
def test_case_page_shows_assignment_to_agency_users(client, users, cases, role):
    client.force_login(getattr(users, role))
    html = html_of(client.get(f"/dossiers/{cases.csr.pk}/"))
    assert f"<dt>Gestionnaire</dt><dd>{escape(str(users.agent))}</dd>" in html
    assert f"<strong>Dossier confié</strong> : {escape(str(users.agent))}" in html


@pytest.mark.parametrize("role", ["collaborator", "approver", "creditor_admin", "csr_only"])
def test_case_page_hides_assignment_from_creditor_users(client, users, cases, role):
    client.force_login(getattr(users, role))
    response = client.get(f"/dossiers/{cases.csr.pk}/")
    assert response.status_code == 200
    html = html_of(response)
    assert "<strong>Dossier reçu</strong>" in html
    assert "Dossier confié" not in html
    assert "<dt>Gestionnaire</dt>" not in html
    assert "Non attribué" not in html
    assert escape(str(users.agent)) not in html
    assert users.supervisor.email not in html


def test_unassigned_case_page_says_so_to_agency_users(client, users, cases):
    client.force_login(users.agent)
    html = html_of(client.get(f"/dossiers/{cases.cdop.pk}/"))
    assert "<dt>Gestionnaire</dt><dd>Non attribué</dd>" in html


def test_case_page_anonymous_redirects_to_login(client, cases):
    response = client.get(f"/dossiers/{cases.csr.pk}/")
    assert response.status_code == 302
    assert response.url == f"/connexion/?next=/dossiers/{cases.csr.pk}/"


def test_unknown_case_is_404_in_french(client, users, cases):
    client.force_login(users.agent)
    response = client.get("/dossiers/999999/")
    assert response.status_code == 404
    assert '<html lang="fr">' in html_of(response)


# --- isolation (S2) -----------------------------------------------------------------------------

CASE_PK_ROUTES = [
    pattern.name
    for pattern in web_urls.urlpatterns
    if isinstance(pattern, URLPattern) and "pk" in pattern.pattern.converters
]


def test_case_pk_routes_are_collected():
    assert "case_detail" in CASE_PK_ROUTES


@pytest.mark.parametrize("route", CASE_PK_ROUTES)
@pytest.mark.parametrize(
    ("intruder", "target"),
    [("other_admin", "csr"), ("other_admin", "cdop"), ("other_collaborator", "csr"), ("csr_only", "cdop")],
)
def test_case_urls_are_404_for_users_who_may_not_see_the_case(
    client, users, cases, other_collaborator, route, intruder, target
):
    case = getattr(cases, target)
    url = reverse(route, kwargs={"pk": case.pk})
    # Control: a CPAM user with access to the case does get the page.
    client.force_login(users.creditor_admin)
    assert client.get(url).status_code == 200
    client.logout()

    user = other_collaborator if intruder == "other_collaborator" else getattr(users, intruder)
    client.force_login(user)
    response = client.get(url)

    assert response.status_code == 404
    html = html_of(response)
    assert case.reference not in html
    assert case.debtor.last_name.upper() not in html


def test_other_creditor_user_sees_their_own_case(client, cases, other_collaborator):
    client.force_login(other_collaborator)
    assert client.get(f"/dossiers/{cases.other.pk}/").status_code == 200


# Areas of the agency alone (the client-funds bank account, the remittances' and invoices' agency pages): any
# creditor user is refused there with 403 before any object is looked up, so the answer says nothing of it.
AGENCY_ONLY_NAMESPACES = {"banking", "remittances", "invoicing", "meetings", "reporting", "closure"}
SAMPLE_URL_VALUES = {"kind": "pdf", "channel": "email", "promise_pk": 1, "payment_pk": 1, "point_pk": 1}


def _pk_routes(patterns, prefix="", namespace=""):
    """Every URL pattern of the project taking an `<int:pk>`, as (route, reversible name)."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route.startswith("admin/"):
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _pk_routes(pattern.url_patterns, route, inner)
        elif "<int:pk>" in route:
            yield route, f"{namespace}{pattern.name}" if pattern.name else None


def test_every_pk_url_of_the_project_is_404_for_another_creditor(client, users, cases):
    """Walks the whole URL configuration, so that a URL added later is covered without editing this test."""
    routes = list(_pk_routes(get_resolver().url_patterns))
    assert ("dossiers/<int:pk>/", "case_detail") in routes
    failures = []
    for route, name in routes:
        if name is None:
            failures.append(f"{route}: unnamed pattern, cannot be reversed")
            continue
        # Other parameters of the route take a sample value (e.g. a document kind).
        extra = {param: SAMPLE_URL_VALUES[param] for param in re.findall(r"<\w+:(\w+)>", route) if param != "pk"}
        url = reverse(name, kwargs={"pk": cases.csr.pk, **extra})
        client.force_login(users.other_admin)
        response = client.get(url)
        if response.status_code == 405:  # a POST-only endpoint must refuse too
            response = client.post(url)
        agency_only = name.split(":")[0] in AGENCY_ONLY_NAMESPACES and response.status_code == 403
        if response.status_code != 404 and not agency_only:
            failures.append(f"{url} ({name}): {response.status_code} for the other creditor's admin")
        if cases.csr.reference in response.content.decode(errors="replace"):
            failures.append(f"{url} ({name}): the reference leaks")
    assert not failures, "\n".join(failures)


# --- number of queries --------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def _more_cases(reference, count: int, agent, prefix: str = "VOLUME") -> None:
    structures = [reference.csr, reference.cdop, reference.cesa, reference.other_structure]
    for n in range(count):
        make_case(
            structure=structures[n % len(structures)],
            reference=f"{prefix}-{n:04d}",
            last_name=f"Nom{prefix}{n}",
            assigned_agent=agent if n % 2 else None,
        )


@pytest.mark.parametrize("role", ["agent", "supervisor", "creditor_admin", "csr_only"])
@pytest.mark.parametrize("url", ["/dossiers/", "/dossiers/?q=nom&sort=debiteur", "/"])
def test_list_and_home_query_count_does_not_grow_with_data(
    client, reference, users, role, url, django_assert_max_num_queries
):
    _more_cases(reference, 5, users.agent)
    client.force_login(getattr(users, role))
    client.get(url)  # warm-up: caches that are filled once per process
    few = _queries(client, url)

    _more_cases(reference, 35, users.agent, prefix="VOLUME-B")
    many = _queries(client, url)

    assert few == many
    with django_assert_max_num_queries(22):  # totals, awaiting counters, unread messages, notifications badge
        client.get(url)


@pytest.mark.parametrize("role", ["agent", "creditor_admin", "csr_only"])
def test_case_page_query_count_does_not_grow_with_data(
    client, reference, users, cases, role, django_assert_max_num_queries
):
    url = f"/dossiers/{cases.csr.pk}/"
    client.force_login(getattr(users, role))
    client.get(url)
    few = _queries(client, url)

    _more_cases(reference, 40, users.agent)
    for n in range(10):
        contact_point_add(
            debtor=cases.csr.debtor,
            kind="phone",
            value=f"+3361234{n:04d}",
            source="Annuaire",
            actor=users.agent,
            quality="unknown",
            case=cases.csr,
        )
    for agent in (users.supervisor, users.agent, None, users.agent):
        case_assign(case=cases.csr, agent=agent, actor=users.supervisor)
    case_transition(case=cases.csr, to="in_progress", actor=users.agent, reason="Premier appel")
    for n in range(6):
        comment_add(case=cases.csr, author=users.collaborator if n % 2 else users.agent, body=f"Message {n}")
    many = _queries(client, url)

    assert few == many
    # + thread, read marker, decisions, requests, access log; payments, refunds, receipts, plans (with instalments);
    # the keys of the timeline's personal data, read once (audit.personal), and the certificates of the case (the
    # « Fin du dossier » card); the summary's next action
    with django_assert_max_num_queries(31):
        client.get(url)


# --- security headers and inline code -----------------------------------------------------------


def _pages(users, cases):
    """(who, url, expected status) for a sample of every kind of page."""
    detail = f"/dossiers/{cases.csr.pk}/"
    return [
        (None, "/connexion/", 200),
        (None, "/", 302),
        (None, "/mot-de-passe/oublie/", 200),
        (None, "/mot-de-passe/oublie/envoye/", 200),
        (None, "/mot-de-passe/nouveau/MQ/lien-invalide/", 200),
        (None, "/page-inexistante/", 404),
        (users.agent, "/", 200),
        (users.supervisor, "/", 200),
        (users.agency_admin, "/", 200),
        (users.creditor_admin, "/", 200),
        (users.csr_only, "/", 200),
        (users.agent, "/dossiers/", 200),
        (users.agent, "/dossiers/?page=2&q=x", 200),
        (users.creditor_admin, "/dossiers/", 200),
        (users.agent, detail, 200),
        (users.collaborator, detail, 200),
        (users.other_admin, detail, 404),
        (users.agent, "/mot-de-passe/", 200),
        (users.agent, "/mot-de-passe/modifie/", 200),
        (users.agent, "/dossiers/999999/", 404),
        (users.agent, "/statistiques/", 200),
        (users.creditor_admin, "/portail/statistiques/", 200),
    ]


def _fetch(client, user, url):
    client.logout()
    if user is not None:
        client.force_login(user)
    return client.get(url)


def test_every_page_has_strict_csp_and_no_framing(client, users, cases):
    for user, url, expected in _pages(users, cases):
        response = _fetch(client, user, url)
        assert response.status_code == expected, url
        csp = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp, url
        assert "style-src 'self'" in csp, url
        assert "frame-ancestors 'none'" in csp, url
        assert "default-src 'self'" in csp, url
        assert "unsafe-inline" not in csp, url
        assert "unsafe-eval" not in csp, url
        assert response.headers.get("X-Frame-Options") == "DENY", url
        assert response.headers.get("X-Content-Type-Options") == "nosniff", url


def test_login_post_and_lockout_responses_have_csp_too(client, users, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        response = client.post("/connexion/", {"username": users.agent.email, "password": "mauvais"})
        assert "script-src 'self'" in response.headers.get("Content-Security-Policy", "")
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.status_code == 429


def test_pages_contain_no_inline_script_or_style(client, users, cases):
    for user, url, expected in _pages(users, cases):
        response = _fetch(client, user, url)
        if expected == 302:
            continue
        html = html_of(response)
        assert "<script" in html, url  # htmx is loaded from a file
        assert_no_inline_code(html)


def test_inline_code_checker_catches_inline_code():
    """The checker itself must fail on what it is meant to catch."""
    assert_no_inline_code('<script src="/static/a.js" defer></script><p>ok</p>')
    for bad in (
        "<script>alert(1)</script>",
        '<script src="/a.js">alert(1)</script>',
        '<p style="color:red">x</p>',
        "<style>p{}</style>",
        '<button onclick="x()">x</button>',
    ):
        with pytest.raises(AssertionError):
            assert_no_inline_code(bad)


# --- accessibility basics -----------------------------------------------------------------------


def test_pages_have_language_landmarks_skip_link_and_one_h1(client, users, cases):
    for user, url, expected in _pages(users, cases):
        response = _fetch(client, user, url)
        if expected == 302:
            continue
        html = html_of(response)
        page = parse(html)
        assert page.first_index("html", lang="fr") == 0, url
        skip = page.first_index("a", href="#contenu")
        main = page.first_index("main", id="contenu")
        assert skip is not None and main is not None and skip < main, url
        assert page.count("main") == 1, url
        assert page.count("header") >= 1, url
        assert page.count("footer") >= 1, url
        if user is not None and expected == 200:
            assert page.first_index("nav", **{"aria-label": "Navigation principale"}) is not None, url
        assert page.count("h1") == 1, url
        assert page.count("title") == 1, url


def test_login_form_controls_have_labels(client, db):
    html = html_of(client.get("/connexion/"))
    assert_every_control_labelled(html)
    assert '<label for="id_username">Adresse e-mail' in html
    assert '<label for="id_password">' in html


@pytest.mark.parametrize("role", ["agent", "creditor_admin", "csr_only"])
def test_case_list_form_controls_have_labels(client, users, role):
    client.force_login(getattr(users, role))
    html = html_of(client.get("/dossiers/"))
    assert_every_control_labelled(html)
    page = parse(html)
    names = {attrs.get("name") for _, attrs in page.controls}
    assert {"q", "structure", "status", "sort"} <= names
    assert ("creditor" in names) is (role == "agent")


def test_label_checker_catches_unlabelled_controls():
    assert_every_control_labelled('<label for="id_q">Q</label><input id="id_q" name="q">')
    for bad in ('<input name="q">', '<input id="id_q" name="q">', '<label for="x">X</label><select id="y"></select>'):
        with pytest.raises(AssertionError):
            assert_every_control_labelled(bad)


def test_supervisor_home_flags_money_not_remitted_after_seven_days(client, reference, users):
    from datetime import timedelta

    from django.utils import timezone

    from amiable.payments.services import payment_record

    case = make_case(structure=reference.csr, reference="CSR-0009", principal="100.00")
    payment_record(
        case=case,
        amount="42.00",
        collected_on=timezone.localdate() - timedelta(days=9),
        method="cheque",
        actor=users.agent,
    )
    client.force_login(users.supervisor)
    html = html_of(client.get("/"))
    assert "Fonds non reversés depuis plus de 7 jours : 42,00" in html
    assert f"{reference.csr.code} : 42,00{NBSP}€ en 1 paiement," in html
    client.force_login(users.agent)
    assert "Fonds non reversés" not in html_of(client.get("/"))
