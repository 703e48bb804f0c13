"""`amiable.intake.validation`: amounts, dates, the row rules (rejections with French messages), contact
normalisation and flags, and what the import stores for flagged rows (doubtful contacts, investigation task)."""

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amiable.cases.models import Case, ContactPoint, Task
from amiable.intake.models import BatchCase, BatchSource
from amiable.intake.services import batch_import
from amiable.intake.validation import (
    _normalise_email_any,
    _normalise_phone_any,
    normalise_civility,
    normalise_email,
    normalise_phone,
    parse_amount,
    parse_date,
    structure_lookup,
    text,
    validate_row,
)

TODAY = date(2026, 11, 27)
CODES = {"CSR": "CSR", "CDOP": "CDOP", "CESA": "CESA"}


def excel_date(iso: str) -> datetime:
    """A spreadsheet date cell: a naive datetime at midnight, as openpyxl reads it (Excel has no time zone)."""
    return datetime.fromisoformat(iso)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def row(**values) -> dict:
    base = {
        "reference": "REF-1",
        "structure": "CSR",
        "last_name": "Dupont",
        "principal_amount": "10,00",
        "address_line1": "1 rue de la Paix",
        "postal_code": "75002",
        "city": "Paris",
    }
    base.update(values)
    return base


def check(values: dict, *, default_structure=None, today=TODAY):
    return validate_row(
        values, line=1, file_line=2, structure_codes=CODES, default_structure=default_structure, today=today
    )


def reasons(values: dict, **kwargs) -> list[str]:
    clean, errors = check(values, **kwargs)
    assert (clean is None) == bool(errors)
    return [error.reason for error in errors]


# --- amounts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1 234,56", Decimal("1234.56")),
        ("1\u00a0234,56", Decimal("1234.56")),
        ("1\u202f234,56", Decimal("1234.56")),
        ("1.234,56", Decimal("1234.56")),
        ("1.234.567,89", Decimal("1234567.89")),
        ("1234.56", Decimal("1234.56")),
        ("1234,5", Decimal("1234.50")),
        ("12 €", Decimal("12.00")),
        ("12,30 €", Decimal("12.30")),
        ("€ 12,30", Decimal("12.30")),
        ("12,30 EUR", Decimal("12.30")),
        ("  42  ", Decimal("42.00")),
        ("+7", Decimal("7.00")),
        ("-5", Decimal("-5.00")),
        ("-5,25", Decimal("-5.25")),
        ("0", Decimal("0.00")),
        (31.48, Decimal("31.48")),
        (0.1, Decimal("0.10")),
        (12, Decimal("12.00")),
        (Decimal("7.5"), Decimal("7.50")),
        ("12.340", Decimal("12.34")),  # a trailing zero is not a third decimal
    ],
)
def test_parse_amount_reads(value, expected):
    amount, problem = parse_amount(value)

    assert problem is None
    assert amount == expected
    assert amount.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("12,345", "three_decimals"),
        ("0,001", "three_decimals"),
        ("1.5", None),
        (31.485, "three_decimals"),
        ("€€", "non_numeric"),
        ("abc", "non_numeric"),
        ("12,34,56", "non_numeric"),
        ("1,234.56", "non_numeric"),
        ("1.23,45", "non_numeric"),
        ("12.", "non_numeric"),
        ("1e3", "non_numeric"),
        ("NaN", "non_numeric"),
        (float("inf"), "non_numeric"),
        (True, "non_numeric"),
        ("", "missing"),
        ("   ", "missing"),
        (None, "missing"),
    ],
)
def test_parse_amount_problems(value, problem):
    amount, found = parse_amount(value)

    assert found == problem
    if problem:
        assert amount is None


# --- dates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected", "ok"),
    [
        ("31/02/2025", None, False),
        ("29/02/2025", None, False),
        ("29/02/2024", date(2024, 2, 29), True),
        ("18/06/2025", date(2025, 6, 18), True),
        ("1/6/2025", date(2025, 6, 1), True),
        ("2025-06-18", date(2025, 6, 18), True),
        ("2025-06-18 00:00:00", date(2025, 6, 18), True),
        ("2025-13-01", None, False),
        ("18.06.2025", None, False),
        ("18/06/25", None, False),
        ("demain", None, False),
        (excel_date("2025-06-18"), date(2025, 6, 18), True),
        (date(2025, 6, 18), date(2025, 6, 18), True),
        ("", None, True),
        (None, None, True),
    ],
)
def test_parse_date(value, expected, ok):
    assert parse_date(value) == (expected, ok)


