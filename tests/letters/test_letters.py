"""Issuing letters (L1, L2, L3, L9): the PDF as the debtor reads it, the refusals, the address block, and
the letters' pages for agency staff (preview, issue) and the PDF for the case's creditor staff."""

import hashlib
import io
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django.utils.html import escape
from pypdf import PdfReader

from amiable.audit.models import AccessLogEntry, AuditEvent
from amiable.cases.models import Action, Case, CaseEvent, Channel, ContactPoint, Debtor
from amiable.cases.services import case_transition, contact_point_add, debtor_do_not_contact_set
from amiable.compliance.legal import L111_8, fold
from amiable.core.exceptions import ApplicationError
from amiable.core.models import NumberSequence
from amiable.core.money import format_money
from amiable.creditors.models import Agency, ContractTerms
from amiable.letters.address import MAX_CHARS, MAX_LINES, address_block
from amiable.letters.defaults import letter_templates_ensure
from amiable.letters.models import Letter, LetterKind, LetterTemplate
from amiable.letters.services import letter_issue, letter_preview, letter_template_save
from tests.factories import make_case, pay_in_full

FIRST, REMINDER = LetterKind.FIRST, LetterKind.REMINDER
DAY1, DAY2 = date(2026, 11, 2), date(2026, 11, 20)


def squash(text: str) -> str:
    """Single ordinary spaces: pypdf wraps lines, amounts hold no-break spaces."""
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def pdf_text(data: bytes) -> str:
    return squash(" ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages))


def letter_text_of(letter: Letter) -> str:
    with letter.pdf.open("rb") as handle:
        return pdf_text(handle.read())


def stored_files() -> set[Path]:
    return set(Path(settings.MEDIA_ROOT).rglob("*.*")) if Path(settings.MEDIA_ROOT).exists() else set()


def counts() -> dict:
    return {
        "letters": Letter.objects.count(),
        "actions": Action.objects.count(),
        "issued": AuditEvent.objects.filter(verb="letter.issued").count(),
        "files": len(stored_files()),
    }


@pytest.fixture
def templates(reference):
    letter_templates_ensure(creditor=reference.cpam)
    letter_templates_ensure(creditor=reference.other)


@pytest.fixture
def case(reference, templates):
    """A new CPAM case of the dental centre: its name must never reach the debtor (L9)."""
    return make_case(
        structure=reference.cdop,
        basis="Frais non remboursés",
        interest_amount="3.20",
        other_amount="1000.00",
        claim_date=date(2026, 3, 14),
    )


# --- the first letter -----------------------------------------------------------------------------


def test_first_letter_pdf_carries_the_five_mentions(reference, users, case):
    letter = letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1)

    with letter.pdf.open("rb") as handle:
        data = handle.read()
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    agency, creditor = Agency.objects.get(), reference.cpam
    expected = [
        agency.name,
        *agency.address_lines,
        agency.activity_statement,
        creditor.name,
        *creditor.address_lines,
        "Fondement de la créance : Participation restant à votre charge sur des soins du 14/03/2026",
        f"Principal {format_money(case.principal_amount)}",
        f"Intérêts {format_money(case.interest_amount)}",
        f"Autres accessoires {format_money(case.other_amount)}",
        f"Nous vous demandons de régler la somme de {format_money(case.claimed_amount)}",
        agency.client_account_iban,
        case.reference,
        letter.number,
        *L111_8,
    ]
    for piece in expected:
        assert squash(piece) in text, piece
    assert squash("Autres accessoires 1 000,00 €") in text  # French amounts
    assert "1 123,70 €" in text


def test_first_letter_is_stored_once_with_its_hash_action_and_audit(reference, users, case):
    letter = letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1)

    letter.refresh_from_db()
    assert letter.number == "L-2026-000001"
    assert letter.kind == FIRST and letter.first_letter is None
    assert letter.issued_on == DAY1 and letter.issued_by == users.agent
    assert letter.amount == case.claimed_amount
    with letter.pdf.open("rb") as handle:
        assert letter.sha256 == hashlib.sha256(handle.read()).hexdigest()
    action = Action.objects.get(case=case)
    assert action.channel == Channel.LETTER and action.letter == letter and action.actor == users.agent
    event = AuditEvent.objects.get(verb="letter.issued")
    assert event.target_id == str(letter.pk)
    assert event.case_pk == case.pk and event.creditor_pk == reference.cpam.pk
    assert event.after["number"] == letter.number and event.after["sha256"] == letter.sha256


