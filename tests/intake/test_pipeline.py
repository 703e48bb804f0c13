"""`amiable.intake.pipeline`, stage by stage: unwrap gives clear content and what the envelope said, read gives
rows keyed by field name, validate keeps clean rows and gathers rejected ones with their French reasons, write
stores exactly what it is given with a number of queries that does not grow with the rows."""

import hashlib
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.audit.personal import Sealer
from amiable.cases.models import Case, ContactPoint, Debtor, Task
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import ContractTerms
from amiable.intake import crypto, pipeline
from amiable.intake.models import Batch, BatchCase, BatchSource, ColumnMapping
from amiable.intake.parsing import COLUMNS, RawRow
from amiable.intake.validation import CleanRow, Contact
from tests.factories import make_case
from tests.intake.conftest import DATA, KEYS

TODAY = date(2026, 11, 27)


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


# --- unwrap ------------------------------------------------------------------------------------------


def test_unwrap_passes_a_clear_file_through_without_a_query(reference, django_assert_num_queries):
    content = csv("reference;structure;nom;solde", "R1;CSR;Dupont;10,00")

    with django_assert_num_queries(0):
        unwrapped = pipeline.unwrap(content, creditor=reference.cpam, terms=None)

    assert unwrapped == pipeline.Unwrapped(content=content, sha256=hashlib.sha256(content).hexdigest())
    assert (unwrapped.encrypted, unwrapped.signature, unwrapped.signer) == (False, "not_signed", "")


def test_unwrap_decrypts_and_judges_the_signature(reference, gnupg_home):
    crypto.register_creditor_key(
        creditor=reference.cpam, armored=(KEYS / "creditor-test-public.asc").read_text(), actor=None
    )
    clear = (DATA / "cpam-lot-exemple.csv").read_bytes()

    unwrapped = pipeline.unwrap(
        (DATA / "cpam-lot-exemple.csv.gpg").read_bytes(),
        creditor=reference.cpam,
        terms=None,
    )

    assert unwrapped.content == clear
    assert unwrapped.sha256 == hashlib.sha256(clear).hexdigest()  # duplicates are judged on the clear content
    assert unwrapped.encrypted is True
    assert unwrapped.signature == "signed"
    assert unwrapped.signer_fingerprint


def test_unwrap_applies_the_creditor_policy_whatever_way_the_file_came_in(reference):
    terms = ContractTerms(creditor=reference.cpam, require_encryption=True)
    content = csv("reference;structure;nom;solde", "R1;CSR;Dupont;10,00")

    with pytest.raises(ApplicationError) as error:
        pipeline.unwrap(content, creditor=reference.cpam, terms=terms)

    assert error.value.message == (
        f"{reference.cpam.name} exige des fichiers chiffrés (OpenPGP) : fichier en clair refusé. "
        "Chiffrez-le pour la clé de l'agence, puis transmettez-le à nouveau."
    )


# --- read --------------------------------------------------------------------------------------------


def test_read_gives_rows_keyed_by_field_name_whatever_the_wording(reference):
    content = csv(
        "Structure de soins;Référence dossier;Nom de famille;Prénom;Solde de la dette (€);Montant initial;Somme",
        "CSR;R-1;Dupont;Anne;10,50;12,00;x",
    )
    ColumnMapping.objects.create(creditor=reference.other, header="Somme", column="initial_amount")

    parsed = pipeline.read(content, creditor=reference.cpam, structure_given=False)

    [row] = list(parsed.rows)
    assert row.values == {
        "structure": "CSR",
        "reference": "R-1",
        "last_name": "Dupont",
        "first_name": "Anne",
        "principal_amount": "10,50",
        "initial_amount": "12,00",
    }
    assert set(row.values) <= set(COLUMNS)
    assert parsed.layout.unknown == ["Somme"]  # another creditor's mapping is not used


def test_read_uses_the_creditor_column_mappings(reference):
    ColumnMapping.objects.create(creditor=reference.cpam, header="Débiteur", column="last_name")
    ColumnMapping.objects.create(creditor=reference.cpam, header="Somme à recouvrer", column="principal_amount")

    parsed = pipeline.read(
        csv("reference;Débiteur;Somme à recouvrer", "R1;Martin;20,00"), creditor=reference.cpam, structure_given=True
    )

    assert [row.values for row in parsed.rows] == [
        {"reference": "R1", "last_name": "Martin", "principal_amount": "20,00"}
    ]


def test_read_refuses_a_file_without_a_required_column(reference):
    with pytest.raises(ApplicationError) as error:
        pipeline.read(csv("reference;nom", "R1;Dupont"), creditor=reference.cpam, structure_given=False)

    assert error.value.message.startswith("Colonne obligatoire absente : « solde », « structure »")


# --- validate ----------------------------------------------------------------------------------------