# --- row rules -----------------------------------------------------------------------------------------


def test_valid_row_is_clean():
    clean, errors = check(row(civility="Mme.", first_name="Anne", initial_amount="20,00", claim_date="01/02/2025"))

    assert errors == []
    assert (clean.reference, clean.structure_code, clean.civility) == ("REF-1", "CSR", "MME")
    assert (clean.last_name, clean.first_name) == ("Dupont", "Anne")
    assert (clean.balance, clean.initial_amount) == (Decimal("10.00"), Decimal("20.00"))
    assert clean.claim_date == date(2025, 2, 1)
    assert clean.flags == []
    assert clean.needs_address_investigation is False
    assert (clean.line, clean.file_line) == (1, 2)


def test_future_claim_date_is_rejected_today_is_not():
    clean, errors = check(row(claim_date="28/11/2026"))
    assert clean is None
    [error] = errors
    assert (error.reason, error.column, error.message) == ("future_date", "date de la créance", "date dans le futur")
    assert error.value == "28/11/2026"

    assert reasons(row(claim_date="27/11/2026")) == []
    assert reasons(row(claim_date=excel_date("2026-11-28"))) == ["future_date"]


def test_invalid_claim_date_is_rejected():
    [error] = check(row(claim_date="31/02/2025"))[1]

    assert error.reason == "invalid_date"
    assert error.message == "date invalide (attendu jj/mm/aaaa ou aaaa-mm-jj)"


def test_balance_above_initial_amount_is_rejected():
    [error] = check(row(principal_amount="95,50", initial_amount="10,00"))[1]

    assert error.reason == "balance_above_initial"
    assert error.column == "solde"
    assert error.message == "le solde dépasse le montant initial"
    assert reasons(row(principal_amount="10,00", initial_amount="10,00")) == []


def test_initial_amount_defaults_to_the_balance():
    clean, _ = check(row(principal_amount="10,00"))
    assert clean.initial_amount == Decimal("10.00")

    clean, _ = check(row(principal_amount="10,00", initial_amount="  "))
    assert clean.initial_amount == Decimal("10.00")


def test_unreadable_initial_amount_is_rejected():
    [error] = check(row(initial_amount="beaucoup"))[1]

    assert (error.reason, error.column, error.message) == (
        "invalid_initial_amount",
        "montant initial",
        "montant initial illisible",
    )


@pytest.mark.parametrize(
    ("solde", "reason", "message"),
    [
        ("", "missing_balance", "solde absent"),
        ("0,00", "zero_balance", "solde nul"),
        ("-135,53", "negative_balance", "solde négatif"),
        ("-5", "negative_balance", "solde négatif"),
        ("€€", "non_numeric_balance", "solde illisible : ce n'est pas un montant"),
        ("12,345", "three_decimals", "plus de 2 décimales"),
    ],
)
def test_balance_rules(solde, reason, message):
    [error] = check(row(principal_amount=solde))[1]

    assert (error.reason, error.column, error.message) == (reason, "solde", message)


def test_blank_reference_and_name_are_rejected_together():
    errors = check(row(reference="  ", last_name="\u00a0"))[1]

    assert [(e.reason, e.column, e.message) for e in errors] == [
        ("missing_reference", "référence", "référence absente"),
        ("missing_name", "nom", "nom absent"),
    ]


def test_structure_rules():
    assert reasons(row(structure="CSR2")) == ["unknown_structure"]
    assert check(row(structure="CSR2"))[1][0].message == "structure inconnue pour ce créancier"
    assert check(row(structure="csr"))[0].structure_code == "CSR"
    assert reasons(row(structure="")) == ["missing_structure"]
    assert check(row(structure=""), default_structure="CESA")[0].structure_code == "CESA"
    assert check(row(structure="CDOP"), default_structure="CESA")[0].structure_code == "CDOP"


def test_structure_lookup_accepts_codes_and_names(reference):
    lookup = structure_lookup([reference.csr, reference.cdop, reference.cesa])

    clean, errors = validate_row(
        row(structure="centre de santé réaumur"),
        line=1,
        file_line=2,
        structure_codes=lookup,
        default_structure=None,
        today=TODAY,
    )
    assert errors == []
    assert clean.structure_code == "CSR"