def test_first_letter_moves_a_new_case_in_progress(users, case):
    assert case.status == "new"

    letter_issue(case=case, kind=FIRST, actor=users.agent)

    case.refresh_from_db()
    assert case.status == "in_progress"
    move = AuditEvent.objects.get(verb="case.status_changed", case_pk=case.pk)
    assert move.after == {"status": "in_progress", "reason": "Première lettre L-2026-000001"}


def test_letter_numbers_follow_each_other(reference, users, templates):
    numbers = [
        letter_issue(case=make_case(structure=reference.csr), kind=FIRST, actor=None, issued_on=DAY1).number
        for _ in range(3)
    ]
    assert numbers == ["L-2026-000001", "L-2026-000002", "L-2026-000003"]


# --- reminders (L2) -------------------------------------------------------------------------------


def test_reminder_recalls_the_first_letters_reference_and_date(users, case):
    first = letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1)

    reminder = letter_issue(case=case, kind=REMINDER, actor=users.agent, issued_on=DAY2)

    assert reminder.first_letter == first
    text = letter_text_of(reminder)
    assert f"Suite à notre première lettre référence {first.number} du 02/11/2026" in text
    assert reminder.number in text
    assert (
        AuditEvent.objects.get(verb="letter.issued", target_id=str(reminder.pk)).after["first_letter"] == first.number
    )


def test_reminder_before_any_first_letter_is_refused(users, case):
    before = counts()
    with pytest.raises(ApplicationError, match="Une relance suppose la première lettre"):
        letter_issue(case=case, kind=REMINDER, actor=users.agent)
    assert counts() == before


def test_a_second_first_letter_is_refused(users, case):
    first = letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1)
    before = counts()

    with pytest.raises(ApplicationError) as exc:
        letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY2)

    assert exc.value.message == f"La première lettre du dossier {case.reference} est déjà partie ({first.number})."
    assert counts() == before


def test_a_second_letter_the_same_day_is_refused(users, case):
    letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1)
    with pytest.raises(ApplicationError, match="pas de relance le même jour"):
        letter_issue(case=case, kind=REMINDER, actor=users.agent, issued_on=DAY1)
    assert Letter.objects.count() == 1


@pytest.mark.parametrize(
    ("status", "label"), [("suspended", "suspendu"), ("recalled", "retourné au créancier"), ("paid", "soldé")]
)
def test_no_letter_for_a_case_that_is_not_being_recovered(users, case, status, label):
    if status == "paid":
        pay_in_full(case, actor=users.agent)
    else:
        case_transition(case=case, to=status, actor=users.agent, reason="Test")
    before = counts()

    for kind in (FIRST, REMINDER):
        with pytest.raises(
            ApplicationError, match=f"ne peut partir pour le dossier .* : dossier {label} : aucune action"
        ):
            letter_issue(case=case, kind=kind, actor=users.agent)

    assert counts() == before


def test_no_letter_once_over_indebtedness_is_declared_admissible(users, case):
    CaseEvent.objects.create(case=case, kind="oi_admissible", occurred_on=DAY1, recorded_by=users.agent)
    with pytest.raises(ApplicationError, match="événement bloquant \\(dossier de surendettement déclaré recevable\\)"):
        letter_issue(case=case, kind=FIRST, actor=users.agent)
    assert Letter.objects.count() == 0


def test_a_template_of_another_creditor_or_kind_is_refused(reference, users, case):
    other = LetterTemplate.objects.get(creditor=reference.other, kind=FIRST)
    reminder = LetterTemplate.objects.get(creditor=reference.cpam, kind=REMINDER)
    for template in (other, reminder):
        with pytest.raises(ApplicationError, match="n'est pas un modèle « Première lettre"):
            letter_issue(case=case, kind=FIRST, actor=users.agent, template=template)
    assert Letter.objects.count() == 0


