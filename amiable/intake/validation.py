"""The row rules of a batch (samples/README.md): what rejects a row, what only flags it, and how contact
details are normalised. Pure functions: no database access, so they are fast and easy to test."""

import functools
import gettext
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import ATEXT, CASE_INSENSITIVE_MAILBOX_NAMES, EMAIL_MAX_LENGTH

from amiable.intake.parsing import RawRow, column_label, normalise_header

FORMULA_PREFIXES = ("=", "+", "-", "@")
# Free-text columns checked for formula-like text; phone and e-mail are normalised, amounts and dates parsed.
TEXT_COLUMNS = (
    "reference",
    "civility",
    "last_name",
    "first_name",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "country",
    "basis",
)
CIVILITIES = {
    "m": "M",
    "mr": "M",
    "monsieur": "M",
    "mme": "MME",
    "madame": "MME",
    "mlle": "MME",
    "mademoiselle": "MME",
}
FRANCE = {"", "fr", "fra", "france"}
MAX_AMOUNT = Decimal("10000000000")  # 10 billion euros: 12 digits with the cents
OVERSEAS_REGIONS = ("RE", "YT", "GP", "MQ", "GF", "PM", "BL", "MF", "NC", "PF", "WF")
REFERENCE_MAX = 64
# Metropolitan départements 01–95 (Corsica 20xxx), overseas 97x and 98x.
FRENCH_POSTCODE = re.compile(r"^(?:0[1-9]|[1-8]\d|9[0-5]|97|98)\d{3}$")
AMOUNT_COMMA = re.compile(r"^(?:\d{1,3}(?:\.\d{3})+|\d+),\d+$")
AMOUNT_PLAIN = re.compile(r"^\d+(?:[.,]\d+)?$")
SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
DATE_FR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
# « 0612345678 », « 06 12 34 56 78 », « 06.12.34.56.78 », « 06-12-34-56-78 »: the national significant number.
FRENCH_NATIONAL_PHONE = re.compile(r"^0([1-9])[ .-]?([0-9]{2})[ .-]?([0-9]{2})[ .-]?([0-9]{2})[ .-]?([0-9]{2})\Z")
SIMPLE_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\Z")
CASE_INSENSITIVE = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)
# A dot-atom local part of ASCII and precomposed French letters (already in Unicode normal form C): what
# email_validator keeps as it is.
_LOCAL_CHARACTERS = ATEXT + "àâäçéèêëîïôöùûüÿœæÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ"
SIMPLE_LOCAL = re.compile(f"[{_LOCAL_CHARACTERS}]+(?:\\.[{_LOCAL_CHARACTERS}]+)*\\Z")
DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00(?::00)?)?$")

REASONS = {
    "missing_reference": "référence absente",
    "duplicate_in_file": "référence présente plusieurs fois dans le fichier (lignes {lines})",
    "already_open": "un dossier ouvert porte déjà cette référence",
    "missing_name": "nom absent",
    "missing_structure": "structure absente",
    "unknown_structure": "structure inconnue pour ce créancier",
    "missing_balance": "solde absent",
    "non_numeric_balance": "solde illisible : ce n'est pas un montant",
    "zero_balance": "solde nul",
    "negative_balance": "solde négatif",
    "three_decimals": "plus de 2 décimales",
    "balance_too_large": "montant trop élevé (10 milliards d'euros ou plus)",
    "reference_too_long": "référence trop longue (64 caractères au plus)",
    "balance_above_initial": "le solde dépasse le montant initial",
    "invalid_initial_amount": "montant initial illisible",
    "invalid_date": "date invalide (attendu jj/mm/aaaa ou aaaa-mm-jj)",
    "future_date": "date dans le futur",
}
FLAG_LABELS = {
    "invalid_phone": "téléphone invalide",
    "invalid_email": "e-mail invalide",
    "invalid_postcode": "code postal invalide",
    "missing_address": "adresse absente",
    "formula_injection": "texte de type formule (neutralisé dans les exports)",
}


