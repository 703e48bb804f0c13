"""The legal validator of letters: the five mentions of a first letter (CPCE R124-4, L1), no word that
imitates a judicial act (L7) and no fee for the debtor (L3), in templates and in the letter as printed."""

import pytest
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.compliance.legal import FEE_WORDS, FORBIDDEN_WORDS, L111_8, fold, forbidden_wording
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import Agency
from amiable.letters.defaults import FIRST_LETTER, REMINDER, letter_templates_ensure
from amiable.letters.models import LetterKind, LetterTemplate
from amiable.letters.services import (
    first_letter_mentions,
    letter_check,
    letter_issue,
    letter_render,
    letter_template_save,
    letter_text,
    template_check,
)
from tests.factories import make_case


@pytest.fixture
def templates(reference):
    letter_templates_ensure(creditor=reference.cpam)
    return {t.kind: t for t in LetterTemplate.objects.filter(creditor=reference.cpam)}


@pytest.fixture
def first_letter(reference, templates):
    """A first letter rendered as it would be issued, and what the validator needs to check it again."""
    case = make_case(
        structure=reference.csr, basis="Frais non remboursés", interest_amount="3.20", other_amount="1000.00"
    )
    html, lines = letter_render(
        case=case,
        kind=LetterKind.FIRST,
        template=templates[LetterKind.FIRST],
        number="L-2026-000001",
        issued_on=timezone.localdate(),
    )
    return {"case": case, "agency": Agency.objects.get(), "text": letter_text(html), "lines": lines}


def _check(letter, text: str, kind: str = LetterKind.FIRST) -> None:
    case = letter["case"]
    letter_check(text=text, case=case, kind=kind, agency=letter["agency"], amount=case.claimed_amount)


# --- the five mentions of a first letter (R124-4) --------------------------------------------------

# For each mention, in the order of the article: a piece of the rendered letter whose removal loses it.
REMOVALS = [
    lambda agency, case: agency.activity_statement,
    lambda agency, case: case.creditor.address_line1,
    lambda agency, case: "Principal",
    lambda agency, case: agency.client_account_iban,
    lambda agency, case: L111_8[1],
]


def test_the_five_mentions_are_the_five_of_the_article(first_letter):
    keys = list(first_letter_mentions(agency=first_letter["agency"], case=first_letter["case"], amount=1))
    assert len(keys) == len(REMOVALS) == 5
    assert [key[:2] for key in keys] == ["1°", "2°", "3°", "4°", "5°"]


def test_a_complete_first_letter_passes(first_letter):
    _check(first_letter, first_letter["text"])  # no exception


@pytest.mark.parametrize("index", range(5))
def test_a_first_letter_missing_a_mention_is_refused_naming_it(first_letter, index):
    agency, case = first_letter["agency"], first_letter["case"]
    keys = list(first_letter_mentions(agency=agency, case=case, amount=case.claimed_amount))
    piece = REMOVALS[index](agency, case)
    assert piece in first_letter["text"]  # the removal really takes something away
    text = first_letter["text"].replace(piece, "")

    with pytest.raises(ApplicationError) as exc:
        _check(first_letter, text)

    message = exc.value.message
    assert message.startswith("Première lettre refusée, mention obligatoire absente (CPCE R124-4) : ")
    assert keys[index] in message
    assert all(other not in message for other in keys if other != keys[index])  # only the one missing


def test_amount_lines_must_be_separate(first_letter):
    """Principal, interest and other accessories each shown (3°): dropping the interest line is refused."""
    with pytest.raises(ApplicationError, match="3° fondement et montant"):
        _check(first_letter, first_letter["text"].replace("Intérêts", ""))


def test_a_reminder_need_not_repeat_the_five_mentions(first_letter):
    _check(first_letter, first_letter["text"].replace(L111_8[1], ""), kind=LetterKind.REMINDER)


# --- forbidden words (L7) and fees (L3) in templates -----------------------------------------------

WORD_CASES = [(word, word) for word in (*FORBIDDEN_WORDS, *FEE_WORDS)] + [
    ("HUISSIER", "huissier"),
    ("Saisie", "saisie"),
    ("nos huissiers", "huissier"),
    ("Commissaires de Justice", "commissaire de justice"),
    ("SAISIE-ATTRIBUTION", "saisie"),
    ("PENALITES", "pénalité"),
    ("Majoration de retard", "majoration"),
    ("execution forcee", "exécution forcée"),
    ("Mise en demeure avant poursuites", "mise en demeure avant poursuites"),
    ("hui\u00adssier", "huissier"),  # a soft hyphen does not hide the word
]


@pytest.mark.parametrize(("written", "listed"), WORD_CASES, ids=[w for w, _ in WORD_CASES])
def test_template_with_a_forbidden_word_is_refused_and_not_stored(reference, users, templates, written, listed):
    reminder = templates[LetterKind.REMINDER]
    count = LetterTemplate.objects.count()
    audited = AuditEvent.objects.filter(verb="letter_template.saved").count()
    for name in ("Nouveau modèle", reminder.name):  # neither created nor updated
        with pytest.raises(ApplicationError) as exc:
            letter_template_save(
                creditor=reference.cpam,
                kind=LetterKind.REMINDER,
                name=name,
                body=f"{REMINDER}\n\nÀ défaut de paiement : {written}.",
                actor=users.agency_admin,
            )
        assert exc.value.message.startswith("Modèle refusé : ")
        assert f"« {listed} »" in exc.value.message
    assert LetterTemplate.objects.count() == count
    reminder.refresh_from_db()
    assert reminder.body == REMINDER
    assert AuditEvent.objects.filter(verb="letter_template.saved").count() == audited