def test_a_creditor_without_templates_gets_the_lawful_defaults(reference, users):
    case = make_case(structure=reference.csr)  # no template for the CPAM yet
    letter = letter_issue(case=case, kind=FIRST, actor=users.agent)
    assert letter.template.name == "Modèle standard"
    assert LetterTemplate.objects.filter(creditor=reference.cpam).count() == 2
    assert AuditEvent.objects.filter(verb="letter_template.saved").count() == 2


def test_without_an_active_template_of_the_kind_the_letter_is_refused(reference, users):
    case = make_case(structure=reference.csr)
    letter_issue(case=case, kind=FIRST, actor=users.agent)
    LetterTemplate.objects.filter(creditor=reference.cpam, kind=REMINDER).update(is_active=False)
    with pytest.raises(ApplicationError, match="Aucun modèle de courrier « Lettre de relance"):
        letter_issue(case=case, kind=REMINDER, actor=users.agent, issued_on=timezone.localdate() + timedelta(days=1))


def test_a_template_is_rendered_as_text_not_markup(reference, users, case):
    """Template wording cannot inject markup (e.g. a WeasyPrint attachment of a server file)."""
    LetterTemplate.objects.filter(creditor=reference.cpam, kind=FIRST).update(
        body='Madame, Monsieur,\n\n<a rel="attachment" href="file:///etc/passwd">pièce</a> {{ reference }}'
    )

    letter = letter_issue(case=case, kind=FIRST, actor=users.agent)

    text = letter_text_of(letter)
    assert f'<a rel="attachment" href="file:///etc/passwd">pièce</a> {case.reference}' in text
    with letter.pdf.open("rb") as handle:
        assert not PdfReader(handle).attachments


# --- addresses ------------------------------------------------------------------------------------


def test_no_valid_address_refuses_the_letter_and_stores_nothing(users, case):
    ContactPoint.objects.filter(debtor=case.debtor).update(quality="doubtful")
    before = counts()

    with pytest.raises(ApplicationError) as exc:
        letter_issue(case=case, kind=FIRST, actor=users.agent)

    assert exc.value.message.startswith("Aucune adresse valide")
    assert counts() == before
    assert stored_files() == set()
    assert not NumberSequence.objects.filter(name="letter", last__gt=0).exists()  # no number used up
    case.refresh_from_db()
    assert case.status == "new"


def _block(**address) -> list[str]:
    debtor = Debtor(civility="MME", last_name="Dupont", first_name="Marie")
    point = ContactPoint(kind="address", **{"postal_code": "75002", "city": "Paris", **address})
    return address_block(debtor=debtor, point=point)


def test_address_block_follows_the_postal_standard():
    lines = _block(line1="12, rue de la Paix", line2="Bât. B, esc. 3")

    assert lines == ["Mme DUPONT Marie", "BAT B ESC 3", "12 RUE DE LA PAIX", "75002 PARIS"]
    assert len(lines) <= MAX_LINES == 6
    assert all(len(line) <= MAX_CHARS == 38 for line in lines)


@pytest.mark.parametrize(
    ("postal_code", "city", "last"),
    [
        ("75002", "Paris", "75002 PARIS"),
        ("93200", "Saint-Denis", "93200 SAINT DENIS"),
        ("94240", "L'Haÿ-les-Roses", "94240 L HAY LES ROSES"),
    ],
)
def test_last_line_is_capitals_without_punctuation(postal_code, city, last):
    assert _block(line1="1 rue A", postal_code=postal_code, city=city)[-1] == last


def test_a_39_character_line_is_refused_naming_it():
    street = "12 rue de la Grande Armée prolongée bis"
    assert len(street) == 39
    with pytest.raises(ApplicationError) as exc:
        _block(line1=street)
    assert exc.value.message.startswith(
        "Ligne 2 de l'adresse trop longue pour la norme postale : « 12 RUE DE LA GRANDE ARMEE PROLONGEE BIS » "
        "(39 caractères sur 38)."
    )
    assert len(_block(line1=street[:38])[1]) == 38  # 38 is accepted


