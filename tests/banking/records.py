"""Building CFONB 120 records for the tests: each field at its column, amounts in signed overpunch."""

from decimal import Decimal

DATA = __import__("pathlib").Path(__file__).resolve().parent.parent / "data" / "banking"
AGENCY_IBAN = "FR7630006000011234567890189"
OTHER_IBAN = "FR7630004008200009876543274"
AGENCY = ("30006", "00001", "12345678901")
OTHER = ("30004", "00820", "00098765432")


def amount(value: str, decimals: int = 2) -> str:
    number = Decimal(value)
    units = abs(int(number.scaleb(decimals)))
    digits = f"{units:014d}"
    return digits[:-1] + ("}JKLMNOPQR" if number < 0 else "{ABCDEFGHI")[int(digits[-1])]


def _record(kind: str, key=AGENCY, day: str = "261126", *, internal: str = "    ", currency: str = "EUR", decimals=2):
    bank, branch, account = key
    buf = [" "] * 120
    for start, text in ((0, kind), (2, bank), (7, internal), (11, branch), (16, currency), (19, str(decimals))):
        buf[start : start + len(text)] = text
    buf[21:32] = account
    buf[34:40] = day
    return buf


def balance(kind: str, value: str, *, key=AGENCY, day: str = "261126", currency: str = "EUR", decimals=2) -> str:
    buf = _record(kind, key, day, currency=currency, decimals=decimals)
    buf[90:104] = amount(value, decimals)
    return "".join(buf)


def movement(
    value: str,
    label: str,
    *,
    ref: str = "",
    key=AGENCY,
    day: str = "261126",
    value_day: str | None = None,
    currency: str = "EUR",
    decimals=2,
) -> str:
    buf = _record("04", key, day, internal="0158", currency=currency, decimals=decimals)
    buf[32:34] = "05"
    buf[42:48] = value_day if value_day is not None else day
    buf[48 : 48 + len(label)] = label
    buf[90:104] = amount(value, decimals)
    buf[104 : 104 + len(ref)] = ref
    return "".join(buf)


def complement(qualifier: str, text: str, *, key=AGENCY, day: str = "261126") -> str:
    buf = _record("05", key, day, internal="0158")
    buf[32:34] = "05"
    buf[45:48] = qualifier
    buf[48 : 48 + len(text)] = text
    return "".join(buf)


def cfonb(*records: str, newline: str = "\r\n", encoding: str = "cp1252") -> bytes:
    for record in records:
        assert len(record) == 120, (len(record), record)
    return (newline.join(records) + newline).encode(encoding)