@dataclass
class RowError:
    """Why a row is rejected: the column's French name, the value as read, our reason code and the French message."""

    column: str
    value: str
    reason: str
    message: str


@dataclass
class Contact:
    kind: str
    quality: str
    value: str = ""
    raw_value: str = ""
    line1: str = ""
    line2: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = "FR"


@dataclass
class CleanRow:
    """A row that passed every rule, normalised into what the write stage stores."""

    line: int
    file_line: int
    reference: str
    structure_code: str
    civility: str
    last_name: str
    first_name: str
    balance: Decimal
    initial_amount: Decimal
    claim_date: date | None
    basis: str
    contacts: list[Contact] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    needs_address_investigation: bool = False
    # What the write stage derives from the row, worked out before its transaction on SQLite (pipeline.prepare).
    prepared: object = None


@dataclass
class RejectedRow:
    """A row left out of the batch, with every reason it was refused."""

    line: int
    file_line: int
    reference: str
    errors: list[RowError]

    def as_dict(self) -> dict:
        """The form kept on the batch (`Batch.rejected_rows`), which reports and `import_claims --json` show."""
        return {
            "line": self.line,
            "file_line": self.file_line,
            "reference": self.reference,
            "errors": [
                {"column": e.column, "value": e.value[:200], "reason": e.reason, "message": e.message}
                for e in self.errors
            ],
        }


@dataclass(frozen=True)
class RowContext:
    """What a row is checked against beyond its own cells: the creditor's structures, the batch's default
    structure, the day, and the references that the file repeats or that are already open cases."""

    structure_codes: dict[str, str]
    default_structure: str | None
    today: date
    repeated: dict[str, list[int]] = field(default_factory=dict)
    already_open: frozenset[str] = frozenset()


def text(value: object) -> str:
    """A cell as trimmed text with inner runs of spaces collapsed; numbers as written."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # Splitting on whitespace (what `SPACES` matches, no-break spaces included) and joining with one space
    # trims and collapses in one step, faster than the regular expression.
    return " ".join(str(value).split())


def parse_amount(value: object) -> tuple[Decimal | None, str | None]:
    """(amount, None) or (None, reason): decimal comma or point, thousands by space or '.' (with a comma),
    optional €, at most two decimals. Spreadsheet number cells are read by their shortest decimal form."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "missing"
    if isinstance(value, bool):
        return None, "non_numeric"
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value))
    elif isinstance(value, Decimal):
        amount = value
    else:
        raw = SPACES.sub("", str(value)).replace("€", "").replace("EUR", "")
        sign = ""
        if raw[:1] in "+-":
            sign, raw = raw[:1], raw[1:]
        if AMOUNT_COMMA.match(raw):
            raw = raw.replace(".", "").replace(",", ".")
        elif AMOUNT_PLAIN.match(raw):
            raw = raw.replace(",", ".")
        else:
            return None, "non_numeric"
        try:
            amount = Decimal(sign + raw)
        except InvalidOperation:
            return None, "non_numeric"
    if not amount.is_finite():
        return None, "non_numeric"
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        return None, "three_decimals"
    if abs(amount) >= MAX_AMOUNT:  # beyond what a claim can be (and what the database stores)
        return None, "too_large"
    return amount.quantize(Decimal("0.01")), None


def parse_date(value: object) -> tuple[date | None, bool]:
    """(date, ok): dd/mm/yyyy, yyyy-mm-dd or a date cell; blank gives (None, True)."""
    if value is None:
        return None, True
    if isinstance(value, datetime):
        return value.date(), True
    if isinstance(value, date):
        return value, True
    raw = text(value)
    if not raw:
        return None, True
    match = DATE_FR.match(raw)
    parts = (match.group(3), match.group(2), match.group(1)) if match else None
    if not parts:
        match = DATE_ISO.match(raw)
        parts = match.groups() if match else None
    if not parts:
        return None, False
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2])), True
    except ValueError:
        return None, False


def normalise_civility(value: str) -> str:
    return CIVILITIES.get(value.lower().rstrip(".").replace(" ", ""), "")


