"""`manage.py bench_scenarios [--cases N] [--letters L] [--json]`: a day on which N cases of the CPAM are due
for a step of its real scenario (`scenario_ensure`: D0 first letter, D+10 e-mail, D+20 call, D+35 reminder
letter, D+60 call, D+300 review), then `scenarios_run` for that day, timed beside a floor measured in the
same run (DESIGN / issue 13: 100,000 due cases in ≤ 60 s). Used by `make bench-scenarios`; never run in tests.

The day is a realistic one, except in its size: each case has the history its step supposes (the first
letter printed, the earlier steps run or skipped, the e-mail and letters counted by the contact rule, a call
task done or still open), and a share of them are held back by what the real cases hold (no e-mail, no
phone, a do-not-contact request, a death, a pending promise, a plan or a suspension, a partial payment).
The N cases are due for the e-mail, the calls and the review; L more (40 by default) for a first letter or a
reminder letter, whose PDFs are rendered by `letters.letters_issue_first` (the first letters, in parallel) and
`letters.letter_issue` (the reminders, one by one), 60–110 ms of CPU each: their time is measured apart, so
that the figure says what the scenarios themselves cost.

Everything is written in bulk (COPY on PostgreSQL): building the day through the services would take hours.
The day is not built on `seed_volume`'s data: that volume spreads three years of acknowledgements and writes no
step run, so a scenario run on it would find nearly every case due for its first letter (a PDF each) rather
than a day's share of cases at each step with the history that step supposes.
The floor is a bulk read of the same due cases with their contact points and their creditor's terms, one
query per step."""

import json
import random
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from amiable.accounts.models import Role, User
from amiable.cases.models import (
    Action,
    Case,
    CaseEvent,
    CaseStatus,
    Channel,
    ContactKind,
    ContactPoint,
    ContactQuality,
    Debtor,
    EventKind,
    Task,
    TaskKind,
    TaskStatus,
)
from amiable.cases.search import contact_search_value, debtor_search_name
from amiable.contact.models import PromiseStatus, PromiseToPay
from amiable.core.bulk import allocate_ids, insert_rows
from amiable.core.dates import is_public_holiday
from amiable.core.money import ZERO, to_money
from amiable.creditors.models import Creditor
from amiable.letters.defaults import letter_templates_ensure
from amiable.letters.models import Letter, LetterKind, LetterTemplate
from amiable.ops.bench import Measure, peak_memory_mb, record
from amiable.scenarios import services as scenario_services
from amiable.scenarios.defaults import scenario_ensure
from amiable.scenarios.models import Scenario, StepAction, StepRun

CHUNK = 10_000
AGENT = "gestionnaire.banc@agence.example"
POINT_FIELDS = [
    "debtor",
    "kind",
    "line1",
    "line2",
    "postal_code",
    "city",
    "country",
    "value",
    "raw_value",
    "quality",
    "source",
    "is_primary",
    "created_at",
    "search_value",
]
CASE_FIELDS = [
    "id",
    "reference",
    "creditor",
    "structure",
    "debtor",
    "initial_amount",
    "principal_amount",
    "interest_amount",
    "other_amount",
    "paid_amount",
    "basis",
    "received_on",
    "acknowledged_on",
    "status",
    "created_at",
]
LAST_NAMES = ["MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY", "MOREAU"]
FIRST_NAMES = ["Marie", "Jean", "Pierre", "Sophie", "Nathalie", "Michel", "Isabelle", "Philippe", "Camille", "Luc"]


def bench_day() -> date:
    """The next Tuesday that is not a public holiday: a working day within the contact days, so that the run
    stands for 11:00 that day (`scenarios.services.RUN_HOUR`) whatever the hour of the bench."""
    day = timezone.localdate() + timedelta(days=1)
    while day.isoweekday() != 2 or is_public_holiday(day):
        day += timedelta(days=1)
    return day


