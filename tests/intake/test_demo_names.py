"""Synthetic batches name people believably: the civility goes with the first name."""

import csv
import io

from amiable.intake.demo import FEMALE_FIRST, FIRST, generate_batch


def test_every_row_of_a_synthetic_batch_has_the_civility_of_its_first_name():
    rows = list(csv.DictReader(io.StringIO(generate_batch(300).decode()), delimiter=";"))
    pairs = {(row["civilite"], row["prenom"]) for row in rows}
    assert {first for _, first in pairs} == set(FIRST)  # every first name drawn
    assert pairs == {("Mme" if first in FEMALE_FIRST else "M.", first) for first in FIRST}
    assert ("Mme", "Éric") not in pairs


def test_the_batch_is_the_same_on_every_run():
    assert generate_batch(50) == generate_batch(50)
