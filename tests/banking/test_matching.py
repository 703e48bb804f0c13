"""Which pieces of a bank credit's texts may be a case reference (as a whole word, any case of letters), and
the amounts of CFONB records read back exactly."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amiable.banking.cfonb import cfonb_parse
from amiable.banking.matching import cases_named, reference_candidates
from tests.banking.records import balance, cfonb


@pytest.mark.parametrize(
    ("text", "found", "not_found"),
    [
        ("Dossier CPAM-2026-00041 merci", {"CPAM-2026-00041", "Dossier", "2026-00041", "00041"}, {"CPAM-2026-0004"}),
        ("REF.CPAM-2026-00041.", {"CPAM-2026-00041", "REF.CPAM-2026-00041"}, set()),
        ("(cpam75-0000002)", {"cpam75-0000002"}, {"CPAM75-0000002"}),
        ("XCPAM-2026-00041", {"XCPAM-2026-00041"}, {"CPAM-2026-00041"}),
        ("CPAM-2026-000411", {"CPAM-2026-000411"}, {"CPAM-2026-00041"}),
        ("CPAM-2026-00041é", {"CPAM-2026-00041é"}, {"CPAM-2026-00041"}),
        ("RÉF_CPAM-2026-00041", {"CPAM-2026-00041", "RÉF"}, set()),
        ("CPAM 2026 00041", {"CPAM", "2026", "00041"}, {"CPAM 2026 00041"}),
    ],
)
def test_reference_candidates(text, found, not_found):
    candidates = reference_candidates([text])
    assert found <= candidates
    assert not (not_found & candidates)


def test_candidates_stop_at_the_longest_reference():
    text = "-".join(["A" * 30] * 4)
    assert max(len(c) for c in reference_candidates([text])) <= 64


def test_cases_named_compares_in_capitals():
    by_reference = {"CPAM-2026-00041": {7}, "CPAM75-0000002": {8}}
    assert cases_named(["virement cpam-2026-00041"], by_reference) == {7}
    assert cases_named(["CPAM-2026-00041 et CPAM75-0000002"], by_reference) == {7, 8}
    assert cases_named(["CPAM-2026-000411"], by_reference) == set()


_BOUNDARY = st.sampled_from([" ", ".", "/", "(", ")", ":", "-", "_", "\n", "#"])
_INSIDE = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzÉéè0123456789", min_size=1, max_size=5)
_REFERENCE = st.lists(_INSIDE, min_size=1, max_size=4).map("-".join)


@given(reference=_REFERENCE, before=_BOUNDARY, after=_BOUNDARY, left=_INSIDE, right=_INSIDE)
def test_a_reference_between_non_alphanumerics_is_always_a_candidate(reference, before, after, left, right):
    assert reference in reference_candidates([f"{left}{before}{reference}{after}{right}"])


@given(reference=_REFERENCE, glued=st.sampled_from(list("Z9é")))
def test_a_reference_touching_a_letter_or_digit_never_is(reference, glued):
    assert reference not in reference_candidates([f"{glued}{reference}"])
    assert reference not in reference_candidates([f"{reference}{glued}"])


@given(cents=st.integers(min_value=-(10**13) + 1, max_value=10**13 - 1))
def test_cfonb_amounts_read_back_exactly(cents):
    value = Decimal(cents).scaleb(-2)
    parsed = cfonb_parse(cfonb(balance("01", str(value)), balance("07", str(value))))
    assert parsed.statements[0].opening_balance == value
    assert parsed.statements[0].closing_balance == value