def normalise_phone(raw: str) -> str | None:
    """E.164 for a valid number, or None. National numbers are read as metropolitan French, then as those
    of the overseas départements and territories, which French files write the same way (0262…, 0590…)."""
    match = FRENCH_NATIONAL_PHONE.match(raw)
    if match:  # the usual « 06 12 34 56 78 »: judged on the French numbering plan without a full parse
        national = "".join(match.groups())
        if _french_plan_valid(national):
            return "+33" + national
        found = _overseas_phone(national)
        if found is not _UNDECIDED:
            return found
    return _normalise_phone_any(raw)


_UNDECIDED = object()


def _overseas_phone(national: str):
    """What `_normalise_phone_any` answers for a national number that France does not know, without parsing
    it again for each region: a region written with the trunk prefix 0 reads the same number under its own
    country code; a region without a trunk prefix cannot read ten digits (`_UNDECIDED` if it could)."""
    for region in OVERSEAS_REGIONS:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata.national_prefix_for_parsing == "0" and not metadata.national_prefix_transform_rule:
            number = phonenumbers.PhoneNumber(country_code=metadata.country_code, national_number=int(national))
            if phonenumbers.is_valid_number(number):
                return f"+{metadata.country_code}{national}"
        elif metadata.national_prefix_for_parsing or 10 in metadata.general_desc.possible_length:
            return _UNDECIDED
    return None


@functools.cache
def _french_plan() -> tuple[re.Pattern, re.Pattern]:
    """phonenumbers' own patterns of the French plan: the general one, and any type of number (a number is
    valid when it matches both, as `phonenumbers.is_valid_number` judges it)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("FR")
    descs = [
        getattr(metadata, name)
        for name in (
            "premium_rate",
            "toll_free",
            "shared_cost",
            "voip",
            "personal_number",
            "pager",
            "uan",
            "voicemail",
            "fixed_line",
            "mobile",
        )
    ]
    nine = [d.national_number_pattern for d in descs if _nine_digits(d)]
    general = metadata.general_desc.national_number_pattern if _nine_digits(metadata.general_desc) else "(?!)"
    return re.compile(f"(?:{general})"), re.compile("|".join(f"(?:{p})" for p in nine) or "(?!)")


def _nine_digits(desc) -> bool:
    return bool(desc and desc.national_number_pattern and (not desc.possible_length or 9 in desc.possible_length))


def _french_plan_valid(national: str) -> bool:
    general, types = _french_plan()
    return bool(general.fullmatch(national) and types.fullmatch(national))


def _normalise_phone_any(raw: str) -> str | None:
    """`normalise_phone` through phonenumbers' full parse, for any way of writing a number."""
    for region in ("FR", *OVERSEAS_REGIONS):
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            return None
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if raw.lstrip().startswith(("+", "00")):
            return None  # an international number does not depend on the region tried
    return None


@functools.cache
def _country_codes() -> dict[str, str]:
    """Country names in French and English, and ISO codes, normalised, to the ISO 3166 alpha-2 code."""
    french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"], fallback=True)
    codes = {}
    for country in pycountry.countries:
        for name in (country.name, getattr(country, "common_name", ""), french.gettext(country.name)):
            if name:
                codes[normalise_header(name)] = country.alpha_2
        codes[country.alpha_2.lower()] = country.alpha_2
        codes[country.alpha_3.lower()] = country.alpha_2
    codes.update({"angleterre": "GB", "ecosse": "GB", "usa": "US", "grandebretagne": "GB", "hollande": "NL"})
    return codes


def country_code(raw: str) -> str:
    """ISO code of a country written in French or English ("" when unknown; the raw text is kept)."""
    return _country_codes().get(normalise_header(raw), "")