def raw(line: int, **values) -> RawRow:
    base = {"reference": f"R{line}", "structure": "CSR", "last_name": "Dupont", "principal_amount": "10,00"}
    return RawRow(line=line, file_line=line + 1, values=base | values)


def validate(rows: list[RawRow], reference, **kwargs):
    return pipeline.validate(
        rows,
        creditor=reference.cpam,
        structures=[reference.csr, reference.cdop, reference.cesa],
        default_structure=kwargs.pop("default_structure", None),
        today=TODAY,
    )


def test_validate_yields_clean_rows_and_keeps_the_rejected_ones_with_french_reasons(reference):
    rows = [
        raw(1, principal_amount="12,30", address_line1="1 rue A", postal_code="75011", city="Paris"),
        raw(2, principal_amount="abc"),
        raw(3, last_name="", claim_date="31/02/2025"),
        raw(4, phone="pas un numéro"),
    ]

    validated = validate(rows, reference)
    clean = list(validated)

    assert [row.reference for row in clean] == ["R1", "R4"]
    assert all(isinstance(row, CleanRow) for row in clean)
    assert (validated.row_count, validated.accepted, validated.rejected) == (4, 2, 2)
    assert validated.total == Decimal("22.30")
    assert validated.flags == {"missing_address": 1, "invalid_phone": 1}
    assert validated.rejected_rows == [
        {
            "line": 2,
            "file_line": 3,
            "reference": "R2",
            "errors": [
                {
                    "column": "solde",
                    "value": "abc",
                    "reason": "non_numeric_balance",
                    "message": "solde illisible : ce n'est pas un montant",
                }
            ],
        },
        {
            "line": 3,
            "file_line": 4,
            "reference": "R3",
            "errors": [
                {"column": "nom", "value": "", "reason": "missing_name", "message": "nom absent"},
                {
                    "column": "date de la créance",
                    "value": "31/02/2025",
                    "reason": "invalid_date",
                    "message": "date invalide (attendu jj/mm/aaaa ou aaaa-mm-jj)",
                },
            ],
        },
    ]


def test_validate_rejects_every_occurrence_of_a_repeated_reference_and_open_references(reference):
    make_case(structure=reference.csr, reference="OUVERT-1")
    rows = [raw(1, reference="R-A"), raw(2, reference="OUVERT-1"), raw(3, reference="R-A", principal_amount="-1")]

    validated = validate(rows, reference)

    assert list(validated) == []
    messages = {(r["line"], e["message"]) for r in validated.rejected_rows for e in r["errors"]}
    assert messages == {
        (1, "référence présente plusieurs fois dans le fichier (lignes 1, 3)"),
        (2, "un dossier ouvert porte déjà cette référence"),
        (3, "référence présente plusieurs fois dans le fichier (lignes 1, 3)"),
        (3, "solde négatif"),
    }
    assert validated.rejected_rows[2]["errors"][0]["column"] == "référence"  # the reference problem first


def test_validate_queries_once_for_the_open_references_and_not_per_row(reference, django_assert_num_queries):
    rows = [raw(n) for n in range(1, 301)]

    with django_assert_num_queries(1):
        assert len(list(validate(rows, reference))) == 300


def test_validate_refuses_a_file_without_data_rows(reference):
    with pytest.raises(ApplicationError) as error:
        validate([], reference)

    assert error.value.message == "Le fichier ne contient aucune ligne de données (seulement l'en-tête)."


def test_validate_uses_the_default_structure_of_the_batch(reference):
    validated = validate([raw(1, structure="")], reference, default_structure=reference.cdop)

    assert [row.structure_code for row in validated] == ["CDOP"]


# --- write -------------------------------------------------------------------------------------------


def make_batch(reference) -> Batch:
    now = timezone.now()
    return Batch.objects.create(
        number="LOT-2026-999999",
        creditor=reference.cpam,
        source=BatchSource.COMMAND,
        received_at=now,
        filename="lot.csv",
        sha256="0" * 64,
        size=1,
        file_format="csv",
        acknowledgement_number="AR-2026-999999",
        acknowledged_at=now,
    )


def clean_row(line: int, **values) -> CleanRow:
    base = {
        "line": line,
        "file_line": line + 1,
        "reference": f"W-{line}",
        "structure_code": "CSR",
        "civility": "MME",
        "last_name": "Durand",
        "first_name": "Léa",
        "balance": Decimal("10.00"),
        "initial_amount": Decimal("15.00"),
        "claim_date": date(2025, 3, 1),
        "basis": "Reste à charge",
    }
    return CleanRow(**(base | values))


def destination(reference, batch) -> pipeline.Destination:
    return pipeline.Destination(
        batch=batch,
        structures={s.code: s for s in (reference.csr, reference.cdop, reference.cesa)},
        actor=None,
        received_on=TODAY,
        certificate_due_on=date(2027, 11, 27),
    )


