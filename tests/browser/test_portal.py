"""The creditor portal in a real browser: a collaborator logs in with a second factor, finds a case and
comments; an approver accepts a request; a creditor admin invites a colleague. No serious or critical
accessibility violation on these pages."""

import re
from urllib.parse import urlparse

import pytest
from django.core import mail
from django_otp.oath import totp

from amiable.accounts.models import User
from amiable.approvals.models import ApprovalRequest
from amiable.approvals.services import approval_request
from amiable.cases.models import Comment
from amiable.letters.services import letter_issue
from tests.accounts.test_twofactor import enrol
from tests.browser.test_shell import _axe_serious, _login
from tests.factories import PASSWORD, make_case

pytestmark = pytest.mark.django_db(transaction=True)


def _path(page) -> str:
    return urlparse(page.url).path


def test_collaborator_logs_in_with_totp_finds_a_case_and_comments(page, reference, users):
    case = make_case(structure=reference.csr, reference="PORTAIL-0001", last_name="Lemaire", assigned_agent=users.agent)
    device, _codes = enrol(users.collaborator)
    page.goto("/connexion/")
    page.get_by_label("Adresse e-mail").fill(users.collaborator.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(lambda url: urlparse(url).path == "/compte/verification/")
    assert page.get_by_role("heading", level=1).inner_text() == "Vérification en deux étapes"
    assert _axe_serious(page) == []
    # The enrolment used this 30-second step's code, which cannot serve twice: the app's next code is
    # accepted too (one step of tolerance), as when the person logs in a little later.
    device.refresh_from_db()
    next_code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift + 1)
    page.get_by_label("Code de vérification").fill(f"{next_code:06d}")
    page.get_by_role("button", name="Vérifier").click()
    page.wait_for_url(lambda url: urlparse(url).path == "/")

    page.get_by_role("link", name="Dossiers", exact=True).click()
    page.get_by_label("Rechercher (référence, nom, téléphone ou e-mail)").fill("Lemaire")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_role("link", name="PORTAIL-0001").click()
    assert _path(page) == f"/dossiers/{case.pk}/"
    page.get_by_label("Votre message").fill("Le débiteur a réglé au guichet du centre le 20/11.")
    page.get_by_role("button", name="Envoyer à l'agence").click()
    assert "Message envoyé." in page.get_by_role("status").first.inner_text()
    thread = page.locator("#commentaires").inner_text()
    assert "Le débiteur a réglé au guichet du centre le 20/11." in thread
    assert Comment.objects.get().author == users.collaborator
    assert users.agent.notifications.filter(kind="comment").exists()
    assert _axe_serious(page) == []
    assert page.console_errors == []


def test_approver_accepts_a_request_from_the_inbox(page, reference, users):
    case = make_case(structure=reference.cdop, reference="PORTAIL-0002", assigned_agent=users.agent)
    approval = approval_request(
        case=case,
        kind="court_action",
        proposal="Injonction de payer : 3 relances restées sans réponse.",
        actor=users.agent,
    )
    _login(page, users.approver.email)
    page.get_by_role("link", name="Décisions", exact=True).click()
    assert "Injonction de payer" in page.get_by_role("main").inner_text()
    assert _axe_serious(page) == []
    page.get_by_label("J'accepte").check()
    page.get_by_label("Commentaire (obligatoire en cas de refus)").fill("D'accord, montant significatif.")
    page.get_by_role("button", name="Enregistrer la décision").click()
    assert "Décision enregistrée" in page.get_by_role("status").first.inner_text()
    approval.refresh_from_db()
    assert (approval.status, approval.decided_by) == ("accepted", users.approver)
    assert page.console_errors == []


def test_creditor_admin_invites_a_colleague(page, reference, users):
    _login(page, users.creditor_admin.email)
    page.get_by_role("link", name="Équipe").click()
    page.get_by_role("link", name="Inviter un collaborateur").click()
    assert _axe_serious(page) == []
    page.get_by_label("Adresse e-mail professionnelle").fill("nouvelle.collegue@cpam-paris.example")
    page.get_by_role("textbox", name=re.compile(r"^Prénom\b")).fill("Inès")
    page.get_by_role("textbox", name=re.compile(r"^Nom\b")).fill("Garnier")
    page.get_by_label("Rôle").select_option("creditor_collaborator")
    page.get_by_role("button", name="Envoyer l'invitation").click()
    invited = User.objects.get(email="nouvelle.collegue@cpam-paris.example")
    assert (invited.creditor, invited.role, invited.has_usable_password()) == (
        reference.cpam,
        "creditor_collaborator",
        False,
    )
    assert [m.to for m in mail.outbox] == [["nouvelle.collegue@cpam-paris.example"]]
    assert "/compte/invitation/" in mail.outbox[0].body
    assert _axe_serious(page) == []
    assert ApprovalRequest.objects.count() == 0
    assert page.console_errors == []


def test_agent_case_page_and_day_have_no_serious_accessibility_violation(page, reference, users):
    case = make_case(structure=reference.csr, reference="PORTAIL-0003", assigned_agent=users.agent)
    letter_issue(case=case, kind="first", actor=users.agent)
    _login(page, users.agent.email)
    page.goto(f"/dossiers/{case.pk}/")
    page.locator("#actions-formulaires").wait_for()  # the actions card is loaded by htmx
    preview = page.get_by_role("link", name="Prévisualiser la relance")
    colors = preview.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")
    assert colors[0] != colors[1], f"the secondary button's text is invisible: {colors}"
    assert _axe_serious(page) == []
    page.get_by_role("link", name="Ma journée").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Ma journée"
    assert _axe_serious(page) == []
    assert page.console_errors == []
