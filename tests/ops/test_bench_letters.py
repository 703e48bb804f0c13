"""`bench_letters` run small: a quick run of the bulk issue alone (`--sample 0`) issues its letters and records
its measure instead of dividing by an empty sample. No timing is asserted."""

import io
import json

from django.core.management import call_command
from django.db import connection

from amiable.letters.models import Letter, LetterKind
from amiable.ops.bench import BENCH_OUT_ENV


def test_a_few_letters_without_the_one_core_sample(db, tmp_path, settings, monkeypatch):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    out = tmp_path / "bench.jsonl"
    monkeypatch.setenv(BENCH_OUT_ENV, str(out))
    stdout = io.StringIO()

    call_command("bench_letters", letters=3, sample=0, workers=1, stdout=stdout)

    assert Letter.objects.filter(kind=LetterKind.FIRST).count() == 3
    measures = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [m["name"] for m in measures] == [f"letters.first_letters_bulk.{connection.vendor}"]
    assert measures[0]["extra"]["letters"] == 3 and measures[0]["floor"] is None
    assert "non mesuré (--sample 0)" in stdout.getvalue()