def test_an_address_without_postal_code_is_refused():
    with pytest.raises(ApplicationError, match="Adresse incomplète : code postal à 5 chiffres et ville"):
        _block(line1="1 rue A", postal_code="", city="Paris")


def test_a_too_long_address_refuses_the_letter_and_stores_nothing(users, case):
    ContactPoint.objects.filter(debtor=case.debtor).update(line1="12 rue de la Grande Armée prolongée bis")
    before = counts()
    with pytest.raises(ApplicationError, match="Ligne 2 de l'adresse trop longue"):
        letter_issue(case=case, kind=FIRST, actor=users.agent)
    assert counts() == before


def test_the_primary_valid_address_is_used(users, case):
    contact_point_add(
        debtor=case.debtor,
        kind="address",
        source="Recherche",
        actor=None,
        line1="5 avenue Foch",
        postal_code="75116",
        city="Paris",
        quality="valid",
    )
    ContactPoint.objects.filter(debtor=case.debtor, line1="5 avenue Foch").update(is_primary=True)

    letter = letter_issue(case=case, kind=FIRST, actor=users.agent)

    assert letter.address_lines == ["Mme DUPONT Marie", "5 AVENUE FOCH", "75116 PARIS"]
    assert "5 AVENUE FOCH 75116 PARIS" in letter_text_of(letter)


# --- medical secrecy (L9) -------------------------------------------------------------------------

SECRETS = ["Centre Dentaire d'Orthodontie de Paris", "dentaire", "orthodontie", "Faubourg du Temple", "CDOP"]


def test_letters_name_the_creditor_never_the_care_centre(reference, users, case):
    first = letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1)
    reminder = letter_issue(case=case, kind=REMINDER, actor=users.agent, issued_on=DAY2)

    for letter in (first, reminder):
        text = fold(letter_text_of(letter))
        block = fold(" ".join(letter.address_lines))
        assert fold(reference.cpam.name) in text
        for secret in SECRETS:
            assert fold(secret) not in text, secret
            assert fold(secret) not in block, secret


def test_a_letter_naming_the_care_centre_is_refused(reference, users, case):
    # Written straight into the database, past the template check.
    LetterTemplate.objects.filter(creditor=reference.cpam, kind=FIRST).update(
        body="Madame, Monsieur,\n\nVos soins au Centre Dentaire d'Orthodontie de Paris restent dus."
    )
    with pytest.raises(ApplicationError, match="nomme la structure « Centre Dentaire d'Orthodontie de Paris »"):
        letter_issue(case=case, kind=FIRST, actor=users.agent)
    assert Letter.objects.count() == 0


# --- pages: case card, preview, issue, download -----------------------------------------------------


def preview_url(case: Case, kind: str) -> str:
    return f"/courriers/dossier/{case.pk}/apercu/{kind}/"


def issue_url(case: Case) -> str:
    return f"/courriers/dossier/{case.pk}/emettre/"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def test_case_page_shows_the_letters_card_to_agency_staff(client, users, case):
    client.force_login(users.agent)
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert 'id="courriers"' in html and "Aucun courrier envoyé." in html
    assert f'href="{preview_url(case, "first")}"' in html
    assert f'href="{issue_url(case)}"' in html and "Émettre la première lettre…" in html

    letter = letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1)
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert letter.number in html and f'href="/courriers/{letter.pk}.pdf"' in html
    assert f'href="{preview_url(case, "reminder")}"' in html and "Émettre la relance…" in html
    assert "Prévisualiser la relance" in html and "Émettre la relance" in html


def test_case_page_shows_creditor_staff_the_letters_sent_without_the_issuing_card(client, users, case):
    client.force_login(users.collaborator)
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert '<h2 id="courriers-titre">Courriers envoyés</h2>' in html and issue_url(case) not in html


def test_closed_case_offers_no_issue(client, users, case):
    pay_in_full(case, actor=users.agent)
    client.force_login(users.agent)
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert 'id="courriers"' in html and issue_url(case) not in html
    assert "Aucun courrier ne peut partir maintenant</strong> : dossier soldé : aucune action." in html