def test_every_listed_word_is_refused_in_a_letter_too(first_letter):
    for word in (*FORBIDDEN_WORDS, *FEE_WORDS):
        with pytest.raises(ApplicationError, match=f"Courrier refusé : .*« {word} »"):
            _check(first_letter, first_letter["text"] + f" Ajout : {word}.")


def test_the_l111_8_paragraphs_do_not_count_as_fees(reference, users):
    body = f"{FIRST_LETTER}\n\n« {L111_8[0]} »\n\n« {L111_8[1]} »"
    assert "frais" in fold(body)

    template = letter_template_save(
        creditor=reference.cpam, kind=LetterKind.FIRST, name="Avec L111-8", body=body, actor=users.agency_admin
    )

    assert LetterTemplate.objects.get(pk=template.pk).body == body
    event = AuditEvent.objects.get(verb="letter_template.saved", target_id=str(template.pk))
    assert event.actor == users.agency_admin
    assert event.creditor_pk == reference.cpam.pk
    assert event.after["name"] == "Avec L111-8"


def test_a_changed_l111_8_paragraph_no_longer_excuses_the_word_fees():
    altered = L111_8[0].replace("à la charge du créancier", "à la charge du débiteur")
    assert forbidden_wording(altered)


def test_the_claim_basis_frais_non_rembourses_is_not_a_fee(reference, users, templates):
    case = make_case(structure=reference.csr, basis="Frais non remboursés")

    letter = letter_issue(case=case, kind=LetterKind.FIRST, actor=users.agent)

    assert letter.pk
    # … while the same words added by the agency would be a fee.
    with pytest.raises(ApplicationError, match="« frais »"):
        letter_check(
            text="Frais de dossier : 10,00 €",
            case=case,
            kind=LetterKind.REMINDER,
            agency=Agency.objects.get(),
            amount=case.claimed_amount,
        )


def test_a_street_name_is_not_wording(reference, users, templates):
    """The address block is data: « rue du Tribunal » does not make a letter imitate a court."""
    case = make_case(structure=reference.csr)
    case.debtor.contact_points.update(line1="3 rue du Tribunal")

    letter = letter_issue(case=case, kind=LetterKind.FIRST, actor=users.agent)

    assert letter.address_lines[1] == "3 RUE DU TRIBUNAL"


# --- what a template may contain -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "Le modèle est vide."),
        ("   \n ", "Le modèle est vide."),
        ("Bonjour {{ debiteur.birth_date }}", "variable inconnue « {{ debiteur.birth_date }} »"),
        ("Bonjour {{ structure }}", "variable inconnue « {{ structure }} »"),
        ("Montant {{ montant|upper }}", "variable inconnue"),
        ("{% include 'web/case_detail.html' %}", "seules les variables sont admises"),
        ("{# note #} Bonjour", "seules les variables sont admises"),
    ],
)
def test_a_template_uses_only_the_documented_variables(reference, users, body, expected):
    with pytest.raises(ApplicationError) as exc:
        letter_template_save(creditor=reference.cpam, kind="reminder", name="X", body=body, actor=users.agency_admin)
    assert expected in exc.value.message
    assert not LetterTemplate.objects.filter(name="X").exists()


def test_a_template_naming_a_care_centre_is_refused(reference, users):
    """Medical secrecy (L9): the wording names the creditor, never the centre where the care was given."""
    with pytest.raises(ApplicationError, match="Centre Dentaire d'Orthodontie de Paris.*secret médical"):
        letter_template_save(
            creditor=reference.cpam,
            kind="reminder",
            name="Indiscret",
            body=f"{REMINDER}\n\nSoins reçus au CENTRE DENTAIRE D’ORTHODONTIE DE PARIS.",
            actor=users.agency_admin,
        )
    assert not LetterTemplate.objects.filter(name="Indiscret").exists()


def test_an_unknown_kind_is_refused(reference, users):
    with pytest.raises(ApplicationError, match="Type de courrier inconnu"):
        letter_template_save(creditor=reference.cpam, kind="summons", name="X", body=REMINDER, actor=None)


def test_a_letter_naming_the_care_centre_is_refused_by_the_validator(first_letter, reference):
    """The last lock (L9), whatever the template: the printed text never names the structure."""
    text = first_letter["text"] + " Soins reçus au Centre de Santé Réaumur."
    with pytest.raises(ApplicationError) as exc:
        _check(first_letter, text)
    assert exc.value.message.startswith("Courrier refusé : il nomme la structure « Centre de Santé Réaumur »")


def test_the_administrations_check_refuses_any_care_centre(reference):
    """The administration checks a template without knowing the creditor yet: every structure counts."""
    with pytest.raises(ApplicationError, match="nomme la structure « Centre Autre »"):
        template_check(body=f"{REMINDER}\n\nVu au Centre Autre.", kind="reminder")
    template_check(body=REMINDER, kind="reminder")  # the default wording passes
