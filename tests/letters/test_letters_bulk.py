"""Issuing first letters in bulk (issue 13): the same letters, checks, documents and audit events as one by one,
numbered consecutively in the order of the cases, rendered in parallel processes; cases already lettered are
skipped; the refusals carry `letter_issue`'s own messages; the queries do not grow with the letters."""

import hashlib
from datetime import date

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from amiable.audit.models import AuditEvent
from amiable.cases.models import Action, Case, CaseEvent, ContactPoint
from amiable.cases.services import case_transition
from amiable.core.exceptions import ApplicationError
from amiable.core.models import NumberSequence
from amiable.letters.defaults import letter_templates_ensure
from amiable.letters.models import Letter, LetterKind, LetterTemplate
from amiable.letters.services import letter_issue, letter_pdf, letter_render, letter_signatory
from amiable.letters.services_bulk import letters_issue_first
from tests.factories import make_case
from tests.letters.test_letters import counts, pdf_text, stored_files

FIRST = LetterKind.FIRST
DAY = date(2026, 11, 2)


@pytest.fixture
def templates(reference):
    letter_templates_ensure(creditor=reference.cpam)


@pytest.fixture
def cases(reference, templates):
    return [make_case(structure=reference.cdop, basis="Frais non remboursés") for _ in range(3)]


def last_number() -> int:
    sequence = NumberSequence.objects.filter(name="letter", year=DAY.year).first()
    return sequence.last if sequence else 0


def events_of(case: Case) -> list[tuple]:
    """A case's audit events as letters leave them, without what differs from letter to letter."""
    rows = AuditEvent.objects.filter(case_pk=case.pk, verb__in=["letter.issued", "case.status_changed"])
    return sorted(
        (e.verb, e.actor_id, e.actor_label, e.target_type, e.creditor_pk, e.before, sorted(e.after)) for e in rows
    )


def test_bulk_letters_are_the_letters_issued_one_by_one(users, cases):
    single = letter_issue(case=cases[0], kind=FIRST, actor=users.agent, issued_on=DAY)

    report = letters_issue_first(cases=cases[1:], actor=users.agent, workers=2, issued_on=DAY)

    assert [letter.number for letter in report.letters] == ["L-2026-000002", "L-2026-000003"]
    assert report.skipped == [] and report.refused == {}
    for case, letter in zip(cases[1:], report.letters, strict=True):
        letter.refresh_from_db()
        assert letter.case == case and letter.kind == FIRST and letter.issued_by == users.agent
        assert letter.address_lines[-1] == "75002 PARIS"
        assert letter.amount == case.balance and letter.template == single.template
        with letter.pdf.open("rb") as handle:
            data = handle.read()
        assert letter.sha256 == hashlib.sha256(data).hexdigest()
        # The very letter `letter_issue` renders for this case and this number.
        html, _ = letter_render(
            case=case,
            kind=FIRST,
            template=single.template,
            number=letter.number,
            issued_on=DAY,
            signatory=letter_signatory(case=case, actor=users.agent),
        )
        assert pdf_text(data) == pdf_text(letter_pdf(html))
        assert letter.number in pdf_text(data)
        action = Action.objects.get(case=case)
        assert action.letter == letter and action.actor == users.agent
        assert action.summary == f"Première lettre (CPCE R124-4) {letter.number}"
        case.refresh_from_db()
        assert case.status == "in_progress"
        assert events_of(case) == events_of(cases[0])
        move = AuditEvent.objects.get(verb="case.status_changed", case_pk=case.pk)
        assert move.after == {"status": "in_progress", "reason": f"Première lettre {letter.number}"}
        issued = AuditEvent.objects.get(verb="letter.issued", case_pk=case.pk)
        assert issued.target_id == str(letter.pk)
        assert issued.after["number"] == letter.number and issued.after["sha256"] == letter.sha256
    assert Action.objects.get(case=cases[0]).summary == f"Première lettre (CPCE R124-4) {single.number}"


def test_numbers_follow_the_order_of_the_cases(users, cases):
    report = letters_issue_first(cases=[cases[2], cases[0], cases[1]], actor=None, workers=2, issued_on=DAY)

    assert [(letter.case_id, letter.number) for letter in report.letters] == [
        (cases[2].pk, "L-2026-000001"),
        (cases[0].pk, "L-2026-000002"),
        (cases[1].pk, "L-2026-000003"),
    ]
    assert report.letters[0].issued_by is None
    assert AuditEvent.objects.get(verb="letter.issued", case_pk=cases[2].pk).actor_label == "Système"


def test_chunks_number_on_from_each_other(users, cases):
    report = letters_issue_first(cases=cases, actor=None, workers=1, issued_on=DAY, chunk_size=2)
    assert [letter.number for letter in report.letters] == ["L-2026-000001", "L-2026-000002", "L-2026-000003"]