def test_the_letters_card_asks_the_contact_rule(client, users, case):
    debtor_do_not_contact_set(debtor=case.debtor, actor=users.agent, value=True, case=case)
    client.force_login(users.agent)
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert issue_url(case) not in html
    assert "le débiteur a demandé à ne plus être contacté" in html


def test_preview_renders_the_pdf_without_storing_anything(client, users, case):
    client.force_login(users.agent)
    audit = AuditEvent.objects.count()

    response = client.get(preview_url(case, "first"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert "no-store" in response["Cache-Control"]
    text = pdf_text(response.content)
    assert "Notre référence : APERÇU" in text
    assert squash(L111_8[0]) in text
    assert Letter.objects.count() == 0 and Action.objects.count() == 0
    assert AuditEvent.objects.count() == audit
    assert not NumberSequence.objects.filter(name="letter").exists()
    assert stored_files() == set()
    case.refresh_from_db()
    assert case.status == "new"


def test_preview_of_a_reminder_recalls_the_first_letter(client, users, case):
    first = letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1)
    client.force_login(users.agent)
    response = client.get(preview_url(case, "reminder"))
    assert response.status_code == 200
    assert f"première lettre référence {first.number} du 02/11/2026" in pdf_text(response.content)
    assert Letter.objects.count() == 1


def test_preview_refused_by_the_rules_goes_back_with_the_reason(client, users, case):
    client.force_login(users.agent)
    response = client.get(preview_url(case, "reminder"), follow=True)
    assert response.redirect_chain[-1][0] == f"/dossiers/{case.pk}/#courriers"
    message = "Une relance suppose la première lettre (CPCE R124-4) : envoyez-la d'abord."
    assert escape(message) in response.content.decode()


def test_preview_of_an_unknown_kind_is_404(client, users, case):
    client.force_login(users.agent)
    assert client.get(preview_url(case, "sommation")).status_code == 404


def test_issue_creates_the_letter_and_says_so(client, users, case):
    client.force_login(users.agent)

    response = client.post(issue_url(case), {"kind": "first", "confirm": "yes"})

    letter = Letter.objects.get(case=case)
    assert response.status_code == 302 and response["Location"] == f"/dossiers/{case.pk}/#courriers"
    assert messages_of(response) == [
        f"Première lettre {letter.number} émise et conservée au dossier : elle partira avec le prochain lot de "
        "« Courriers à imprimer »."
    ]
    assert letter.issued_by == users.agent


def test_issue_refused_shows_the_french_reason_and_stores_nothing(client, users, case):
    client.force_login(users.agent)
    client.post(issue_url(case), {"kind": "first", "confirm": "yes"}, follow=True)  # the success message is shown
    before = counts()

    response = client.post(issue_url(case), {"kind": "first", "confirm": "yes"})  # a double click

    assert response.status_code == 302
    assert messages_of(response) == [f"La première lettre du dossier {case.reference} est déjà partie (L-2026-000001)."]
    assert counts() == before
    client.get(f"/dossiers/{case.pk}/")  # shows the message
    response = client.post(issue_url(case), {"kind": "sommation", "confirm": "yes"})
    assert messages_of(response) == ["Type de courrier inconnu : « sommation »."]


def test_issue_by_get_only_asks_for_confirmation(client, users, case):
    client.force_login(users.agent)
    response = client.get(issue_url(case))
    assert response.status_code == 200 and "Confirmer l'émission" in response.content.decode()
    assert Letter.objects.count() == 0


@pytest.mark.parametrize("role", ["collaborator", "approver", "creditor_admin"])
def test_creditor_staff_may_neither_preview_nor_issue(client, users, case, role):
    client.force_login(getattr(users, role))
    assert client.get(preview_url(case, "first")).status_code == 403
    assert client.post(issue_url(case), {"kind": "first", "confirm": "yes"}).status_code == 403
    assert Letter.objects.count() == 0


@pytest.mark.parametrize("role", ["collaborator", "creditor_admin", "other_admin"])
def test_the_services_themselves_refuse_anyone_but_agency_staff_and_write_nothing(users, case, role):
    """Not only the pages: a call to the services (a command, the coming API) is refused the same way."""
    before = counts()

    for service in (letter_issue, letter_preview):
        with pytest.raises(ApplicationError) as exc:
            service(case=case, kind=FIRST, actor=getattr(users, role))
        assert exc.value.message == "Seule l'agence émet les courriers aux débiteurs."

    assert counts() == before
    assert not NumberSequence.objects.filter(name="letter").exists()


def test_the_system_issues_and_previews_letters(case):
    """`actor=None` is a scenario: allowed."""
    assert letter_preview(case=case, kind=FIRST, actor=None).startswith(b"%PDF")
    assert letter_issue(case=case, kind=FIRST, actor=None, issued_on=DAY1).issued_by is None


@pytest.mark.parametrize("role", ["other_admin", "csr_only"])
def test_letters_pages_are_404_for_who_may_not_see_the_case(client, users, case, role):
    letter = letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1)
    client.force_login(getattr(users, role))
    for response in (
        client.get(preview_url(case, "reminder")),
        client.post(issue_url(case), {"kind": "reminder", "confirm": "yes"}),
        client.get(f"/courriers/{letter.pk}.pdf"),
    ):
        assert response.status_code == 404
        assert case.reference not in response.content.decode(errors="replace")
    assert Letter.objects.count() == 1


