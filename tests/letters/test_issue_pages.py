"""Issuing is deliberate: « Émettre la première lettre » says what will happen and issues only once confirmed;
the « Courriers à imprimer » page lists what waits for the print run, builds the day's run once, and hands out
its files to agency staff only, logged and never cached."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from amiable.audit.models import AccessLogEntry, AuditEvent
from amiable.letters.defaults import letter_templates_ensure
from amiable.letters.models import Letter, LetterKind
from amiable.letters.services import letter_issue
from tests.factories import make_case

PARIS = ZoneInfo("Europe/Paris")
MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=PARIS)
TODAY = MONDAY_10.date()


@pytest.fixture(autouse=True)
def _monday():
    with time_machine.travel(MONDAY_10, tick=False):
        yield


@pytest.fixture
def case(reference):
    letter_templates_ensure(creditor=reference.cpam)
    return make_case(structure=reference.cdop, last_name="Durand")


# --- issuing: confirmation ------------------------------------------------------------------------------


def test_the_case_card_links_to_the_confirmation_page_not_a_direct_post(client, users, case):
    client.force_login(users.agent)
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert f'href="/courriers/dossier/{case.pk}/emettre/"' in html
    assert f'action="/courriers/dossier/{case.pk}/emettre/"' not in html
    assert "Émettre la première lettre…" in html


def test_the_confirmation_page_says_numbered_kept_printed_and_issues_nothing(client, users, case):
    client.force_login(users.agent)
    response = client.get(f"/courriers/dossier/{case.pk}/emettre/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Émettre la première lettre du dossier" in html
    assert "<strong>Numérotée</strong>" in html and "L-2026-…" in html
    assert "<strong>Conservée</strong>" in html and "historique du dossier" in html
    assert "<strong>Imprimée</strong>" in html and "« Courriers à imprimer »" in html
    assert 'name="confirm" value="yes"' in html and "Confirmer l'émission" in html
    assert not Letter.objects.exists()


def test_a_post_without_confirmation_issues_nothing(client, users, case):
    client.force_login(users.agent)
    response = client.post(f"/courriers/dossier/{case.pk}/emettre/", {"kind": "first"})
    assert response.status_code == 200
    assert "Confirmez l&#x27;émission : rien n&#x27;a été émis." in response.content.decode()
    assert not Letter.objects.exists()
    assert not AuditEvent.objects.filter(verb="letter.issued").exists()


def test_the_confirmed_post_issues_the_first_letter(client, users, case):
    client.force_login(users.agent)
    response = client.post(f"/courriers/dossier/{case.pk}/emettre/", {"kind": "first", "confirm": "yes"}, follow=True)
    letter = Letter.objects.get(case=case)
    assert letter.kind == LetterKind.FIRST and letter.printed_on is None
    assert f"Première lettre {letter.number} émise et conservée au dossier" in response.content.decode()
    # A second confirmed post (a double click) does not issue a second first letter.
    client.post(f"/courriers/dossier/{case.pk}/emettre/", {"kind": "first", "confirm": "yes"})
    assert Letter.objects.filter(case=case).count() == 1


def test_after_the_first_letter_the_page_confirms_a_reminder(client, users, case):
    letter_issue(case=case, kind=LetterKind.FIRST, actor=users.agent, issued_on=date(2026, 11, 2))
    client.force_login(users.agent)
    html = client.get(f"/courriers/dossier/{case.pk}/emettre/").content.decode()
    assert "Émettre la relance du dossier" in html and 'name="kind" value="reminder"' in html


def test_creditor_staff_cannot_reach_the_confirmation(client, users, case):
    client.force_login(users.creditor_admin)
    assert client.get(f"/courriers/dossier/{case.pk}/emettre/").status_code == 403
    assert client.post(f"/courriers/dossier/{case.pk}/emettre/", {"confirm": "yes"}).status_code == 403
    assert not Letter.objects.exists()


# --- « Courriers à imprimer » ---------------------------------------------------------------------------


@pytest.fixture
def issued(reference, users):
    letter_templates_ensure(creditor=reference.cpam)
    return [
        letter_issue(
            case=make_case(structure=structure, last_name=name), kind=LetterKind.FIRST, actor=users.agent, issued_on=on
        )
        for structure, name, on in [(reference.csr, "Martin", date(2026, 11, 27)), (reference.cdop, "Durand", TODAY)]
    ]


def test_the_page_lists_the_letters_waiting_and_is_in_the_agency_navigation(
    client, users, issued, django_assert_max_num_queries
):
    client.force_login(users.agent)
    with django_assert_max_num_queries(20):
        response = client.get("/courriers/a-imprimer/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="/courriers/a-imprimer/" aria-current="page">Courriers à imprimer</a>' in html
    assert "En attente d'impression (2 courriers" in html
    for letter in issued:
        assert letter.number in html
    assert "Imprimer le lot du 30/11/2026" in html and "Aucun lot d'impression conservé." in html
    assert AccessLogEntry.objects.filter(user=users.agent, label="Courriers à imprimer").exists()


def test_building_the_day_prints_each_letter_once_even_when_asked_twice(client, users, issued):
    client.force_login(users.agent)
    response = client.post("/courriers/a-imprimer/lot/", follow=True)
    html = response.content.decode()
    assert "Lot du 30/11/2026 prêt : 2 courrier(s)" in html
    assert "Aucun courrier en attente." in html
    assert 'href="/courriers/a-imprimer/2026-11-30.pdf"' in html
    assert 'href="/courriers/a-imprimer/2026-11-30.csv"' in html
    assert set(Letter.objects.values_list("printed_on", flat=True)) == {TODAY}
    event = AuditEvent.objects.get(verb="letters.printed")
    assert event.actor_id == users.agent.pk

    again = client.post("/courriers/a-imprimer/lot/", follow=True).content.decode()
    assert "Aucun nouveau courrier à imprimer pour le 30/11/2026." in again
    assert AuditEvent.objects.filter(verb="letters.printed").count() == 1
    assert again.count('href="/courriers/a-imprimer/2026-11-30.pdf"') == 1
    assert "/courriers/a-imprimer/2026-11-30-2.pdf" not in again


def test_a_print_file_is_logged_and_never_cached(client, users, issued):
    client.force_login(users.agent)
    client.post("/courriers/a-imprimer/lot/")
    response = client.get("/courriers/a-imprimer/2026-11-30.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert AccessLogEntry.objects.filter(user=users.agent, label="Fichier d'impression 2026-11-30.pdf").exists()
    manifest = client.get("/courriers/a-imprimer/2026-11-30.csv")
    assert manifest["Cache-Control"] == "private, no-store"
    assert "attachment" in manifest["Content-Disposition"]
    assert issued[0].number in b"".join(manifest.streaming_content).decode("utf-8-sig")


@pytest.mark.parametrize(
    "path", ["2026-11-29.pdf", "2026-11-30.txt", "..%2Fletters%2Fx.pdf", "2026-11-30.pdf.pdf", "x.csv"]
)
def test_only_a_print_runs_own_files_are_handed_out(client, users, issued, path):
    client.force_login(users.agent)
    client.post("/courriers/a-imprimer/lot/")
    assert client.get(f"/courriers/a-imprimer/{path}").status_code == 404


def test_the_print_pages_are_for_agency_staff_only(client, users, issued):
    client.force_login(users.agent)
    client.post("/courriers/a-imprimer/lot/")
    for user in (users.creditor_admin, users.collaborator):
        client.force_login(user)
        assert client.get("/courriers/a-imprimer/").status_code == 403
        assert client.post("/courriers/a-imprimer/lot/").status_code == 403
        assert client.get("/courriers/a-imprimer/2026-11-30.pdf").status_code == 403
        assert "Courriers à imprimer" not in client.get("/").content.decode()