def test_cases_already_lettered_are_skipped_and_a_second_run_issues_nothing(users, cases):
    letter_issue(case=cases[0], kind=FIRST, actor=users.agent, issued_on=DAY)

    report = letters_issue_first(cases=cases, actor=users.agent, workers=1, issued_on=DAY)

    assert report.skipped == [cases[0].reference]
    assert [letter.case_id for letter in report.letters] == [cases[1].pk, cases[2].pk]
    before, number = counts(), last_number()

    again = letters_issue_first(cases=cases, actor=users.agent, workers=2, issued_on=DAY)

    assert again.letters == [] and again.skipped == [case.reference for case in cases]
    assert counts() == before and last_number() == number


def test_refused_cases_carry_the_messages_of_letter_issue_and_use_no_number(reference, users, cases):
    no_address, suspended, oi = cases
    ContactPoint.objects.filter(debtor=no_address.debtor).update(quality="doubtful")
    case_transition(case=suspended, to="suspended", actor=users.agent, reason="Test")
    CaseEvent.objects.create(case=oi, kind="oi_admissible", occurred_on=DAY, recorded_by=users.agent)
    ok = make_case(structure=reference.csr)
    expected = {}
    for case in cases:
        with pytest.raises(ApplicationError) as exc:
            letter_issue(case=case, kind=FIRST, actor=users.agent, issued_on=DAY)
        expected[case.reference] = exc.value.message
    before = counts()

    report = letters_issue_first(cases=[*cases, ok], actor=users.agent, workers=2, issued_on=DAY)

    assert report.refused == expected
    assert report.refused[no_address.reference].startswith("Aucune adresse valide")
    assert [letter.number for letter in report.letters] == ["L-2026-000001"]
    assert counts()["letters"] == before["letters"] + 1 and last_number() == 1


def test_a_letter_the_law_refuses_once_rendered_leaves_no_gap(reference, users, cases):
    """The check of the rendered text runs in the worker: the chunk is numbered again without the refused letter."""
    bad = make_case(structure=reference.csr, reference="SAISIE-2026-1")  # a judicial word printed in the letter
    with pytest.raises(ApplicationError) as exc:
        letter_issue(case=bad, kind=FIRST, actor=users.agent, issued_on=DAY)

    report = letters_issue_first(cases=[cases[0], bad, cases[1]], actor=users.agent, workers=2, issued_on=DAY)

    assert report.refused == {bad.reference: exc.value.message}
    assert "« saisie »" in exc.value.message
    assert [letter.number for letter in report.letters] == ["L-2026-000001", "L-2026-000002"]
    assert last_number() == 2
    assert len(stored_files()) == 2  # the rolled-back chunk's files are gone
    assert not Letter.objects.filter(case=bad).exists()


def test_a_template_refused_by_the_rules_refuses_every_case_of_its_creditor(reference, users, cases):
    LetterTemplate.objects.filter(creditor=reference.cpam, kind=FIRST).update(
        body="Madame, Monsieur,\n\nVos soins au Centre Dentaire d'Orthodontie de Paris restent dus."
    )
    with pytest.raises(ApplicationError) as exc:
        letter_issue(case=cases[0], kind=FIRST, actor=users.agent)

    report = letters_issue_first(cases=cases, actor=users.agent, workers=1)

    assert report.refused == {case.reference: exc.value.message for case in cases}
    assert Letter.objects.count() == 0 and stored_files() == set()


@pytest.mark.parametrize("role", ["collaborator", "creditor_admin"])
def test_creditor_staff_may_not_issue_in_bulk(users, cases, role):
    before = counts()
    with pytest.raises(ApplicationError, match="Seule l'agence émet les courriers"):
        letters_issue_first(cases=cases, actor=getattr(users, role))
    assert counts() == before


def test_queries_do_not_grow_with_the_letters(reference, users, templates):
    """Within a chunk the queries are the same for 2 letters as for 8: everything is read and written in bulk
    (a case with payments adds the one query that splits them, as one by one)."""

    def queries(n: int) -> int:
        batch = [make_case(structure=reference.csr) for _ in range(n)]
        with CaptureQueriesContext(connection) as captured:
            report = letters_issue_first(cases=batch, actor=users.agent, workers=1, issued_on=DAY)
        assert len(report.letters) == n
        return len(captured)

    queries(1)  # the year's number sequence is created by the first letter
    assert queries(2) == queries(8)


def test_the_command_issues_the_first_letters_of_acknowledged_cases(reference, users, cases, capsys):
    Case.objects.filter(pk__in=[cases[0].pk, cases[1].pk]).update(acknowledged_on=DAY)
    letter_issue(case=cases[1], kind=FIRST, actor=None)

    call_command("issue_first_letters", "--creditor", "cpam-paris", "--workers", "1")

    assert list(Letter.objects.filter(kind=FIRST).values_list("case_id", flat=True).order_by("number")) == [
        cases[1].pk,
        cases[0].pk,
    ]
    out = capsys.readouterr().out
    assert "1 première(s) lettre(s) émise(s)" in out