def test_text_is_trimmed_and_inner_spaces_collapsed():
    clean, _ = check(row(last_name="  Le   Gall ", first_name="Anne\u00a0 Marie", reference=" REF-1 "))

    assert (clean.last_name, clean.first_name, clean.reference) == ("Le Gall", "Anne Marie", "REF-1")


# --- civility, phone, e-mail ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("M.", "M"),
        ("M", "M"),
        ("MR", "M"),
        ("Mr.", "M"),
        ("Monsieur", "M"),
        ("monsieur", "M"),
        ("Mme", "MME"),
        ("Mme.", "MME"),
        ("MME", "MME"),
        ("Madame", "MME"),
        ("Mlle", "MME"),
        ("", ""),
        ("Dr", ""),
    ],
)
def test_normalise_civility(raw, expected):
    assert normalise_civility(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("01.51.45.06.12", "+33151450612"),
        ("06 46 11 13 93", "+33646111393"),
        ("0689290075", "+33689290075"),
        ("+33 7 30 58 21 57", "+33730582157"),
        ("+32 2 511 12 34", "+3225111234"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+33 0 00 00 00 00", None),
        ("06 12 34", None),
        ("12345", None),
        ("pas de téléphone", None),
    ],
)
def test_normalise_phone(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0692 12 34 56", "+262692123456"),
        ("0262 41 23 45", "+262262412345"),
        ("0590 12 34 56", "+590590123456"),
        ("0694 20 12 34", "+594694201234"),
    ],
)
def test_normalise_phone_of_overseas_departments(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("michel.roux3@gmail.com", "michel.roux3@gmail.com"),
        ("Anne.Dupont@Example.COM", "Anne.Dupont@example.com"),
        ("x@y", None),
        ("jean.dupont@", None),
        ("pas d'email", None),
    ],
)
def test_normalise_email(raw, expected):
    assert normalise_email(raw) == expected


# The quick readings of the usual phone numbers and addresses must answer exactly what the libraries answer.
DIGITS = st.text(alphabet="0123456789", min_size=9, max_size=9)


@settings(max_examples=3000, deadline=None)
@given(digits=DIGITS, separator=st.sampled_from(["", " ", ".", "-"]))
def test_quick_phone_reading_answers_as_phonenumbers(digits, separator):
    raw = "0" + digits[0] + separator + separator.join(digits[i : i + 2] for i in range(1, 9, 2))
    assert normalise_phone(raw) == _normalise_phone_any(raw)


def test_quick_phone_reading_of_every_prefix():
    """Every three-digit prefix of the French and overseas plans (mobiles, Mayotte's 0639, overseas 0590…)."""
    for prefix in range(100, 1000):
        for suffix in ("000000", "123456", "999999"):
            raw = f"0{prefix}{suffix}"
            assert normalise_phone(raw) == _normalise_phone_any(raw), raw


LOCAL_PARTS = ["a", "A.b", "marie.dupont3", "chloé.léa12", "Œuvre", "e\u0301ric", "postmaster", "Abuse", "a..b"]
LOCAL_PARTS += [".a", "a.", "a+b", "a b", '"a"', "x" * 64, "x" * 250, "é" * 130, "a@b"]
DOMAINS = ["exemple.fr", "EXEMPLE.FR", "sub.exemple.co.uk", "localhost", "x.test", "b.invalid", "a..fr", "-a.fr"]
DOMAINS += ["a-.fr", "1.2.3.4", "a.123", "xn--bcher-kva.de", "é.fr", "exemple.fr.", "a" * 70 + ".fr", "ab", "[1.2.3.4]"]


@settings(max_examples=2000, deadline=None)
@given(
    local=st.one_of(st.sampled_from(LOCAL_PARTS), st.text(alphabet="abZ09._-+éœ\"<> !#'`~@\u0301", max_size=12)),
    domain=st.one_of(st.sampled_from(DOMAINS), st.text(alphabet="abZ09.-_éx", max_size=12)),
)
def test_quick_email_reading_answers_as_email_validator(local, domain):
    for raw in (f"{local}@{domain}", local):
        assert normalise_email(raw) == _normalise_email_any(raw), raw


def test_text_collapses_every_kind_of_space_as_before():
    """`text` splits and joins where it used a regular expression: the same result for every character."""
    spaces = re.compile(r"[\s\u00a0\u202f\u2009]+")
    for code in range(0x3100):
        c = chr(code)
        for value in (f"a{c}{c}b ", f"{c}x", f"x{c}", c, f"a {c} b"):
            assert text(value) == spaces.sub(" ", value).strip(), hex(code)


