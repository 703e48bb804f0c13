"""What a bank statement file says, whatever its format: the readers of camt.053 and CFONB 120 both return
these, so that the import and its rules never look at a format's own layout."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

CAMT053 = "camt.053"
CFONB120 = "cfonb120"
FORMAT_LABELS = {CAMT053: "camt.053 (ISO 20022)", CFONB120: "CFONB 120"}


@dataclass(frozen=True)
class ParsedEntry:
    """One booked movement. `amount` is positive, `is_credit` gives its direction; `texts` are every piece of
    remittance information the bank passed on, in order, without duplicates; `where` says where it is in the
    file, for the messages."""

    amount: Decimal
    is_credit: bool
    booked_on: date
    value_on: date | None
    bank_ref: str
    texts: tuple[str, ...]
    counterparty: str
    currency: str
    where: str = ""

    @property
    def label(self) -> str:
        """The texts as one label (one line each): what people read and what identifies an entry without a
        bank reference."""
        return "\n".join(self.texts)


@dataclass(frozen=True)
class ParsedStatement:
    """One statement of one account: its balances and its booked entries. `account` is the IBAN (camt.053)
    or the bank, branch and account numbers run together (CFONB 120, which carries no IBAN)."""

    format: str
    account: str
    currency: str
    opening_balance: Decimal
    opening_on: date
    closing_balance: Decimal
    closing_on: date
    entries: tuple[ParsedEntry, ...]
    statement_id: str = ""
    where: str = ""

    @property
    def currencies(self) -> set[str]:
        return {self.currency} | {entry.currency for entry in self.entries}

    @property
    def account_display(self) -> str:
        if self.format == CFONB120:
            return f"banque {self.account[:5]}, guichet {self.account[5:10]}, compte {self.account[10:]}"
        return " ".join(self.account[i : i + 4] for i in range(0, len(self.account), 4))

    def is_account(self, iban: str) -> bool:
        """Whether the statement is of the account with this IBAN. A CFONB statement names the account by the
        bank, branch and account numbers that a French IBAN holds at fixed places (FRkk BBBBB GGGGG
        CCCCCCCCCCC KK)."""
        iban = normalise_iban(iban)
        if self.format == CFONB120:
            return len(iban) == 27 and iban.startswith("FR") and iban[4:25] == self.account
        return normalise_iban(self.account) == iban


@dataclass(frozen=True)
class ParsedFile:
    """A file's statements, in the file's order (a file may hold several days or several accounts)."""

    format: str
    statements: tuple[ParsedStatement, ...] = field(default_factory=tuple)

    @property
    def entries(self) -> list[ParsedEntry]:
        return [entry for statement in self.statements for entry in statement.entries]


def normalise_iban(value: str) -> str:
    return "".join(value.split()).upper()