def test_anonymous_is_sent_to_login(client, users, case):
    letter = letter_issue(case=case, kind=FIRST, actor=users.agent)
    for url in (preview_url(case, "first"), f"/courriers/{letter.pk}.pdf"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/connexion/")


@pytest.mark.parametrize("role", ["agent", "supervisor", "collaborator", "creditor_admin"])
def test_the_pdf_opens_for_agency_staff_and_the_cases_creditor_staff(client, users, case, role):
    letter = letter_issue(case=case, kind=FIRST, actor=users.agent)
    user = getattr(users, role)
    client.force_login(user)

    response = client.get(f"/courriers/{letter.pk}.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{letter.number}.pdf"'
    data = b"".join(response.streaming_content)
    assert hashlib.sha256(data).hexdigest() == letter.sha256
    # Every read of the letter is logged, the agency's as well as the creditor's (L11).
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.kind, entry.case_pk, entry.label) == (
        user,
        "document",
        case.pk,
        f"Courrier {letter.number}",
    )
    assert entry.creditor_pk == case.creditor_id


def test_a_structure_limited_user_opens_the_letters_of_their_structure(client, reference, users, templates):
    letter = letter_issue(case=make_case(structure=reference.csr), kind=FIRST, actor=users.agent)
    client.force_login(users.csr_only)
    assert client.get(f"/courriers/{letter.pk}.pdf").status_code == 200


def test_unknown_letter_is_404(client, users, case):
    client.force_login(users.agent)
    assert client.get("/courriers/999999.pdf").status_code == 404


def test_issue_from_the_page_audits_the_agent(client, users, case):
    client.force_login(users.supervisor)
    client.post(issue_url(case), {"kind": "first", "confirm": "yes"})
    event = AuditEvent.objects.get(verb="letter.issued")
    assert event.actor == users.supervisor


def test_preview_uses_todays_date(client, users, case):
    client.force_login(users.agent)
    text = pdf_text(client.get(preview_url(case, "first")).content)
    assert f"Paris, le {timezone.localdate():%d/%m/%Y}" in text


def test_template_saved_through_the_service_is_used(reference, users, case):
    letter_template_save(
        creditor=reference.cpam,
        kind=FIRST,
        name="Modèle standard",
        body="Madame, Monsieur,\n\nVotre dossier {{ reference }} auprès de {{ creancier }} reste ouvert.",
        actor=users.agency_admin,
    )
    letter = letter_issue(case=case, kind=FIRST, actor=users.agent)
    assert f"Votre dossier {case.reference} auprès de {reference.cpam.name} reste ouvert." in letter_text_of(letter)


# --- the one contact rule holds for letters issued by hand (L8) ---------------------------------------


def test_no_letter_for_a_debtor_who_asked_not_to_be_contacted(users, case):
    debtor_do_not_contact_set(debtor=case.debtor, actor=users.agent, value=True, case=case)
    case.refresh_from_db()
    before = counts()

    with pytest.raises(ApplicationError) as error:
        letter_issue(case=case, kind=FIRST, actor=users.agent)

    assert error.value.message == (
        f"Aucun courrier ne peut partir pour le dossier {case.reference} : "
        "le débiteur a demandé à ne plus être contacté."
    )
    assert counts() == before


def test_no_letter_beyond_the_letter_cap_of_the_contract(reference, users, case):
    ContractTerms.objects.filter(creditor=reference.cpam).update(max_letters_per_30_days=1)
    letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1)
    before = counts()

    with pytest.raises(ApplicationError, match="plafond atteint : 1 courrier\\(s\\) sur 30 jours \\(maximum 1\\)"):
        letter_issue(case=case, kind=REMINDER, actor=users.agent, issued_on=DAY1 + timedelta(days=1))

    assert counts() == before


