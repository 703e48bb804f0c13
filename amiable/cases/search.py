"""The case search: how names, phones and e-mails are folded, once, for writing and for querying.

Agents type names without accents, in any case and any order, and phones in any writing; neither SQLite
nor PostgreSQL folds accents the same way (PostgreSQL needs `unaccent`, SQLite has nothing), so the
folding is done here, in Python, and stored in denormalised columns kept by the models' `save()`
(`Debtor.search_name`, `ContactPoint.search_value`) and by the bulk writes that bypass it (the intake,
the anonymisation of a contract's end). The query is folded by the same functions, so both engines give
the same answers; on PostgreSQL trigram indexes serve the `LIKE '%…%'` (migration 0014, docs/performance.md).
"""

import re
import unicodedata
from dataclasses import dataclass

from django.db.models import Q, QuerySet

MAX_QUERY = 100  # characters of a query; beyond, the form refuses it
MIN_SEARCHABLE = 2  # letters or digits a query must hold, else it would match nearly every case
MIN_PHONE_DIGITS = 6  # fewer digits are a reference's part, not a phone number
NAME_MAX = 310  # Debtor.search_name: both names and a space, a little room for ß -> ss and the like
VALUE_MAX = 254  # ContactPoint.search_value

# Letters that Unicode decomposition leaves whole but French readers write as plain letters.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
_PHONE_SEPARATORS = re.compile(r"[\s.\-/()]")
_PHONE = re.compile(r"\+?\d+")


def fold(text: str) -> str:
    """Lowercase words without accents, punctuation turned into spaces: « Jean-François  L'Hôte » gives
    « jean francois l hote »."""
    text = unicodedata.normalize("NFKD", text.casefold().translate(_LIGATURES))
    text = "".join(c if c.isalnum() else " " for c in text if not unicodedata.combining(c))
    return " ".join(text.split())


def debtor_search_name(*, first_name: str, last_name: str) -> str:
    """What `Debtor.search_name` holds: both names folded, first name first; words match in any order."""
    return fold(f"{first_name} {last_name}")[:NAME_MAX]


def phone_digits(text: str) -> str:
    """A phone number as the digits of its E.164 form without « + » (« 06 12 34 56 78 », « +33 6 12 34 56 78 »
    and « 0033612345678 » all give « 33612345678 »); a French national number (ten digits from 0) gets its
    country code; anything else keeps its digits as written."""
    compact = _PHONE_SEPARATORS.sub("", text.replace("(0)", ""))
    digits = "".join(c for c in compact if c.isdigit())
    if compact.startswith("+"):
        return digits
    if digits.startswith("00") and len(digits) > 10:
        return digits[2:]
    if digits.startswith("0") and len(digits) == 10:
        return "33" + digits[1:]
    return digits


def contact_search_value(*, kind: str, value: str, raw_value: str = "") -> str:
    """What `ContactPoint.search_value` holds: a phone's digits (`phone_digits`), an e-mail in lowercase,
    nothing for a postal address (the search does not look at addresses)."""
    text = (value or raw_value).strip()
    if kind == "phone":
        return phone_digits(text)[:VALUE_MAX]
    if kind == "email":
        return text.lower()[:VALUE_MAX]
    return ""


@dataclass(frozen=True)
class SearchTerms:
    """A query read once: the text for the reference, the folded words for the names, the digits a phone
    holds and the text an e-mail holds (None when the query cannot be one)."""

    text: str
    words: tuple[str, ...]
    phone: str | None
    email: str | None


def _phone_needle(text: str) -> str | None:
    """The digits to look for inside the stored `phone_digits`: a national number loses its leading 0 (so
    that « 0612… » matches « 33612… », and « 0262… » an overseas « 262262… »), an international one its
    « + » or « 00 »; None when the query is not a phone or too short to be one."""
    compact = _PHONE_SEPARATORS.sub("", text.replace("(0)", ""))
    if not _PHONE.fullmatch(compact):
        return None
    digits = compact.lstrip("+")
    if compact.startswith("+"):
        needle = digits
    elif digits.startswith("00") and len(digits) > 10:
        needle = digits[2:]
    elif digits.startswith("0"):
        needle = digits[1:]
    else:
        needle = digits
    return needle if len(needle) >= MIN_PHONE_DIGITS else None


def search_terms(search: str) -> SearchTerms | None:
    """The query's terms, or None when it holds fewer than MIN_SEARCHABLE letters or digits."""
    text = " ".join(search.split())
    words = tuple(fold(text).split())
    if sum(len(word) for word in words) < MIN_SEARCHABLE:
        return None
    email = text.lower() if " " not in text else None
    return SearchTerms(text=text, words=words, phone=_phone_needle(text), email=email)


def search_problem(search: str) -> str | None:
    """Why a query typed in a form is refused, in French, or None when it can be searched."""
    if len(search) > MAX_QUERY:
        return (
            f"La recherche est limitée à {MAX_QUERY} caractères (vous en avez saisi {len(search)}) : "
            "raccourcissez-la, une partie de la référence ou du nom suffit."
        )
    if search.strip() and search_terms(search) is None:
        return (
            f"Saisissez au moins {MIN_SEARCHABLE} lettres ou chiffres : une partie de la référence, "
            "un nom, un téléphone ou un e-mail."
        )
    return None


def search_filter(qs: QuerySet, search: str) -> QuerySet:
    """The cases of `qs` whose reference holds the query (any part, any case), whose debtor's names hold
    each of its words (accents, case and order ignored; a query with a digit is no name), or whose debtor
    has a phone or e-mail holding it.

    Each way of matching is its own query on its own trigram index, and their case ids are united: an OR
    across the joined tables would make PostgreSQL read every case. `qs` keeps its own scope (the ids only
    narrow it), so a creditor user never finds another creditor's case. An empty query filters nothing; a
    query with nothing searchable finds nothing (the form refuses it first)."""
    if not search.strip():
        return qs
    terms = search_terms(search)
    if terms is None:
        return qs.none()
    cases = qs.model._base_manager.order_by()  # a compound query refuses ordered parts
    ids = [cases.filter(reference__icontains=terms.text).values("pk")]
    # Names hold no digits: a word with one is a reference's or a phone's part, and « 06 12 34 56 78 » must
    # not send its two-digit words, too short for a trigram, to read the whole index of names.
    if not any(c.isdigit() for word in terms.words for c in word):
        names = cases
        for word in terms.words:
            names = names.filter(debtor__search_name__contains=word)
        ids.append(names.values("pk"))
    # Phones and e-mails: one subquery on the contact points (a bitmap OR on their index), whose debtors' cases
    # are read by `debtor_id` without joining the debtors.
    contacts = Q()
    for kind, needle in (("phone", terms.phone), ("email", terms.email)):
        if needle and len(needle) >= 3:
            contacts |= Q(kind=kind, search_value__contains=needle)
    if contacts:
        debtor = cases.model._meta.get_field("debtor").related_model
        points = debtor._meta.get_field("contact_points").related_model._base_manager
        ids.append(cases.filter(debtor_id__in=points.filter(contacts).values("debtor_id")).values("pk"))
    return qs.filter(pk__in=ids[0].union(*ids[1:]) if len(ids) > 1 else ids[0])
