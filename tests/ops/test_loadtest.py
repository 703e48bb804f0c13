"""What `make loadtest` relies on and can be checked without Locust: the plan's sessions open the pages of
their role under the production rule of a second factor for everyone, each journey's cases are visible to
its user, the command is refused by the production settings; and the report reads Locust's figures against
the target (no error, p95 ≤ 300 ms). No timing is asserted."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from amiable.cases.models import Case

HEADER = [
    "Type", "Name", "Request Count", "Failure Count", "Median Response Time", "Average Response Time",
    "Min Response Time", "Max Response Time", "Average Content Size", "Requests/s", "Failures/s",
    "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
]  # fmt: skip


@pytest.fixture
def plan(db, tmp_path, settings):
    settings.AMIABLE_REQUIRE_2FA = True
    call_command("seed_volume", "--cases", "150", stdout=io.StringIO(), stderr=io.StringIO())
    out, batch = tmp_path / "plan.json", tmp_path / "lot.csv"
    call_command(
        "loadtest_plan", "--out", str(out), "--sessions", "8", "--batch", str(batch), "--batch-rows", "30",
        stdout=io.StringIO(),
    )  # fmt: skip
    return json.loads(out.read_text()), batch


def opened_with(session_key: str, settings) -> Client:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    return client


def test_each_session_of_the_plan_opens_its_pages_past_the_second_factor(plan, settings):
    journeys, _ = plan
    assert len(journeys["agents"]) >= 6 and len(journeys["creditors"]) == 8
    for population in ("agents", "creditors"):
        for journey in journeys[population]:
            client = opened_with(journey["session"], settings)
            assert client.get("/").status_code == 200, journey["email"]
            case = journey["cases"][0]
            assert client.get(f"/dossiers/{case}/").status_code == 200, (journey["email"], case)
            assert journey["names"] and client.get("/dossiers/", {"q": journey["names"][0]}).status_code == 200


def test_an_agents_journey_holds_only_that_agents_open_cases(plan):
    journeys, _ = plan
    for journey in journeys["agents"]:
        agents = set(Case.objects.filter(pk__in=journey["cases"]).values_list("assigned_agent__email", flat=True))
        assert agents == {journey["email"]}


def test_the_batch_of_the_plan_is_imported_by_the_import_command(plan):
    _, batch = plan
    out = io.StringIO()
    call_command("import_claims", str(batch), "--creditor", "cpam-paris", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["status"] == "accepted" and result["accepted"] + result["rejected"] == 30


def test_the_plan_is_refused_by_the_production_settings(db, tmp_path, settings):
    settings.SETTINGS_MODULE = "config.settings.prod"
    with pytest.raises(CommandError, match="refusé avec les réglages de production"):
        call_command("loadtest_plan", "--out", str(tmp_path / "plan.json"), stdout=io.StringIO())
    assert not (tmp_path / "plan.json").exists()


def write_stats(prefix, rows: list[tuple]) -> None:
    with open(f"{prefix}_stats.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for name, count, failures, rps, p50, p95, p99 in rows:
            writer.writerow(["GET" if name != "Aggregated" else "", name, count, failures, p50, p50, 1, 900, 1000,
                             rps, 0, p50, p50, p50, p50, p95, p95, p99, p99, p99, p99, p99])  # fmt: skip


@pytest.mark.parametrize(
    "total, held",
    [(("Aggregated", 3000, 0, 10.0, 60, 280, 400), True), (("Aggregated", 3000, 2, 10.0, 60, 280, 400), False),
     (("Aggregated", 3000, 0, 10.0, 60, 310, 400), False)],
)  # fmt: skip
def test_the_report_reads_locusts_figures_against_the_target(tmp_path, total, held):
    prefix = tmp_path / "locust"
    write_stats(prefix, [("accueil", 1000, 0, 3.3, 40, 90, 150), ("Ma journée", 2000, total[2], 6.7, 80, 300, 450),
                         total])  # fmt: skip
    out = io.StringIO()
    call_command("loadtest_report", str(prefix), "--output", str(tmp_path / "r.json"), "--context", '{"users": 50}',
                 stdout=out)  # fmt: skip
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["target_held"] is held and result["context"] == {"users": 50}
    assert result["total"] == {"name": "Ensemble", "requests": 3000, "failures": total[2], "rps": 10.0,
                               "p50_ms": 60.0, "p95_ms": total[5], "p99_ms": 400.0}  # fmt: skip
    assert [s["name"] for s in result["steps"]] == ["accueil", "Ma journée"]
    text = out.getvalue()
    assert ("Objectif (0 erreur, p95 ≤ 300 ms) : tenu" in text) is held
    assert text.index("Ma journée") < text.index("accueil")  # the slowest step first


def test_the_report_refuses_a_run_without_requests(tmp_path):
    with pytest.raises(CommandError, match="Statistiques de Locust introuvables"):
        call_command("loadtest_report", str(tmp_path / "absent"), stdout=io.StringIO())
    write_stats(tmp_path / "vide", [("Aggregated", 0, 0, 0.0, 0, 0, 0)])
    with pytest.raises(CommandError, match="Aucune requête"):
        call_command("loadtest_report", str(tmp_path / "vide"), stdout=io.StringIO())