def test_contacts_of_a_row():
    clean, _ = check(row(phone="06 46 11 13 93", email="anne@example.com", address_line2="Bât. B", country="France"))

    by_kind = {c.kind: c for c in clean.contacts}
    assert set(by_kind) == {"address", "phone", "email"}
    assert (by_kind["phone"].value, by_kind["phone"].raw_value, by_kind["phone"].quality) == (
        "+33646111393",
        "06 46 11 13 93",
        "valid",
    )
    assert (by_kind["email"].value, by_kind["email"].quality) == ("anne@example.com", "valid")
    address = by_kind["address"]
    assert (address.line1, address.line2, address.postal_code, address.city, address.country) == (
        "1 rue de la Paix",
        "Bât. B",
        "75002",
        "PARIS",
        "FR",
    )
    assert address.quality == "valid"
    assert clean.flags == []


def test_invalid_phone_and_email_are_kept_doubtful_and_flagged():
    clean, errors = check(row(phone="+33 0 00 00 00 00", email="pas d'email"))

    assert errors == []
    assert clean.flags == ["invalid_phone", "invalid_email"]
    by_kind = {c.kind: c for c in clean.contacts}
    assert (by_kind["phone"].quality, by_kind["phone"].value, by_kind["phone"].raw_value) == (
        "doubtful",
        "",
        "+33 0 00 00 00 00",
    )
    assert (by_kind["email"].quality, by_kind["email"].value, by_kind["email"].raw_value) == (
        "doubtful",
        "",
        "pas d'email",
    )
    assert clean.needs_address_investigation is False


# --- postal codes and addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("postcode", "country", "flagged"),
    [
        ("750111", "", True),
        ("7501", "", True),
        ("00100", "", True),
        ("96100", "France", True),
        ("99000", "", True),
        ("", "", True),
        ("75 011", "", True),
        ("75011", "", False),
        ("75011", "FRANCE", False),
        ("75011", "fr", False),
        ("97400", "", False),
        ("98800", "", False),
        ("20000", "", False),
        ("01000", "", False),
        ("1000", "Belgique", False),
        ("SW1A 1AA", "Royaume-Uni", False),
        ("", "Suisse", False),
    ],
)
def test_postcode_rules(postcode, country, flagged):
    clean, errors = check(row(postal_code=postcode, country=country))

    assert errors == []
    assert ("invalid_postcode" in clean.flags) is flagged
    assert clean.needs_address_investigation is flagged
    [address] = [c for c in clean.contacts if c.kind == "address"]
    assert address.quality == ("doubtful" if flagged else "valid")
    assert address.postal_code == postcode


def test_missing_address_is_flagged_and_investigated():
    clean, errors = check(row(address_line1="", address_line2="", postal_code="", city=""))

    assert errors == []
    assert clean.flags == ["missing_address"]
    assert clean.needs_address_investigation is True
    assert [c for c in clean.contacts if c.kind == "address"] == []


def test_address_with_only_a_complement_uses_it_as_first_line():
    clean, _ = check(row(address_line1="", address_line2="Résidence Les Pins"))

    [address] = [c for c in clean.contacts if c.kind == "address"]
    assert (address.line1, address.line2) == ("Résidence Les Pins", "")
    assert "missing_address" not in clean.flags


@pytest.mark.parametrize(("country", "iso"), [("Allemagne", "DE"), ("Royaume-Uni", "GB"), ("Suisse", "CH")])
def test_foreign_country_is_stored_as_its_iso_code_or_left_unknown(country, iso):
    clean, _ = check(row(postal_code="10115", city="Berlin", country=country))

    [address] = [c for c in clean.contacts if c.kind == "address"]
    assert address.country in {iso, ""}
    assert country in address.raw_value


# --- formula-like text ---------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["last_name", "first_name", "address_line1", "city", "basis", "reference"])
@pytest.mark.parametrize("text", ["=1+1", "@SUM(1+1)", "+cmd|' /C calc'!A0", "-2+3"])
def test_formula_text_is_flagged_and_kept(column, text):
    clean, errors = check(row(**{column: text}))

    assert errors == []
    assert "formula_injection" in clean.flags
    if column == "first_name":
        assert clean.first_name == text