def test_the_letter_page_refuses_a_do_not_contact_debtor_and_stores_nothing(client, users, case):
    debtor_do_not_contact_set(debtor=case.debtor, actor=users.agent, value=True, case=case)
    client.force_login(users.agent)
    before = counts()

    response = client.post(f"/courriers/dossier/{case.pk}/emettre/", {"kind": FIRST, "confirm": "yes"}, follow=True)

    assert "le débiteur a demandé à ne plus être contacté" in response.content.decode()
    assert counts() == before


# --- medical secrecy of the basis (L9) and the wording of the first letter ---------------------------


@pytest.mark.parametrize("basis", ["Dépassement orthodontie", "Reste à charge soins dentaires", "Implant dentaire"])
def test_a_first_letter_never_prints_a_basis_that_names_the_care(users, case, basis):
    Case.objects.filter(pk=case.pk).update(basis=basis)
    case.refresh_from_db()

    text = letter_text_of(letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1))

    assert "Fondement de la créance : Participation restant à votre charge sur des soins du 14/03/2026" in text
    folded = fold(text)
    for word in ("orthodont", "dentaire", "implant", fold(basis)):
        assert word not in folded


def test_the_basis_wording_is_the_creditors_and_a_wording_naming_a_specialty_is_refused(reference, users, case):
    reference.cpam.basis_wording = "Reste à payer sur une consultation du {date}"
    reference.cpam.save()
    text = letter_text_of(letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1))
    assert "Fondement de la créance : Reste à payer sur une consultation du 14/03/2026" in text

    reference.cpam.basis_wording = "Reste à charge orthodontie du {date}"
    reference.cpam.save()
    other = make_case(structure=reference.cdop, claim_date=date(2026, 3, 1))
    before = counts()
    with pytest.raises(ApplicationError, match="« orthodont » \\(le soin ne doit pas apparaître, secret médical\\)"):
        letter_issue(case=other, kind=FIRST, actor=users.agent, issued_on=DAY1)
    assert counts() == before


def test_without_a_claim_date_the_basis_drops_the_date(users, case):
    Case.objects.filter(pk=case.pk).update(claim_date=None)
    case.refresh_from_db()
    text = letter_text_of(letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1))
    assert "Fondement de la créance : Participation restant à votre charge sur des soins." in text


def test_the_first_letter_reads_as_a_letter(reference, users, case):
    users.agent.first_name, users.agent.last_name = "Claire", "Martin"
    users.agent.save()

    text = letter_text_of(letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1))

    agency = Agency.objects.get()
    assert f"{agency.city}, le 02/11/2026" in text
    assert text.count("Madame,") >= 1 and "Madame, Monsieur" not in text  # the debtor is « Mme »
    assert "La Caisse Primaire d'Assurance Maladie de Paris nous a confié le recouvrement amiable" in text
    assert "au plus tard le 17/11/2026" in text  # 15 days, the contract's default
    assert "Nous vous prions d'agréer, Madame, l'expression de nos salutations distinguées." in text
    assert "Claire Martin Chargé(e) de recouvrement amiable" in text