def normalise_email(raw: str) -> str | None:
    """The address as email_validator normalises it, or None. The usual address (plain ASCII before the @, a
    plain domain) is checked in part here, its domain once per batch: the same answer, a tenth of the time."""
    local, at, domain = raw.rpartition("@")
    if at and SIMPLE_DOMAIN.match(domain) and SIMPLE_LOCAL.match(local) and local.lower() not in CASE_INSENSITIVE:
        domains = _email_domain(domain)
        if domains is None:
            return None
        normalised = f"{local}@{domains[0]}"
        lengths = (len(raw.encode()), len(normalised.encode()), len(f"{local}@{domains[1]}".encode()))
        if max(lengths) <= EMAIL_MAX_LENGTH:
            return normalised
    return _normalise_email_any(raw)


def _normalise_email_any(raw: str) -> str | None:
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


@functools.lru_cache(maxsize=4096)
def _email_domain(domain: str) -> tuple[str, str] | None:
    """A domain as email_validator normalises it (internationalised and ASCII forms), or None if refused."""
    try:
        checked = validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.domain, checked.ascii_domain


BALANCE_PROBLEMS = {
    "missing": "missing_balance",
    "non_numeric": "non_numeric_balance",
    "three_decimals": "three_decimals",
    "too_large": "balance_too_large",
}


def _error(column: str, value: object, reason: str, **fmt) -> RowError:
    return RowError(
        column=column_label(column), value=text(value), reason=reason, message=REASONS[reason].format(**fmt)
    )


def validate_row(
    values: dict[str, object],
    *,
    line: int,
    file_line: int,
    structure_codes: dict[str, str],
    default_structure: str | None,
    today: date,
) -> tuple[CleanRow | None, list[RowError]]:
    """Check one row; return the clean row or the list of its errors (each in French, naming the column)."""
    errors: list[RowError] = []
    cells = {column: text(values.get(column)) for column in TEXT_COLUMNS}  # each cell's text, once
    reference = cells["reference"]
    if not reference:
        errors.append(_error("reference", "", "missing_reference"))
    elif len(reference) > REFERENCE_MAX:
        errors.append(_error("reference", reference, "reference_too_long"))
    last_name = cells["last_name"]
    if not last_name:
        errors.append(_error("last_name", values.get("last_name"), "missing_name"))
    structure_raw = text(values.get("structure"))
    structure_code = None
    if structure_raw:
        structure_code = structure_codes.get(structure_raw.upper()) or structure_codes.get(_key(structure_raw))
        if structure_code is None:
            errors.append(_error("structure", structure_raw, "unknown_structure"))
    elif default_structure:
        structure_code = default_structure
    else:
        errors.append(_error("structure", "", "missing_structure"))

    balance, problem = parse_amount(values.get("principal_amount"))
    if problem:
        errors.append(_error("principal_amount", values.get("principal_amount"), BALANCE_PROBLEMS[problem]))
    elif balance == 0:
        errors.append(_error("principal_amount", values.get("principal_amount"), "zero_balance"))
    elif balance < 0:
        errors.append(_error("principal_amount", values.get("principal_amount"), "negative_balance"))
    initial = balance
    raw_initial = values.get("initial_amount")
    if raw_initial is not None and text(raw_initial):
        initial, problem = parse_amount(raw_initial)
        if problem:
            errors.append(_error("initial_amount", raw_initial, "invalid_initial_amount"))
        elif balance is not None and balance > 0 and initial is not None and balance > initial:
            errors.append(_error("principal_amount", values.get("principal_amount"), "balance_above_initial"))
    claim_date, ok = parse_date(values.get("claim_date"))
    if not ok:
        errors.append(_error("claim_date", values.get("claim_date"), "invalid_date"))
    elif claim_date and claim_date > today:
        errors.append(_error("claim_date", values.get("claim_date"), "future_date"))
    if errors:
        return None, errors

    flags: list[str] = []
    if any(value.startswith(FORMULA_PREFIXES) for value in cells.values()):
        flags.append("formula_injection")
    contacts: list[Contact] = []
    line1, line2 = cells["address_line1"], cells["address_line2"]
    raw_postcode = values.get("postal_code")
    if isinstance(raw_postcode, int | float) and not isinstance(raw_postcode, bool):
        postal_code = f"{int(raw_postcode):05d}"  # a spreadsheet number cell loses the leading zero
    else:
        postal_code = cells["postal_code"]
    city = cells["city"]
    country_raw = cells["country"]
    in_france = country_raw.lower() in FRANCE
    country = "FR" if in_france else country_code(country_raw)
    raw_address = " ".join(p for p in (line1, line2, postal_code, city, country_raw) if p)[:500]
    investigate = False
    if line1 or line2:
        quality = "valid"
        if in_france and not FRENCH_POSTCODE.match(postal_code):
            flags.append("invalid_postcode")
            quality = "doubtful"
            investigate = True
        contacts.append(
            Contact(
                kind="address",
                quality=quality,
                line1=line1 or line2,
                line2=line2 if line1 else "",
                postal_code=postal_code,
                city=city.upper(),
                country=country,
                raw_value=raw_address,
            )
        )
    else:
        flags.append("missing_address")
        investigate = True
        if raw_address:  # a town without a street: kept for the investigation, not usable for mail
            contacts.append(
                Contact(
                    kind="address",
                    quality="doubtful",
                    postal_code=postal_code,
                    city=city.upper(),
                    country=country,
                    raw_value=raw_address,
                )
            )
    phone_raw = text(values.get("phone"))
    if phone_raw:
        phone = normalise_phone(phone_raw)
        if phone:
            contacts.append(Contact(kind="phone", quality="valid", value=phone, raw_value=phone_raw))
        else:
            flags.append("invalid_phone")
            contacts.append(Contact(kind="phone", quality="doubtful", raw_value=phone_raw))
    email_raw = text(values.get("email"))
    if email_raw:
        email = normalise_email(email_raw)
        if email:
            contacts.append(Contact(kind="email", quality="valid", value=email, raw_value=email_raw))
        else:
            flags.append("invalid_email")
            contacts.append(Contact(kind="email", quality="doubtful", raw_value=email_raw[:500]))
    return (
        CleanRow(
            line=line,
            file_line=file_line,
            reference=reference,
            structure_code=structure_code,
            civility=normalise_civility(cells["civility"]),
            last_name=last_name,
            first_name=cells["first_name"],
            balance=balance,
            initial_amount=initial,
            claim_date=claim_date,
            basis=cells["basis"][:300],
            contacts=contacts,
            flags=flags,
            needs_address_investigation=investigate,
        ),
        [],
    )


