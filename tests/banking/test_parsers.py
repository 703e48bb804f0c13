"""Reading bank statements: camt.053 (001.02 to 001.08) and CFONB 120 in the layouts banks write, the sample
files of `tests/data/banking`, and every malformed file refused with what is wrong and where."""

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from amiable.banking.camt import camt_parse
from amiable.banking.cfonb import cfonb_parse
from amiable.banking.parsed import CAMT053, CFONB120
from amiable.banking.parsing import statement_file_parse
from amiable.core.exceptions import ApplicationError
from tests.banking.records import (
    AGENCY_IBAN,
    DATA,
    OTHER,
    OTHER_IBAN,
    amount,
    balance,
    cfonb,
    complement,
    movement,
)


def read(name: str):
    return statement_file_parse((DATA / name).read_bytes())


def refused(content: bytes) -> str:
    with pytest.raises(ApplicationError) as caught:
        statement_file_parse(content)
    return caught.value.message


# camt.053 -----------------------------------------------------------------------------------------------


def test_camt_001_02_statement_balances_and_entries():
    parsed = read("camt053-001.02-agence.xml")
    assert parsed.format == CAMT053
    (statement,) = parsed.statements
    assert statement.account == AGENCY_IBAN
    assert statement.is_account(AGENCY_IBAN) and statement.is_account("fr76 3000 6000 0112 3456 7890 189")
    assert not statement.is_account(OTHER_IBAN)
    assert statement.currency == "EUR" and statement.currencies == {"EUR"}
    assert (statement.opening_balance, statement.opening_on) == (Decimal("1133.00"), date(2026, 11, 23))
    assert (statement.closing_balance, statement.closing_on) == (Decimal("1396.50"), date(2026, 11, 23))
    assert statement.statement_id == "RELEVE-20261123"
    # The pending entry (Sts PDNG) is not on the balance: it is left for the statement that books it.
    assert [(e.amount, e.is_credit) for e in statement.entries] == [
        (Decimal("45.00"), True),
        (Decimal("30.00"), True),
        (Decimal("120.50"), True),
        (Decimal("12.00"), False),
        (Decimal("80.00"), True),
    ]
    assert all(isinstance(e.amount, Decimal) for e in statement.entries)


def test_camt_remittance_texts_references_and_counterparty():
    first, without_ref, structured, debit, batch = read("camt053-001.02-agence.xml").statements[0].entries
    # NtryRef wins over AcctSvcrRef; "NOTPROVIDED" is no end-to-end reference; accents kept.
    assert first.bank_ref == "2026112300001"
    assert first.texts == ("Règlement dossier CPAM-2026-00041", "Mme Éloïse Dupré", "VIR SEPA RECU /DE ELOISE DUPRE")
    assert first.counterparty == "Éloïse Dupré"
    assert (first.booked_on, first.value_on) == (date(2026, 11, 23), date(2026, 11, 23))
    assert without_ref.bank_ref == ""
    assert without_ref.texts == ("Remboursement dette", "E2E-778812")
    assert structured.texts == ("cpam-2026-00057", "PETIT-2026-11")
    assert structured.value_on == date(2026, 11, 24)
    assert debit.texts == ("FRAIS TENUE DE COMPTE NOVEMBRE",) and debit.counterparty == ""
    # An entry grouping several transactions keeps every transaction's texts and payers.
    assert batch.texts == ("CPAM-2026-00063", "CPAM-2026-00070", "REMISE DE VIREMENTS SEPA RECUS")
    assert batch.counterparty == "Paul Moreau, Julie Bernard"
    assert first.label == "Règlement dossier CPAM-2026-00041\nMme Éloïse Dupré\nVIR SEPA RECU /DE ELOISE DUPRE"


def test_camt_001_08_status_code_party_and_date_times():
    (statement,) = read("camt053-001.08-agence.xml").statements
    assert statement.account == AGENCY_IBAN  # written with spaces in the file
    assert statement.closing_on == date(2026, 11, 24)  # a DtTm balance date
    credit, unmatched, debit = statement.entries
    assert credit.booked_on == date(2026, 11, 24)  # BookgDt/DtTm
    assert credit.counterparty == "Éloïse Dupré"  # Dbtr/Pty/Nm (version 08)
    assert credit.texts == ("Dossier CPAM-2026-00041 échéance 2", "DUPRE-ECH2")
    assert unmatched.texts == ("Réf. CPAM-2026-000411",)
    assert not debit.is_credit and debit.counterparty == "CAISSE PRIMAIRE D'ASSURANCE MALADIE DE PARIS"


