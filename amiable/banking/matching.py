"""Finding the case a bank credit pays: the case references written in its remittance information.

A reference is looked for as a whole word — not preceded or followed by a letter or a digit — and without
regard to case. Rather than scan the cases, every piece of the texts that could be a whole reference is
taken as a candidate, and the open cases are asked for those references only (by index)."""

import re
from collections import defaultdict
from collections.abc import Iterable

from amiable.cases.models import Case, CaseStatus
from amiable.creditors.models import Creditor

# A case reference is at most 64 characters (`Case.reference`); the references creditors send have a few
# parts (CPAM-2026-00041, CPAM75-0000002).
MAX_LENGTH = 64
MAX_PARTS = 8
_CHUNK = 500
# Letters and digits of any script: what may not touch a reference on either side.
_PART = re.compile(r"[^\W_]+")


def reference_candidates(texts: Iterable[str]) -> set[str]:
    """Every run of letters and digits, alone or joined to the next ones by punctuation (never by a space),
    as written: « Réf.CPAM-2026-00041/2 » gives CPAM, CPAM-2026, CPAM-2026-00041, 2026-00041, … ."""
    found: set[str] = set()
    for text in texts:
        for word in text.split():
            parts = [match.span() for match in _PART.finditer(word)]
            for index, (start, _) in enumerate(parts):
                for _, end in parts[index : index + MAX_PARTS]:
                    if end - start > MAX_LENGTH:
                        break
                    found.add(word[start:end])
    return found


def open_cases_by_reference(candidates: set[str]) -> dict[str, set[int]]:
    """The open cases whose reference is one of the candidates, by reference in capitals. References are
    stored as the creditor wrote them: each candidate is asked as written, in capitals and in lower case.
    The creditors (a handful) are named so that the (creditor, reference) index serves the query."""
    variants = sorted({form for candidate in candidates for form in (candidate, candidate.upper(), candidate.lower())})
    found: dict[str, set[int]] = defaultdict(set)
    if not variants:
        return found
    creditor_ids = list(Creditor.objects.values_list("pk", flat=True))
    for start in range(0, len(variants), _CHUNK):
        rows = (
            Case.objects.filter(
                creditor_id__in=creditor_ids,
                reference__in=variants[start : start + _CHUNK],
                status__in=sorted(CaseStatus.OPEN),
            )
            .order_by()
            .values_list("pk", "reference")
        )
        for pk, reference in rows:
            found[reference.upper()].add(pk)
    return found


def cases_named(texts: Iterable[str], by_reference: dict[str, set[int]]) -> set[int]:
    """The open cases (ids) whose reference the texts carry as a whole word."""
    named: set[int] = set()
    for candidate in reference_candidates(texts):
        named |= by_reference.get(candidate.upper(), set())
    return named