def test_write_stores_exactly_what_it_is_given(reference):
    batch = make_batch(reference)
    rows = [
        clean_row(
            1,
            contacts=[
                Contact(kind="address", quality="valid", line1="1 rue A", postal_code="75011", city="PARIS"),
                Contact(kind="phone", quality="doubtful", raw_value="pas un numéro"),
            ],
            flags=["invalid_phone"],
        ),
        clean_row(
            2,
            structure_code="CDOP",
            balance=Decimal("7.5"),
            claim_date=None,
            flags=["missing_address"],
            needs_address_investigation=True,
        ),
    ]

    pipeline.write(rows, destination=destination(reference, batch))

    first, second = Case.objects.filter(reference__in=["W-1", "W-2"]).order_by("reference")
    assert (first.structure, first.principal_amount, first.initial_amount) == (
        reference.csr,
        Decimal("10.00"),
        Decimal("15.00"),
    )
    assert (first.claim_date, first.basis, first.status) == (date(2025, 3, 1), "Reste à charge", "new")
    assert (first.received_on, first.acknowledged_on, first.certificate_due_on) == (
        TODAY,
        TODAY,
        date(2027, 11, 27),
    )
    assert (first.debtor.civility, first.debtor.last_name, first.debtor.first_name) == ("MME", "Durand", "Léa")
    assert sorted(ContactPoint.objects.filter(debtor=first.debtor).values_list("kind", "quality", "raw_value")) == [
        ("address", "valid", ""),
        ("phone", "doubtful", "pas un numéro"),
    ]
    assert (second.structure, second.principal_amount, second.claim_date) == (reference.cdop, Decimal("7.50"), None)
    assert not ContactPoint.objects.filter(debtor=second.debtor).exists()
    assert list(BatchCase.objects.filter(batch=batch).values_list("case__reference", "line", "flags")) == [
        ("W-1", 1, ["invalid_phone"]),
        ("W-2", 2, ["missing_address"]),
    ]
    assert list(Task.objects.values_list("case__reference", "reason")) == [("W-2", "Adresse absente")]
    events = AuditEvent.objects.filter(verb="case.created").order_by("case_pk")
    assert [(e.case_pk, e.actor_label, e.after["batch"], e.after["line"]) for e in events] == [
        (first.pk, "Système", "LOT-2026-999999", 1),
        (second.pk, "Système", "LOT-2026-999999", 2),
    ]


def test_write_queries_do_not_grow_with_the_rows(reference):
    batch = make_batch(reference)
    Sealer(creditor_pk=reference.cpam.pk)  # the creditor's audit key exists, as after its first case

    def queries(rows: list[CleanRow]) -> int:
        with CaptureQueriesContext(connection) as captured:
            pipeline.write(rows, destination=destination(reference, batch))
        return len(captured)

    few = queries([clean_row(n, reference=f"A-{n}", needs_address_investigation=True) for n in range(1, 4)])
    many = queries([clean_row(n, reference=f"B-{n}", needs_address_investigation=True) for n in range(4, 304)])

    # The first write of the transaction also reads the tip of the audit chain (audit.chain), once: the later
    # chunks chain on from it without a query.
    assert few == many + 1
    assert Debtor.objects.count() == Case.objects.count() == 303


def test_write_goes_chunk_by_chunk_and_reports_each_full_chunk(reference, monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK", 2)
    chunks, lines = [], []
    monkeypatch.setattr(pipeline, "write_chunk", lambda rows, *, destination: chunks.append(len(rows)))

    pipeline.write(
        [clean_row(n) for n in range(1, 6)],
        destination=destination(reference, make_batch(reference)),
        progress=lines.append,
    )

    assert chunks == [2, 2, 1]
    assert lines == [2, 4]


def test_write_appends_the_audit_events_once_every_row_is_stored(reference, monkeypatch):
    """While the chunks are written, the import writes nothing to the audit trail, and so does not take its chain's
    lock (audit.chain takes it at the first event a transaction appends): other audited changes do not wait for
    a large batch. The events are all there, in the order of the lines, at the end. On SQLite, whose transaction
    locks the whole database from its start, each chunk's events are appended with it (no spool to read back)."""
    monkeypatch.setattr(pipeline, "CHUNK", 2)
    batch = make_batch(reference)
    before = AuditEvent.objects.count()
    seen = []

    def midway(line: int) -> None:
        seen.append((line, AuditEvent.objects.count() - before))

    pipeline.write(
        [clean_row(n, reference=f"S-{n}") for n in range(1, 6)],
        destination=destination(reference, batch),
        progress=midway,
    )

    assert seen == ([(2, 2), (4, 4)] if connection.vendor == "sqlite" else [(2, 0), (4, 0)])
    events = AuditEvent.objects.filter(verb="case.created").order_by("pk")
    assert [e.after["line"] for e in events] == [1, 2, 3, 4, 5]
    assert [e.case_pk for e in events] == sorted(
        Case.objects.filter(reference__startswith="S-").values_list("pk", flat=True)
    )