def _v02_as(namespace: str) -> bytes:
    content = (DATA / "camt053-001.02-agence.xml").read_bytes()
    return content.replace(b"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02", namespace.encode())


@pytest.mark.parametrize("version", ["02", "03", "04", "05", "06", "07", "08"])
def test_camt_versions_02_to_08_are_read(version):
    parsed = statement_file_parse(_v02_as(f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"))
    assert len(parsed.statements[0].entries) == 5


@pytest.mark.parametrize(
    "namespace",
    [
        "urn:iso:std:iso:20022:tech:xsd:camt.053.001.01",
        "urn:iso:std:iso:20022:tech:xsd:camt.053.001.09",
        "urn:iso:std:iso:20022:tech:xsd:camt.052.001.02",
        "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02",
        "urn:example:autre",
    ],
)
def test_camt_other_namespaces_are_refused(namespace):
    message = refused(_v02_as(namespace))
    assert message.startswith(f"Document XML non reconnu : « {namespace} » n'est pas un relevé camt.053")


def test_camt_other_xml_documents_are_refused():
    message = refused(b"<?xml version='1.0'?><facture><montant>12</montant></facture>")
    assert "« facture » n'est pas un relevé camt.053" in message


def test_camt_unreadable_xml_names_the_line():
    content = (DATA / "camt053-001.02-agence.xml").read_bytes()
    cut = content[: content.index(b"<Ntry>") + 40]
    assert refused(cut).startswith("Fichier XML illisible (ligne")


def test_camt_entities_and_document_types_are_refused_unresolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("CPAM-2026-00041")
    content = _v02_as("urn:iso:std:iso:20022:tech:xsd:camt.053.001.02").replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        f'<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY x SYSTEM "file://{secret}">]>'.encode(),
    )
    assert refused(content) == "Fichier XML refusé : il contient une déclaration DOCTYPE, qu'un relevé n'a pas."


def _replace(pattern: str, new: str, count: int = 1) -> bytes:
    text = (DATA / "camt053-001.02-agence.xml").read_text(encoding="utf-8")
    changed = re.sub(pattern, new, text, count=count, flags=re.S)
    assert changed != text
    return changed.encode()


def test_camt_reference_falls_back_to_the_account_servicer_reference():
    content = _replace(r"<NtryRef>2026112300001</NtryRef>", "")
    assert statement_file_parse(content).statements[0].entries[0].bank_ref == "AS-2026112300001"


@pytest.mark.parametrize(
    ("pattern", "new", "expected"),
    [
        (
            r"<Amt Ccy=\"EUR\">45.00</Amt>",
            '<Amt Ccy="EUR">45,00</Amt>',
            "mouvement, ligne 59 : montant « 45,00 » illisible.",
        ),
        (r"<Amt Ccy=\"EUR\">45.00</Amt>", '<Amt Ccy="EUR">45.001</Amt>', "montant « 45.001 » illisible"),
        (r"<Amt Ccy=\"EUR\">45.00</Amt>", "<Amt>45.00</Amt>", "la devise du montant (attribut Ccy) est absente"),
        (r"<CdtDbtInd>CRDT</CdtDbtInd>\s*<Sts>BOOK", "<CdtDbtInd>CR</CdtDbtInd><Sts>BOOK", "sens « CR » inconnu"),
        (r"<Dt>2026-11-23</Dt>\s*</BookgDt>", "<Dt>23/11/2026</Dt></BookgDt>", "date « 23/11/2026 » illisible"),
        (r"<BookgDt>.*?</BookgDt>", "", "mouvement, ligne 59 : la date est absente."),
        (r"<Cd>CLBD</Cd>", "<Cd>ITBD</Cd>", "le solde de clôture (Bal de type CLBD) est absent"),
        (r"<Cd>OPBD</Cd>", "<Cd>ITBD</Cd>", "le solde d'ouverture (Bal de type OPBD) est absent"),
        (r"<IBAN>.*?</IBAN>", "", "relevé RELEVE-20261123 (ligne 8) : le compte n'est pas identifié"),
    ],
)
def test_camt_bad_values_are_refused_with_where(pattern, new, expected):
    assert expected in refused(_replace(pattern, new))


def test_camt_previous_closing_balance_stands_for_a_missing_opening_balance():
    parsed = statement_file_parse(_replace(r"<Cd>OPBD</Cd>", "<Cd>PRCD</Cd>"))
    assert parsed.statements[0].opening_balance == Decimal("1133.00")


def test_camt_debit_balance_is_negative():
    content = _replace(
        r"<Amt Ccy=\"EUR\">1133.00</Amt>\s*<CdtDbtInd>CRDT", '<Amt Ccy="EUR">1133.00</Amt><CdtDbtInd>DBIT'
    )
    message = refused(content)  # now the sum no longer adds up: -1133.00 + 263.50 is not 1396.50
    assert "l'ancien solde -1\u202f133,00\u00a0€ et les mouvements donnent -869,50\u00a0€" in message


def test_camt_statement_that_does_not_add_up_is_refused():
    message = refused(_replace(r"<Amt Ccy=\"EUR\">1396.50</Amt>", '<Amt Ccy="EUR">1396.40</Amt>'))
    assert message == (
        "Relevé incohérent (relevé RELEVE-20261123 (ligne 8)) : l'ancien solde 1\u202f133,00\u00a0€ et les "
        "mouvements donnent 1\u202f396,50\u00a0€, le nouveau solde dit 1\u202f396,40\u00a0€. "
        "Le fichier est peut-être incomplet."
    )


def test_camt_without_statement_is_refused():
    content = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt/></Document>'
    assert refused(content) == "Le relevé camt.053 ne contient aucun relevé de compte (élément Stmt)."


def test_camt_currency_of_the_account_and_of_each_entry():
    (statement,) = read("camt053-001.02-usd.xml").statements
    assert statement.currency == "USD" and statement.entries[0].currency == "USD"
    mixed = _replace(r"<Amt Ccy=\"EUR\">12.00</Amt>", '<Amt Ccy="CHF">12.00</Amt>')
    assert statement_file_parse(mixed).statements[0].currencies == {"EUR", "CHF"}


def test_camt_reader_alone_reads_a_document():
    assert camt_parse((DATA / "camt053-001.08-agence.xml").read_bytes()).statements[0].entries[0].bank_ref


# CFONB 120 -------------------------------------------------------------------------------------------------


def test_cfonb_bank_a_crlf_latin1_with_complements():
    parsed = read("cfonb120-banque-a.txt")
    assert parsed.format == CFONB120
    (statement,) = parsed.statements
    assert statement.account == "300060000112345678901"
    assert statement.is_account(AGENCY_IBAN) and statement.is_account("FR76 3000 6000 0112 3456 7890 189")
    assert not statement.is_account(OTHER_IBAN) and not statement.is_account("DE89370400440532013000")
    assert statement.account_display == "banque 30006, guichet 00001, compte 12345678901"
    assert (statement.opening_balance, statement.opening_on) == (Decimal("1231.50"), date(2026, 11, 25))
    assert (statement.closing_balance, statement.closing_on) == (Decimal("1124.10"), date(2026, 11, 26))
    assert statement.where == "lignes 1 à 15"
    first, spread, cash, fee1, fee2, remittance = statement.entries
    assert first.texts == ("VIR SEPA RECU /DE Éloïse Dupré", "Éloïse Dupré", "CPAM75-0000002 ÉCHÉANCE NOVEMBRE")
    assert first.counterparty == "Éloïse Dupré" and first.bank_ref == "VR26112600000001"
    assert (first.amount, first.is_credit, first.booked_on) == (Decimal("45.00"), True, date(2026, 11, 26))
    # A label spread over 05 records: each complement follows the movement's own label.
    assert spread.label == (
        "VIR SEPA RECU /DE MME A-S DE LA\nFONTAINE-MARCHAND /MOTIF RÈGLEMENT SOLDE\nDOSSIER CPAM-2026-00088 MERCI\n"
        "ANNE-SOPHIE DE LA FONTAINE-MARCHAND"
    )
    assert cash.bank_ref == "" and cash.texts == ("VERSEMENT ESPECES",)
    assert (
        replace(fee1, where="") == replace(fee2, where="")
        and not fee1.is_credit
        and fee1.amount == Decimal("1.20")
        and fee1.where == "ligne 10"
    )
    assert fee2.where == "ligne 11"
    assert remittance.counterparty == "CAISSE PRIMAIRE D'ASSURANCE MALADIE DE PARIS"  # NBE of a debit


def test_cfonb_several_statements_trimmed_lines_lf():
    parsed = read("cfonb120-banque-a-chevauchement.txt")
    first, second = parsed.statements
    assert [e.bank_ref for e in first.entries] == [e.bank_ref for e in read("cfonb120-banque-a.txt").entries]
    assert second.opening_on == date(2026, 11, 26) and second.closing_balance == Decimal("1157.90")
    assert len(parsed.entries) == 8


def test_cfonb_bank_b_without_line_breaks_utf8():
    (statement,) = read("cfonb120-banque-b.txt").statements
    assert statement.where == "enregistrements 1 à 8"
    raphael, gautier, fee = statement.entries
    assert raphael.texts == ("VIR DE M FRANÇOIS RAPHAËL", "RÉF CPAM75-0000001")
    assert raphael.value_on == date(2026, 11, 19) and raphael.bank_ref == ""
    assert gautier.counterparty == "LÉON GAUTIER"
    assert fee.amount == Decimal("2.50") and not fee.is_credit


def _without_where(parsed):
    return [
        (
            s.account,
            s.opening_balance,
            s.closing_balance,
            [(e.amount, e.is_credit, e.texts, e.bank_ref) for e in s.entries],
        )
        for s in parsed.statements
    ]


@pytest.mark.parametrize(
    "layout",
    [
        lambda lines: "\r\n".join(lines).encode("cp1252"),
        lambda lines: "\n".join(lines).encode("latin-1"),
        lambda lines: "\n".join(line.rstrip() for line in lines).encode("utf-8"),
        lambda lines: "".join(lines).encode("utf-8"),
        lambda lines: "".join(lines).encode("cp1252"),
        lambda lines: ("\r\n\r\n".join(lines) + "\r\n\x1a").encode("utf-8-sig"),
    ],
    ids=["crlf-cp1252", "lf-latin1", "trimmed-utf8", "unwrapped-utf8", "unwrapped-cp1252", "blank-lines-bom-eof"],
)
def test_cfonb_layouts_read_alike(layout):
    lines = (DATA / "cfonb120-banque-a.txt").read_bytes().decode("cp1252").splitlines()
    assert _without_where(statement_file_parse(layout(lines))) == _without_where(read("cfonb120-banque-a.txt"))


@pytest.mark.parametrize(
    ("zone", "expected"),
    [(f"0000000001234{c}", Decimal(f"123.4{d}")) for d, c in enumerate("{ABCDEFGHI")]
    + [(f"0000000001234{c}", Decimal(f"-123.4{d}")) for d, c in enumerate("}JKLMNOPQR")],
)
def test_cfonb_signed_overpunch(zone, expected):
    opening = balance("01", "0.00")
    line = opening[:90] + zone + opening[104:]
    closing = balance("07", str(expected))
    assert cfonb_parse(cfonb(line, closing)).statements[0].opening_balance == expected


@pytest.mark.parametrize(
    ("decimals", "expected"), [(0, Decimal("12345.00")), (3, Decimal("12.35")), (2, Decimal("123.45"))]
)
def test_cfonb_number_of_decimals(decimals, expected):
    opening = balance("01", "0")
    line = opening[:19] + str(decimals) + opening[20:90] + "0000000001234E" + opening[104:]
    if decimals == 3:
        line = line[:90] + "0000000001235{" + line[104:]
    parsed = cfonb_parse(cfonb(line, balance("07", str(expected))))
    assert parsed.statements[0].opening_balance == expected


def test_cfonb_more_decimals_than_cents_are_refused():
    opening = balance("01", "0")
    line = opening[:19] + "3" + opening[20:90] + "0000000001234E" + opening[104:]
    assert "ligne 1 : montant à plus de deux décimales (12.345)" in refused(cfonb(line, balance("07", "0")))


def test_cfonb_movement_direction_and_value_date():
    content = cfonb(
        balance("01", "10.00", day="251126"),
        movement("-2.35", "PRLV", day="261126", value_day="000000"),
        movement("0.00", "INFO", day="261126", value_day="      "),
        balance("07", "7.65"),
    )
    debit, nothing = statement_file_parse(content).statements[0].entries
    assert (debit.amount, debit.is_credit, debit.value_on) == (Decimal("2.35"), False, None)
    assert (nothing.amount, nothing.is_credit, nothing.value_on) == (Decimal("0.00"), True, None)


def test_cfonb_other_account_file():
    (statement,) = read("cfonb120-autre-compte.txt").statements
    assert statement.account == "".join(OTHER)
    assert statement.is_account(OTHER_IBAN) and not statement.is_account(AGENCY_IBAN)


CFONB_ERRORS = [
    (
        [balance("01", "0"), "03" + balance("04", "0")[2:], balance("07", "0")],
        "Relevé CFONB, ligne 2 : type d'enregistrement « 03 » inconnu (01, 04, 05 ou 07 attendu).",
    ),
    (
        [balance("01", "0"), movement("1.00", "VIR")[:95], balance("07", "1.00")],
        "Relevé CFONB, ligne 2 : enregistrement 04 tronqué (95 caractères utiles, 104 au moins attendus).",
    ),
    (
        [balance("01", "0"), movement("1.00", "VIR").replace("0000000000010{", "0000000000010X"), balance("07", "1")],
        "Relevé CFONB, ligne 2 : montant « 0000000000010X » illisible (13 chiffres et un caractère de signe "
        "attendus, nombre de décimales « 2 »).",
    ),
    (
        [balance("01", "0"), movement("1.00", "VIR").replace("0000000000010{", "00000000 0010{"), balance("07", "1")],
        "Relevé CFONB, ligne 2 : montant « 00000000 0010{ » illisible",
    ),
    (
        [balance("01", "0"), balance("07", "0", key=OTHER)],
        "Relevé CFONB, ligne 2 : l'enregistrement 07 est d'un autre compte (banque 30004, guichet 00820, compte "
        "00098765432) que l'ancien solde de la ligne 1 (banque 30006, guichet 00001, compte 12345678901).",
    ),
    (
        [balance("01", "0"), movement("1.00", "VIR", key=OTHER), balance("07", "1")],
        "Relevé CFONB, ligne 2 : l'enregistrement 04 est d'un autre compte",
    ),
    (
        [balance("01", "0"), complement("LIB", "SEUL"), balance("07", "0")],
        "Relevé CFONB, ligne 2 : complément (05) sans mouvement (04) qui le précède.",
    ),
    (
        [balance("01", "0"), movement("1.00", "VIR")],
        "Relevé CFONB incomplet : le relevé commencé à la ligne 1 n'a pas de nouveau solde (07) ; le fichier est "
        "peut-être tronqué.",
    ),
    (
        [balance("01", "0"), balance("01", "0"), balance("07", "0")],
        "Relevé CFONB, ligne 2 : un nouveau relevé (01) commence alors que celui de la ligne 1 n'a pas de nouveau "
        "solde (07).",
    ),
    (
        [balance("01", "0"), balance("07", "0"), movement("1.00", "VIR")],
        "Relevé CFONB, ligne 3 : enregistrement 04 hors d'un relevé (l'ancien solde 01 manque).",
    ),
    (
        [balance("01", "0"), movement("1.00", "VIR", day="311126"), balance("07", "1")],
        "Relevé CFONB, ligne 2 : date de comptabilisation « 311126 » illisible (JJMMAA).",
    ),
    (
        [balance("01", "0", day="2611AB"), balance("07", "0")],
        "Relevé CFONB, ligne 1 : date de l'ancien solde « 2611AB » illisible (JJMMAA).",
    ),
    (
        [balance("01", "0", currency="E$R"), balance("07", "0", currency="E$R")],
        "Relevé CFONB, ligne 1 : code devise « E$R » illisible.",
    ),
    (
        [balance("01", "0"), movement("1.00", "VIR") + "ZZ", balance("07", "1")],
        "Relevé CFONB, ligne 2 : 122 caractères au lieu de 120",
    ),
    (
        [balance("01", "10.00"), movement("1.00", "VIR"), balance("07", "10.00")],
        "Relevé incohérent (lignes 1 à 3) : l'ancien solde 10,00\u00a0€ et les mouvements donnent 11,00\u00a0€, le "
        "nouveau solde dit 10,00\u00a0€. Le fichier est peut-être incomplet.",
    ),
]


@pytest.mark.parametrize(("lines", "expected"), CFONB_ERRORS)
def test_cfonb_malformed_files_are_refused_with_where(lines, expected):
    content = ("\r\n".join(lines) + "\r\n").encode("cp1252")
    assert refused(content).startswith(expected)


def test_cfonb_errors_in_unwrapped_files_name_the_record():
    content = (balance("01", "0") + "03" + balance("04", "0")[2:] + balance("07", "0")).encode()
    assert refused(content).startswith("Relevé CFONB, enregistrement 2 : type d'enregistrement « 03 » inconnu")


def test_cfonb_record_amount_helper_matches_the_samples():
    assert amount("-1.20") == "0000000000012}" and amount("45.00") == "0000000000450{"


# Neither format ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "Le fichier est vide."),
        (b"  \r\n", "Le fichier est vide."),
        (
            b"Date;Libelle;Montant\r\n26/11/2026;VIR;45,00\r\n",
            "Fichier non reconnu : ce n'est ni un relevé camt.053 (XML) ni un relevé CFONB 120 (il commence par "
            "« Date;Libelle;Montant »).",
        ),
        (b"%PDF-1.7\n", "Fichier non reconnu : ce n'est ni un relevé camt.053 (XML) ni un relevé CFONB 120"),
        (b"0130006", "Relevé CFONB, ligne 1 : enregistrement 01 tronqué"),
    ],
)
def test_files_of_neither_format_are_refused(content, expected):
    assert refused(content).startswith(expected)