def test_the_payment_date_is_a_term_of_the_contract_and_an_unknown_civility_greets_both(reference, users, case):
    ContractTerms.objects.filter(creditor=reference.cpam).update(payment_days=30)
    Debtor.objects.filter(pk=case.debtor_id).update(civility="")
    case.refresh_from_db()

    text = letter_text_of(letter_issue(case=case, kind=FIRST, actor=None, issued_on=DAY1))

    assert "au plus tard le 02/12/2026" in text
    assert "Madame, Monsieur," in text
    assert "Le service recouvrement" in text  # a letter of the scenario, on a case without an agent


# --- the remaining balance (payments received) ----------------------------------------------------


def pay(case, amount: str, users, collected_on: date = date(2026, 10, 20)):
    from amiable.payments.services import payment_record

    payment_record(case=case, amount=amount, collected_on=collected_on, method="transfer", actor=users.agent)
    case.refresh_from_db()
    return case


def test_first_letter_asks_the_remaining_balance_split_by_component(users, case):
    pay(case, "40.00", users)  # 1 123,70 € claimed: the principal is paid first

    letter = letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1)

    text = letter_text_of(letter)
    for piece in (
        "Réclamé Déjà réglé Reste dû",
        "Principal 120,50 € 40,00 € 80,50 €",
        "Intérêts 3,20 € 0,00 € 3,20 €",
        "Autres accessoires 1 000,00 € 0,00 € 1 000,00 €",
        "Somme due 1 123,70 € 40,00 € 1 083,70 €",
        "Les paiements déjà reçus, soit 40,00 €, sont déduits de la somme due.",
        "Nous vous demandons de régler la somme de 1 083,70 €",
    ):
        assert piece in text, piece
    assert "régler la somme de 1 123,70 €" not in text
    assert letter.amount == case.balance == Decimal("1083.70")
    assert AuditEvent.objects.get(verb="letter.issued").after["amount"] == "1083.70"


def test_the_split_follows_the_allocation_the_contract_sets(reference, users, case):
    ContractTerms.objects.filter(creditor=reference.cpam).update(allocation_order="interest,principal,other")
    pay(case, "40.00", users)

    text = letter_text_of(letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1))

    assert "Intérêts 3,20 € 3,20 € 0,00 €" in text
    assert "Principal 120,50 € 36,80 € 83,70 €" in text
    assert "Nous vous demandons de régler la somme de 1 083,70 €" in text


def test_reminder_and_preview_ask_what_remains_after_a_payment(client, users, case):
    first = letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1)
    assert first.amount == Decimal("1123.70")
    pay(case, "40.00", users, collected_on=DAY1 + timedelta(days=3))

    client.force_login(users.agent)
    preview = pdf_text(client.get(preview_url(case, "reminder")).content)
    reminder = letter_issue(case=case, kind=REMINDER, actor=users.agent, issued_on=DAY2)

    for text in (preview, letter_text_of(reminder)):
        assert "la somme de 1 083,70 € reste due" in text
        assert "Somme due 1 123,70 € 40,00 € 1 083,70 €" in text
    assert reminder.amount == Decimal("1083.70")


def test_a_letter_without_payment_keeps_the_claimed_table(users, case):
    text = letter_text_of(letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1))

    assert "Somme due 1 123,70 €" in text
    assert "Déjà réglé" not in text and "déjà reçus" not in text


def test_no_letter_when_nothing_remains_due(client, users, case):
    pay(case, "1123.70", users)
    assert case.status == "paid"
    # Whatever the status says (a move forced by hand), a zero balance is never chased.
    Case.objects.filter(pk=case.pk).update(status="in_progress")
    case.refresh_from_db()
    before = counts()

    with pytest.raises(ApplicationError) as exc:
        letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY1)

    assert exc.value.message == (
        f"Aucun courrier ne peut partir pour le dossier {case.reference} : rien ne reste dû sur ce dossier "
        f"(reste dû : {format_money('0')}) : aucune relance."
    )
    assert counts() == before
    client.force_login(users.agent)
    response = client.get(preview_url(case, "first"), follow=True)
    assert escape("rien ne reste dû sur ce dossier") in response.content.decode()