def _key(value: str) -> str:
    return "~" + normalise_header(value)


def structure_lookup(structures) -> dict[str, str]:
    """Codes (any case) and names (normalised) of the creditor's structures, to their code."""
    lookup = {}
    for structure in structures:
        lookup[structure.code.upper()] = structure.code
        lookup[_key(structure.name)] = structure.code
    return lookup


def reference_lines(rows: Iterable[RawRow]) -> tuple[int, dict[str, list[int]]]:
    """A first pass over the file, since every occurrence of a repeated reference is rejected: the number of
    data rows and the lines of each reference."""
    occurrences: dict[str, list[int]] = defaultdict(list)
    count = 0
    for row in rows:
        count += 1
        reference = text(row.values.get("reference"))
        if reference:
            occurrences[reference].append(row.line)
    return count, dict(occurrences)


def check_row(row: RawRow, *, context: RowContext) -> CleanRow | RejectedRow:
    """One row against the row rules and the file's references; a reference problem is listed first."""
    clean, errors = validate_row(
        row.values,
        line=row.line,
        file_line=row.file_line,
        structure_codes=context.structure_codes,
        default_structure=context.default_structure,
        today=context.today,
    )
    reference = text(row.values.get("reference"))
    if reference in context.repeated:
        lines = ", ".join(str(n) for n in context.repeated[reference])
        errors = [_error("reference", reference, "duplicate_in_file", lines=lines), *errors]
    elif reference in context.already_open:
        errors = [_error("reference", reference, "already_open"), *errors]
    if errors:
        return RejectedRow(line=row.line, file_line=row.file_line, reference=reference, errors=errors)
    return clean