class Command(BaseCommand):
    help = "Mesure l'exécution des scénarios d'une journée de N dossiers dus (par défaut 100 000)."

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, default=100_000)
        parser.add_argument("--letters", type=int, default=40, help="dossiers dus pour un courrier (PDF), à part")
        parser.add_argument("--json", action="store_true", dest="as_json")
        parser.add_argument("--explain", action="store_true", help="plans des requêtes des dossiers dus (PostgreSQL)")

    def handle(self, *args, cases: int, letters: int, as_json: bool, explain: bool, **options):
        call_command("seed_reference", stdout=self.stderr)
        creditor = Creditor.objects.get(slug="cpam-paris")
        letter_templates_ensure(creditor=creditor)
        scenario_ensure(creditor=creditor)
        scenario = Scenario.objects.get(creditor=creditor, is_active=True)
        steps = {s.order: s for s in scenario.steps.all()}
        day = bench_day()

        start = time.perf_counter()
        planned = self._build(creditor, steps, day, cases=cases, letters=letters)
        setup_s = time.perf_counter() - start
        self._progress(f"Préparation : {cases + letters:,} dossiers dus le {day:%d/%m/%Y} en {setup_s:.1f} s.")
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE")

        if explain and connection.vendor == "postgresql":
            steps_list = list(scenario.steps.order_by("order", "pk"))
            for step, query in zip(
                steps_list, scenario_services.due_case_queries(scenario, steps_list, day), strict=True
            ):
                self._progress(f"EXPLAIN ANALYZE — dossiers dus pour « {step} » :")
                plan = query.filter(status__in=CaseStatus.CONTACTABLE).values_list("pk", flat=True)
                self._progress(plan.explain(analyze=True))
        floor_s, floor_rows = self._floor(scenario, day)
        self._progress(f"Plancher (lecture des dossiers dus, une requête par étape) : {floor_s:.2f} s.")

        queries = [0]

        def count(execute, sql, params, many, context):
            queries[0] += 1
            return execute(sql, params, many, context)

        # The letters' time, apart: the reminders one by one (`letter_issue`), the first letters in bulk.
        letter_s = [0.0]
        originals = {name: getattr(scenario_services, name) for name in ("letter_issue", "letters_issue_first")}

        def timed(original):
            def call(**kwargs):
                began = time.perf_counter()
                try:
                    return original(**kwargs)
                finally:
                    letter_s[0] += time.perf_counter() - began

            return call

        for name, original in originals.items():
            setattr(scenario_services, name, timed(original))
        try:
            with connection.execute_wrapper(count):
                start, cpu = time.perf_counter(), time.process_time()
                report = scenario_services.scenarios_run(on=day)
                run_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        finally:
            for name, original in originals.items():
                setattr(scenario_services, name, original)
        done = report.executed + sum(report.skipped.values())
        result = {
            "database": connection.vendor,
            "day": day.isoformat(),
            "due_cases": cases + letters,
            "planned": planned,
            "setup_s": round(setup_s, 2),
            "floor_s": round(floor_s, 3),
            "floor_rows": floor_rows,
            "run_s": round(run_s, 2),
            "cpu_s": round(cpu_s, 2),
            "letters_s": round(letter_s[0], 2),
            "without_letters_s": round(run_s - letter_s[0], 2),
            "cases_done": done,
            "queries": queries[0],
            "executed": report.executed,
            "by_channel": dict(report.by_channel),
            "skipped": dict(report.skipped),
            "errors": len(report.errors),
            "peak_mb": round(peak_memory_mb()),
        }
        if as_json:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
        for line in report.errors[:5]:
            self._progress(f"  erreur : {line}")
        extra = {
            k: result[k]
            for k in (
                "cases_done",
                "queries",
                "cpu_s",
                "letters_s",
                "without_letters_s",
                "executed",
                "skipped",
                "errors",
            )
        }
        record(
            [
                Measure(
                    name="scenarios.day",
                    label=f"Scénarios d'une journée ({cases + letters:,} dossiers dus, dont {letters} courriers)",
                    value=run_s,
                    unit="s",
                    floor=floor_s,
                    limit=60,
                    extra=extra,
                ),
                Measure(
                    name="scenarios.day_without_letters",
                    label="  dont hors courriers (PDF)",
                    value=run_s - letter_s[0],
                    unit="s",
                    floor=floor_s,
                    extra={"letters": letters, "letters_s": round(letter_s[0], 2)},
                ),
            ],
            write=self.stdout.write,
        )

    def _progress(self, message: str) -> None:
        self.stderr.write(message)
        self.stderr.flush()

    def _floor(self, scenario: Scenario, day: date) -> tuple[float, int]:
        """What the database does at best for the same read: per step, the cases whose step is due and not run,
        with their contact points and their creditor's contract terms, in one query."""
        start = time.perf_counter()
        rows = 0
        for step in scenario.steps.order_by("order"):
            due = Case.objects.filter(
                creditor_id=scenario.creditor_id,
                acknowledged_on__lte=day - timedelta(days=step.delay_days),
            ).exclude(Exists(StepRun.objects.filter(case=OuterRef("pk"), step=step)))
            rows += len(
                list(
                    due.values_list(
                        "pk",
                        "reference",
                        "status",
                        "balance",
                        "debtor__do_not_contact",
                        "debtor__contact_points__kind",
                        "debtor__contact_points__value",
                        "debtor__contact_points__quality",
                        "creditor__terms__contact_hours",
                        "creditor__terms__max_emails_per_30_days",
                    )
                )
            )
        return time.perf_counter() - start, rows

    @transaction.atomic
    def _build(self, creditor, steps, day: date, *, cases: int, letters: int) -> dict:
        """The day's due cases and their history, in bulk. Returns how many were planned for each step."""
        rng = random.Random(13)
        agent = User.objects.filter(email=AGENT).first() or User.objects.create_user(
            AGENT, role=Role.AGENT, first_name="Gestionnaire", last_name="BANC"
        )
        structures = list(creditor.structures.order_by("pk").values_list("pk", flat=True))
        first_template = LetterTemplate.objects.filter(creditor=creditor, kind=LetterKind.FIRST).first().pk
        reminder_template = LetterTemplate.objects.filter(creditor=creditor, kind=LetterKind.REMINDER).first().pk
        # (step order due, extra days behind) for each case: the e-mail, the two calls and the review, in turn,
        # a few days late at times (a catch-up); then the letters.
        plan = [(2, 3, 5, 6)[i % 4] for i in range(cases)]
        plan += [1 if i % 2 == 0 else 4 for i in range(letters)]
        planned = {steps[o].action + f"_j{steps[o].delay_days}": plan.count(o) for o in sorted(set(plan))}
        now = timezone.now()
        prefix = f"SCN-{int(time.time())}"
        for first in range(0, len(plan), CHUNK):
            part = plan[first : first + CHUNK]
            debtor_ids = allocate_ids(Debtor, len(part))
            case_ids = allocate_ids(Case, len(part))
            letter_count = sum((o > 1) + (o > 4) for o in part)
            action_ids = iter(allocate_ids(Action, letter_count + sum(o > 2 for o in part)))
            letter_ids = iter(allocate_ids(Letter, letter_count))
            rows = {k: [] for k in ("debtor", "point", "case", "run", "letter", "action", "task", "event", "promise")}
            for n, (order, debtor_id, case_id) in enumerate(zip(part, debtor_ids, case_ids, strict=True)):
                i = first + n
                letter_step = order in (1, 4)
                ack = day - timedelta(days=steps[order].delay_days + (0 if letter_step else rng.choice((0, 0, 1, 3))))
                last, first_name = LAST_NAMES[i % 10], FIRST_NAMES[(i // 10) % 10]
                dnc = not letter_step and rng.random() < 0.02
                rows["debtor"].append(
                    (
                        debtor_id,
                        "M" if i % 2 else "MME",
                        last,
                        first_name,
                        dnc,
                        now,
                        debtor_search_name(first_name=first_name, last_name=last),
                    )
                )
                rows["point"].append(
                    (
                        debtor_id,
                        ContactKind.ADDRESS,
                        f"{1 + i % 90} rue de la Roquette",
                        "",
                        "75011",
                        "Paris",
                        "FR",
                        "",
                        "",
                        ContactQuality.VALID,
                        "Fichier du créancier",
                        True,
                        now,
                        "",
                    )
                )
                if letter_step or rng.random() < 0.6:
                    email = f"debiteur{i}@exemple.fr"
                    rows["point"].append(
                        (
                            debtor_id,
                            ContactKind.EMAIL,
                            "",
                            "",
                            "",
                            "",
                            "",
                            email,
                            "",
                            ContactQuality.VALID,
                            "Fichier du créancier",
                            True,
                            now,
                            contact_search_value(kind="email", value=email, raw_value=""),
                        )
                    )
                if letter_step or rng.random() < 0.7:
                    phone = f"+336{10000000 + i % 89999999:08d}"
                    rows["point"].append(
                        (
                            debtor_id,
                            ContactKind.PHONE,
                            "",
                            "",
                            "",
                            "",
                            "",
                            phone,
                            "",
                            ContactQuality.VALID,
                            "Fichier du créancier",
                            True,
                            now,
                            contact_search_value(kind="phone", value=phone, raw_value=""),
                        )
                    )
                principal = Decimal(40 + (i * 37) % 900) + Decimal("0.50")
                odds = 1.0 if letter_step else rng.random()
                status = CaseStatus.IN_PROGRESS if order > 1 else CaseStatus.NEW
                if odds < 0.03:
                    status = CaseStatus.PAYMENT_PLAN
                elif odds < 0.04:
                    status = CaseStatus.SUSPENDED
                paid = to_money(principal / 3) if 0.04 <= odds < 0.14 else ZERO
                rows["case"].append(
                    (
                        case_id,
                        f"{prefix}-{i:07d}",
                        creditor.pk,
                        structures[i % len(structures)],
                        debtor_id,
                        principal,
                        principal,
                        ZERO,
                        ZERO,
                        paid,
                        "",
                        ack - timedelta(days=7),
                        ack,
                        status,
                        now,
                    )
                )
                if 0.14 <= odds < 0.15:
                    rows["event"].append(
                        (case_id, EventKind.DEATH, ack + timedelta(days=1), "Acte de décès", agent.pk, now)
                    )
                if 0.15 <= odds < 0.18:
                    rows["promise"].append(
                        (case_id, to_money(principal / 2), day + timedelta(days=5), PromiseStatus.PENDING, now)
                    )
                # The history the step supposes: the earlier steps run (or skipped for want of a contact).
                first_letter_id = None
                for done in range(1, order):
                    step = steps[done]
                    run_day = ack + timedelta(days=step.delay_days)
                    at = timezone.make_aware(datetime.combine(run_day, dtime(11, 0)))
                    outcome, action_id = "executed", None
                    if step.action in (StepAction.FIRST_LETTER, StepAction.REMINDER_LETTER):
                        action_id, letter_id = next(action_ids), next(letter_ids)
                        kind = LetterKind.FIRST if step.action == StepAction.FIRST_LETTER else LetterKind.REMINDER
                        rows["action"].append((action_id, case_id, Channel.LETTER, at, f"{kind.label} B{letter_id}"))
                        rows["letter"].append(
                            (
                                letter_id,
                                f"B-{letter_id}",
                                case_id,
                                kind,
                                first_template if kind == LetterKind.FIRST else reminder_template,
                                None if kind == LetterKind.FIRST else first_letter_id,
                                run_day,
                                at,
                                [f"{first_name} {last}", "75011 PARIS"],
                                principal,
                                f"letters/bench/B-{letter_id}.pdf",
                                "0" * 64,
                                run_day,
                                action_id,
                            )
                        )
                        if kind == LetterKind.FIRST:
                            first_letter_id = letter_id
                    elif step.action == StepAction.EMAIL:
                        if rng.random() < 0.6:
                            action_id = next(action_ids)
                            rows["action"].append((action_id, case_id, Channel.EMAIL, at, "E-mail de relance"))
                        else:
                            outcome = "skipped:no_email"
                    elif step.action == StepAction.CALL:
                        open_task = done == 3 and order == 5 and rng.random() < 0.1
                        rows["task"].append(
                            (
                                case_id,
                                TaskKind.CALL,
                                TaskStatus.OPEN if open_task else TaskStatus.DONE,
                                "Appel prévu par le scénario",
                                run_day,
                                now,
                                None if open_task else now,
                            )
                        )
                    rows["run"].append((case_id, step.pk, run_day, outcome, action_id))
            insert_rows(
                Debtor,
                ["id", "civility", "last_name", "first_name", "do_not_contact", "created_at", "search_name"],
                rows["debtor"],
            )
            insert_rows(ContactPoint, POINT_FIELDS, rows["point"])
            insert_rows(Case, CASE_FIELDS, rows["case"])
            insert_rows(Action, ["id", "case", "channel", "at", "summary"], rows["action"])
            insert_rows(
                Letter,
                [
                    "id",
                    "number",
                    "case",
                    "kind",
                    "template",
                    "first_letter",
                    "issued_on",
                    "issued_at",
                    "address_lines",
                    "amount",
                    "pdf",
                    "sha256",
                    "printed_on",
                    "action",
                ],
                rows["letter"],
            )
            insert_rows(StepRun, ["case", "step", "run_on", "outcome", "action"], rows["run"])
            insert_rows(Task, ["case", "kind", "status", "reason", "due_on", "created_at", "closed_at"], rows["task"])
            insert_rows(
                CaseEvent, ["case", "kind", "occurred_on", "details", "recorded_by", "recorded_at"], rows["event"]
            )
            insert_rows(PromiseToPay, ["case", "amount", "due_on", "status", "created_at"], rows["promise"])
        return planned
