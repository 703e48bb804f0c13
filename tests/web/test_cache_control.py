"""No cache keeps personal data: every page and every download answers `Cache-Control: no-store, private` to a
logged-in person (before, only letters and a few files did), and a download does so whoever asks."""

import re

from django.http import FileResponse, HttpResponse
from django.urls import get_resolver

from amiable.accounts.middleware import NoStoreMiddleware, cacheable
from tests.portal.test_isolation import OBJECTS, _fill, _patterns, victim  # noqa: F401  (the fixture)

PAGES = [
    "/",
    "/dossiers/",
    "/dossiers/?q=Victime",
    "/demandes/",
    "/validations/",
    "/notifications/",
    "/compte/",
    "/echeances/",
    "/lots/",
    "/etat-des-creances.xlsx",
]


def _no_store(response) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives


def test_every_page_and_download_of_a_logged_in_person_is_no_store(client, users, victim):  # noqa: F811
    client.force_login(users.supervisor)
    urls = list(PAGES)
    for route, name in _patterns(get_resolver().url_patterns):
        if name in OBJECTS:
            urls.append("/" + _fill(route, {k: victim.get(v, v) for k, v in OBJECTS[name].items()}))
    answered, failures = 0, []
    for url in urls:
        response = client.get(url)
        if response.status_code in (404, 405):
            continue
        answered += 1
        if not _no_store(response):
            failures.append(f"{url}: {response.status_code} « {response.get('Cache-Control', '')} »")
    assert not failures, "\n".join(failures)
    assert answered >= 30  # pages and files of every kind were checked, not just refusals


def test_a_creditor_users_portal_pages_are_no_store(client, users, victim):  # noqa: F811
    client.force_login(users.creditor_admin)
    for url in ["/", "/portail/reversements/", "/portail/factures/", "/portail/certificats/", "/lots/transmettre/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert _no_store(response), url


def test_a_download_is_no_store_even_without_a_session(rf):
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/x")
    request.user = AnonymousUser()
    response = NoStoreMiddleware(lambda r: FileResponse(iter([b"x"]), as_attachment=True, filename="x.pdf"))(request)
    assert _no_store(response)
    page = NoStoreMiddleware(lambda r: HttpResponse("public"))(request)
    assert "no-store" not in page.get("Cache-Control", "")


def test_a_view_may_opt_out(users, rf):
    request = rf.get("/x")
    request.user = users.agent
    opted_out = NoStoreMiddleware(cacheable(lambda r: HttpResponse("rien de personnel")))(request)
    assert "no-store" not in opted_out.get("Cache-Control", "")
    kept = NoStoreMiddleware(lambda r: HttpResponse("page"))(request)
    assert _no_store(kept)


def test_the_login_page_is_not_forced_private_for_visitors(client):
    """Anonymous pages keep what their view says (the login view forbids caching by itself)."""
    response = client.get("/connexion/")
    assert response.status_code == 200
    assert re.search(r"no-store|no-cache", response.get("Cache-Control", ""))