def test_phone_in_international_format_is_not_formula_text():
    clean, _ = check(row(phone="+33 6 46 11 13 93"))

    assert "formula_injection" not in clean.flags


# --- through the import: what is stored for flagged rows ---------------------------------------------


def test_import_stores_flags_contacts_and_investigation_tasks(reference, gnupg_home, media):
    content = (
        b"reference;structure;nom;prenom;adresse1;code_postal;ville;pays;telephone;email;solde;date_creance\n"
        b"R-1;CSR;Sans;Adresse;;;;;06 46 11 13 93;;10,00;01/02/2025\n"
        b"R-2;CSR;Mauvais;Code;1 rue A;750111;Paris;;;;10,00;\n"
        b"R-3;CSR;Etranger;Ok;1 Grand-Place;1000;Bruxelles;Belgique;;;10,00;\n"
        b"R-4;CSR;Outre;Mer;1 rue B;97400;Saint-Denis;;+33 0 00 00 00 00;x@y;10,00;\n"
        b"R-5;CSR;Futur;Date;1 rue C;75011;Paris;;;;10,00;28/11/2099\n"
    )

    outcome = batch_import(
        creditor=reference.cpam, content=content, filename="lot.csv", source=BatchSource.COMMAND, actor=None
    )

    assert outcome.status == "accepted", outcome.error
    assert (outcome.accepted, outcome.rejected) == (4, 1)
    [rejected] = outcome.as_json()["rejected_rows"]
    assert rejected["reference"] == "R-5"
    assert rejected["errors"][0]["message"] == "date dans le futur"
    assert outcome.flags == {"invalid_email": 1, "invalid_phone": 1, "invalid_postcode": 1, "missing_address": 1}
    flags = dict(BatchCase.objects.values_list("case__reference", "flags"))
    assert flags == {
        "R-1": ["missing_address"],
        "R-2": ["invalid_postcode"],
        "R-3": [],
        "R-4": ["invalid_phone", "invalid_email"],
    }

    tasks = {task.case.reference: task for task in Task.objects.select_related("case")}
    assert set(tasks) == {"R-1", "R-2"}
    assert all(t.kind == "address_investigation" and t.status == "open" for t in tasks.values())
    assert tasks["R-1"].reason == "Adresse absente"
    assert "code postal" in tasks["R-2"].reason

    missing = Case.objects.get(reference="R-1")
    assert not ContactPoint.objects.filter(debtor=missing.debtor, kind="address").exists()
    assert ContactPoint.objects.get(debtor=missing.debtor, kind="phone").value == "+33646111393"
    foreign = ContactPoint.objects.get(debtor=Case.objects.get(reference="R-3").debtor, kind="address")
    assert (foreign.quality, foreign.postal_code) == ("valid", "1000")
    overseas = Case.objects.get(reference="R-4").debtor
    assert ContactPoint.objects.get(debtor=overseas, kind="address").quality == "valid"
    phone = ContactPoint.objects.get(debtor=overseas, kind="phone")
    email = ContactPoint.objects.get(debtor=overseas, kind="email")
    assert (phone.quality, phone.raw_value) == ("doubtful", "+33 0 00 00 00 00")
    assert (email.quality, email.raw_value) == ("doubtful", "x@y")


def test_postcode_from_a_number_cell_gets_its_leading_zero_back():
    clean, errors = check(row(postal_code=1000, city="Bourg-en-Bresse"))
    assert errors == []
    assert clean.contacts[0].postal_code == "01000"
    assert "invalid_postcode" not in clean.flags


def test_town_without_street_is_kept_for_the_investigation_and_flagged():
    clean, errors = check(row(address_line1="", postal_code="75011", city="Paris"))
    assert errors == []
    assert clean.flags == ["missing_address"]
    assert clean.needs_address_investigation
    [address] = [c for c in clean.contacts if c.kind == "address"]
    assert (address.quality, address.line1, address.postal_code, address.city) == ("doubtful", "", "75011", "PARIS")
    assert address.raw_value == "75011 Paris"


def test_reference_longer_than_64_characters_is_rejected_not_truncated():
    clean, errors = check(row(reference="R" * 65))
    assert clean is None
    assert [(e.reason, e.message) for e in errors] == [
        ("reference_too_long", "référence trop longue (64 caractères au plus)")
    ]
    assert reasons(row(reference="R" * 64)) == []
