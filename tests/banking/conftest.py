"""The cases that the sample statements of `tests/data/banking` name, and helpers to import them."""

import pytest

from amiable.banking.services import statement_import
from tests.banking.records import DATA
from tests.factories import make_case

REFERENCES = [
    "CPAM-2026-00041",
    "CPAM-2026-00057",
    "CPAM-2026-00063",
    "CPAM-2026-00070",
    "CPAM-2026-00088",
    "CPAM75-0000001",
    "CPAM75-0000002",
    "CPAM75-0000003",
]


@pytest.fixture
def cases(reference, users):
    """One open case of the CPAM per reference the samples carry, each owing 120,50 €."""
    return {ref: make_case(structure=reference.csr, reference=ref, principal="120.50") for ref in REFERENCES}


def import_sample(name: str, actor=None):
    return statement_import(content=(DATA / name).read_bytes(), filename=name, actor=actor)
