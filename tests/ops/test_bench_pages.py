"""The pages `bench_pages` measures, on a small `seed_volume`: each answers 200 to the role that opens it, the
floor too, through the benchmark's URL configuration; and `bench_report` makes one table of a run's measures,
kept for the next run. No timing is asserted."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test.utils import override_settings

from amiable.ops import pages
from amiable.ops.bench import Measure, record


@pytest.fixture
def volume(db):
    call_command("seed_volume", "--cases", "150", stdout=io.StringIO(), stderr=io.StringIO())


def test_every_page_of_the_bench_answers_its_role(volume):
    users = pages.people()
    with override_settings(ROOT_URLCONF=pages.BENCH_URLCONF):
        clients = pages.clients(users)
        planned = pages.plan(users)
        floor = pages.measure(clients["agent"], pages.floor_url(), runs=1)
        results = {page.name: pages.measure(clients[page.role], page.url, runs=1) for page in planned}

    assert floor.status == 200 and floor.queries <= 5  # the session and the user, little else
    assert {name.split(".")[0] for name in results} == {"home", "list", "search", "case", "day", "requests"}
    assert {page.role for page in planned} == set(users)
    for name, result in results.items():
        assert result.status == 200, name
        assert result.queries > floor.queries, name
    search = {page.name: page.url for page in planned if page.name.startswith("search.")}
    assert "H%C3%A9l%C3%A8ne+Lef%C3%A8vre" in search["search.name_accents"]
    assert "q=0" in search["search.phone"] and "+" in search["search.phone"]  # « 06 12 34 56 78 »


def test_the_bench_refuses_an_empty_database(db):
    with pytest.raises(CommandError, match="seed_volume"):
        call_command("bench_pages", "--runs", "1", stdout=io.StringIO(), stderr=io.StringIO())


def _run(tmp_path, monkeypatch, measures):
    out = tmp_path / "run.jsonl"
    monkeypatch.setenv("AMIABLE_BENCH_OUT", str(out))
    record(measures, write=lambda line: None)
    return out


def test_the_report_tables_a_run_and_keeps_it_for_the_next(tmp_path, monkeypatch):
    kept = tmp_path / "var" / "bench.json"
    _run(
        tmp_path,
        monkeypatch,
        [
            Measure(name="pages.floor", label="Plancher", value=2.0, unit="ms"),
            Measure(name="pages.home", label="Accueil", value=40.0, unit="ms", floor=2.0, limit=100),
            Measure(name="pages.list", label="Liste", value=250.0, unit="ms", floor=2.0, limit=100),
        ],
    )
    out = io.StringIO()
    call_command("bench_report", "--previous", str(kept), "--output", str(kept), stdout=out)

    text = out.getvalue()
    assert "Accueil" in text and "20,0 ×" in text and "≤ 100 ms" in text
    assert "HORS CIBLE" in text.splitlines()[4]  # the list's row
    assert "Précédent" not in text  # no previous run yet
    run = json.loads(kept.read_text())
    assert {"date", "commit", "cores", "measures"} <= set(run)
    assert [m["name"] for m in run["measures"]] == ["pages.floor", "pages.home", "pages.list"]

    # The next run shows the previous figure beside each measure, and --strict fails on a missed target.
    (tmp_path / "run.jsonl").unlink()
    _run(tmp_path, monkeypatch, [Measure(name="pages.list", label="Liste", value=90.0, unit="ms", limit=100)])
    out = io.StringIO()
    call_command("bench_report", "--previous", str(kept), "--output", str(kept), "--strict", stdout=out)
    assert "Précédent" in out.getvalue() and "250 ms" in out.getvalue()

    _run(tmp_path, monkeypatch, [Measure(name="pages.home", label="Accueil", value=140.0, unit="ms", limit=100)])
    with pytest.raises(CommandError, match="pages.home"):
        call_command("bench_report", "--output", str(tmp_path / "b.json"), "--strict", stdout=io.StringIO())
