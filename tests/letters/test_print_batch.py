"""The daily print run: the day's letters merged into one PDF with a CSV manifest, each letter printed
once (idempotent), nothing half-written."""

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from amiable.audit.models import AuditEvent
from amiable.cases.models import Action, CaseEvent, Channel
from amiable.cases.services import case_transition, debtor_do_not_contact_set
from amiable.core.exceptions import ApplicationError
from amiable.letters.defaults import letter_templates_ensure
from amiable.letters.models import Letter, LetterKind
from amiable.letters.print_batch import print_batch_build
from amiable.letters.services import letter_issue
from tests.factories import make_case, pay_in_full

DAY, OTHER_DAY = date(2026, 11, 2), date(2026, 11, 3)


@pytest.fixture
def letters(reference, users):
    """Two first letters issued on DAY (two debtors), one on the next day."""
    letter_templates_ensure(creditor=reference.cpam)
    issued = [
        letter_issue(
            case=make_case(structure=structure, last_name=name), kind=LetterKind.FIRST, actor=users.agent, issued_on=day
        )
        for structure, name, day in [
            (reference.csr, "Martin", DAY),
            (reference.cdop, "Durand", DAY),
            (reference.cesa, "Petit", OTHER_DAY),
        ]
    ]
    return issued


def print_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "print"


def files() -> set[str]:
    return {p.name for p in print_dir().iterdir()} if print_dir().exists() else set()


def manifest_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("print_batch", *args, stdout=out)
    return out.getvalue()


def test_the_days_letters_are_merged_with_a_manifest_and_marked(users, letters):
    martin, durand, next_day = letters

    run = print_batch_build(day=DAY, actor=users.agent)

    pdf, manifest = print_dir() / "2026-11-02.pdf", print_dir() / "2026-11-02.csv"
    assert files() == {"2026-11-02.pdf", "2026-11-02.csv"}
    assert run.numbers == [martin.number, durand.number] and run.pages == 2
    reader = PdfReader(pdf)
    assert len(reader.pages) == 2
    texts = [page.extract_text() for page in reader.pages]
    assert martin.number in texts[0] and "DUPONT" not in texts[0] and "MARTIN" in texts[0]
    assert durand.number in texts[1] and "DURAND" in texts[1]
    assert [item.title for item in reader.outline] == [martin.number, durand.number]
    rows = manifest_rows(manifest)
    assert rows[0] == ["Courrier", "Dossier", "Débiteur", "Adresse", "Pages"]
    assert rows[1] == [
        martin.number,
        martin.case.reference,
        "Mme MARTIN Marie",
        " / ".join(martin.address_lines),
        "1",
    ]
    assert [row[0] for row in rows[1:]] == [martin.number, durand.number]
    assert set(Letter.objects.filter(printed_on=DAY).values_list("pk", flat=True)) == {martin.pk, durand.pk}
    next_day.refresh_from_db()
    assert next_day.printed_on is None
    event = AuditEvent.objects.get(verb="letters.printed")
    assert event.actor == users.agent
    assert event.after["letters"] == [martin.number, durand.number]
    assert event.after["pdf"] == "print/2026-11-02.pdf"


def test_a_second_run_prints_nothing_twice(letters):
    print_batch_build(day=DAY)
    pdf = (print_dir() / "2026-11-02.pdf").read_bytes()

    run = print_batch_build(day=DAY)

    assert run.numbers == [] and run.pdf_name is None
    assert files() == {"2026-11-02.pdf", "2026-11-02.csv"}
    assert (print_dir() / "2026-11-02.pdf").read_bytes() == pdf
    assert AuditEvent.objects.filter(verb="letters.printed").count() == 1


def test_letters_issued_after_a_run_go_in_a_second_file(reference, users, letters):
    print_batch_build(day=DAY)
    first_pdf = (print_dir() / "2026-11-02.pdf").read_bytes()
    late = letter_issue(case=make_case(structure=reference.csr), kind=LetterKind.FIRST, actor=None, issued_on=DAY)

    run = print_batch_build(day=DAY)

    assert run.numbers == [late.number] and run.pdf_name == "print/2026-11-02-2.pdf"
    assert files() == {"2026-11-02.pdf", "2026-11-02.csv", "2026-11-02-2.pdf", "2026-11-02-2.csv"}
    assert (print_dir() / "2026-11-02.pdf").read_bytes() == first_pdf  # never overwritten
    assert len(PdfReader(print_dir() / "2026-11-02-2.pdf").pages) == 1


def test_a_letter_left_from_an_earlier_day_goes_with_the_next_run(letters):
    run = print_batch_build(day=OTHER_DAY)  # no run on DAY: its two letters are not forgotten

    assert sorted(run.numbers) == sorted(letter.number for letter in letters)
    assert print_batch_build(day=OTHER_DAY).numbers == []


def test_nothing_to_print_writes_nothing(db):
    run = print_batch_build(day=DAY)
    assert run.numbers == [] and files() == set()
    assert not AuditEvent.objects.filter(verb="letters.printed").exists()


def test_a_letter_whose_case_stopped_since_is_held_back(users, letters):
    martin, durand, _ = letters
    pay_in_full(martin.case, actor=users.agent)
    CaseEvent.objects.create(case=durand.case, kind="oi_admissible", occurred_on=DAY, recorded_by=users.agent)

    run = print_batch_build(day=DAY)

    assert run.numbers == [] and files() == set()
    assert run.withheld == [
        f"{martin.number} retenu : dossier {martin.case.reference} : dossier soldé : aucune action",
        f"{durand.number} retenu : dossier {durand.case.reference} : événement bloquant "
        "(dossier de surendettement déclaré recevable) : aucune action",
    ]
    assert not Letter.objects.filter(printed_on__isnull=False).exists()


def test_a_tampered_letter_stops_the_run_and_nothing_is_marked(letters):
    martin = letters[0]
    Path(martin.pdf.path).write_bytes(b"%PDF-1.7 altered")

    with pytest.raises(ApplicationError, match=f"Le fichier du courrier {martin.number} ne correspond plus"):
        print_batch_build(day=DAY)

    assert files() == set()
    assert not Letter.objects.filter(printed_on__isnull=False).exists()


def test_files_are_removed_when_the_run_fails_after_writing_them(letters, monkeypatch):
    import amiable.letters.print_batch as module

    def broken(**kwargs):
        raise RuntimeError("panne")

    monkeypatch.setattr(module, "audit_record", broken)
    with pytest.raises(RuntimeError):
        print_batch_build(day=DAY)
    assert files() == set()
    assert not Letter.objects.filter(printed_on__isnull=False).exists()


# --- the command ----------------------------------------------------------------------------------


def test_command_prints_the_paths_then_says_nothing_new(letters):
    output = run_command("--date", "2026-11-02")

    assert "Impression du 02/11/2026 : 2 courrier(s), 2 page(s)." in output
    assert f"PDF : {print_dir() / '2026-11-02.pdf'}" in output
    assert f"Bordereau : {print_dir() / '2026-11-02.csv'}" in output
    assert run_command("--date", "2026-11-02").strip() == "Aucun nouveau courrier à imprimer pour le 02/11/2026."


def test_command_dry_run_changes_nothing(letters):
    output = run_command("--date", "2026-11-02", "--dry-run")
    assert "Simulation — 02/11/2026 : 2 courrier(s) à imprimer." in output
    assert letters[0].number in output and letters[1].number in output
    assert files() == set() and not Letter.objects.filter(printed_on__isnull=False).exists()


def test_command_defaults_to_today(db):
    from django.utils import timezone

    assert run_command().strip() == f"Aucun nouveau courrier à imprimer pour le {timezone.localdate():%d/%m/%Y}."


def test_command_refuses_a_bad_date(db):
    with pytest.raises(CommandError, match="Date invalide : « 02/11/2026 » \\(attendu AAAA-MM-JJ\\)."):
        run_command("--date", "02/11/2026")


def test_command_reports_held_back_letters(users, letters):
    case_transition(case=letters[0].case, to="recalled", actor=users.agent)
    output = run_command("--date", "2026-11-02")
    case = letters[0].case
    assert (
        f"{letters[0].number} retenu : dossier {case.reference} : dossier retourné au créancier : aucune action"
        in output
    )
    assert "1 courrier(s), 1 page(s)" in output


def test_command_turns_a_refusal_into_a_command_error(letters):
    Path(letters[0].pdf.path).write_bytes(b"x")
    with pytest.raises(CommandError, match="ne correspond plus à son empreinte"):
        run_command("--date", "2026-11-02")


def test_a_letter_for_a_debtor_who_asked_not_to_be_contacted_since_is_held_back(users, letters):
    martin, durand, _ = letters
    debtor_do_not_contact_set(debtor=martin.case.debtor, actor=users.agent, value=True, case=martin.case)

    run = print_batch_build(day=DAY)

    assert run.withheld == [
        f"{martin.number} retenu : dossier {martin.case.reference} : le débiteur a demandé à ne plus être contacté"
    ]
    assert run.numbers == [durand.number]
    martin.refresh_from_db()
    assert martin.printed_on is None


def test_a_letter_beyond_the_letter_cap_is_held_back_but_not_the_letters_within_it(reference, users, letters):
    martin = letters[0]
    # Two letters went to that case earlier in the 30 days (before the cap was lowered to 2).
    for days in (3, 2):
        Action.objects.create(
            case=martin.case, channel=Channel.LETTER, at=martin.issued_at - timedelta(days=days), summary="Courrier"
        )

    run = print_batch_build(day=DAY)

    assert f"{martin.number} retenu : dossier {martin.case.reference} : plafond atteint" in run.withheld[0]
    assert run.numbers == [letters[1].number]


def test_the_print_batch_asks_the_contact_rule_in_the_same_queries_for_2_or_6_letters(reference, users):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from amiable.letters.print_batch import _withheld_reasons

    letter_templates_ensure(creditor=reference.cpam)

    def issue(n):
        return [
            letter_issue(case=make_case(structure=reference.csr), kind=LetterKind.FIRST, actor=None, issued_on=DAY)
            for _ in range(n)
        ]

    counts = []
    for batch in (issue(2), issue(6)):
        letters = list(Letter.objects.filter(pk__in=[lt.pk for lt in batch]).select_related("case__debtor"))
        with CaptureQueriesContext(connection) as queries:
            assert _withheld_reasons(letters) == [None] * len(letters)
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_rule_for_many_cases_answers_as_the_rule_for_one(reference, users, letters):
    from amiable.cases.policy import case_contact_block, case_contact_blocks

    martin, durand, petit = letters
    debtor_do_not_contact_set(debtor=martin.case.debtor, actor=users.agent, value=True, case=martin.case)
    CaseEvent.objects.create(case=durand.case, kind="death", occurred_on=DAY, recorded_by=users.agent)
    cases = [lt.case for lt in letters]
    for case in cases:
        case.refresh_from_db()
    for channel in (Channel.LETTER, Channel.CALL):
        for at in (martin.issued_at, martin.issued_at + timedelta(days=1)):
            one = [case_contact_block(case, channel, at) for case in cases]
            assert case_contact_blocks([(case, at) for case in cases], channel) == one
    blocks = case_contact_blocks([(case, petit.issued_at) for case in cases], Channel.LETTER)
    assert [block.key if block else None for block in blocks] == ["do_not_contact", "stopping_event", None]
