"""The cases of `seed_volume` written set-based on PostgreSQL: each table filled by one `INSERT … SELECT` over
`generate_series`, so that a million cases cost the Python process a few dozen statements instead of a
million rows to build (`volume.VolumeWriter` keeps the row-by-row path for SQLite, for small runs).

Every draw is a hash of what it is drawn for — the case's rank in the run, the debtor's, an instalment's —
and of the seed (`hashint8extended`, the stable hash of PostgreSQL's hash partitioning): the same seed gives
the same data whatever order or plan the server picks. Names come from a pool drawn in Python by
`volume.person_name` and folded there by the application's own `debtor_search_name` and
`contact_search_value`; the SQL only concatenates folded pieces, and the tests compare every generated row
with the Python functions. Primary keys are reserved by blocks from each table's sequence (the seeder is
alone on its throw-away database)."""

import random
from collections.abc import Iterable
from datetime import timedelta
from time import perf_counter
from typing import TYPE_CHECKING

from django.db import connection, models

from amiable.cases.models import (
    Action,
    Case,
    CaseStatus,
    Channel,
    ContactKind,
    ContactPoint,
    ContactQuality,
    Debtor,
    Task,
    TaskStatus,
)
from amiable.cases.search import contact_search_value, debtor_search_name
from amiable.contact.models import CallDirection, CallOutcome, CallRecord
from amiable.core.models import NumberSequence
from amiable.ledger.models import EntryKind, LedgerAccount, LedgerEntry, LedgerLine
from amiable.letters.models import Letter, LetterKind
from amiable.ops.volume import (
    BASES,
    CITIES,
    COLUMNS,
    ENDED,
    MAIL_DOMAINS,
    METHODS,
    OPEN,
    OUTCOMES,
    QUALITIES,
    SPENT,
    STREETS,
    TASK_KINDS,
    person_name,
)
from amiable.payments.models import (
    Allocation,
    Component,
    Instalment,
    InstalmentStatus,
    Payment,
    PaymentMethod,
    PaymentSource,
    Plan,
    PlanRhythm,
    PlanStatus,
)
from amiable.remittances.models import Remittance, RemittanceLine, RemittanceStatus

if TYPE_CHECKING:
    from amiable.ops.volume import VolumeWriter

# The tables filled here.
FILLED = (
    Debtor,
    ContactPoint,
    Case,
    Action,
    Letter,
    CallRecord,
    Task,
    Plan,
    Instalment,
    Payment,
    Allocation,
    LedgerEntry,
    LedgerLine,
    Remittance,
    RemittanceLine,
)
# Names drawn in Python once, then picked by the debtors: enough for the search to meet common and rare names.
POOL_MAX = 50_000


def _q(text: str) -> str:
    """A string literal (our own constants only)."""
    return "'" + str(text).replace("'", "''") + "'"


def _texts(values: Iterable) -> str:
    return "ARRAY[" + ", ".join(_q(v) for v in values) + "]::text[]"


def _ints(values: Iterable) -> str:
    return "ARRAY[" + ", ".join(str(int(v)) for v in values) + "]::bigint[]"


def _in(values: Iterable) -> str:
    return "(" + ", ".join(_q(v) for v in values) + ")"


def _pick(u: str, pairs) -> str:
    """A weighted choice among `pairs` (value, weight) by the uniform draw `u`."""
    total = sum(weight for _, weight in pairs)
    bound, whens = 0.0, []
    for value, weight in pairs[:-1]:
        bound += weight / total
        whens.append(f"WHEN {u} < {bound!r} THEN {_q(value)}")
    return f"(CASE {' '.join(whens)} ELSE {_q(pairs[-1][0])} END)"


def _label(column: str, choices) -> str:
    """The French label of a choice, as `get_FOO_display` gives it."""
    whens = " ".join(f"WHEN {_q(value)} THEN {_q(label)}" for value, label in choices)
    return f"(CASE {column} {whens} END)"


def _at(day: str, hour: int) -> str:
    """A day at an hour, UTC, as `volume._at`."""
    return f"(({day})::timestamp + interval '{int(hour)} hours') AT TIME ZONE 'UTC'"


def _number(prefix: str, year: str, rank: str) -> str:
    """`PREFIX-YEAR-000123`, the padding of `VolumeWriter._number` (more digits when needed)."""
    padded = f"lpad(({rank})::text, greatest(6, length(({rank})::text)), '0')"
    return f"({_q(prefix + '-')} || ({year})::text || '-' || {padded})"


def _u(key: str, salt: int) -> str:
    return f"pg_temp.vu(({key})::bigint, {int(salt)})"


def _ri(key: str, salt: int, low: str, high: str) -> str:
    """An integer from `low` to `high` inclusive, as `random.randint`."""
    return f"(({low}) + floor({_u(key, salt)} * (({high}) - ({low}) + 1))::int)"


class SqlVolume:
    """The cases of one run, their people and their work, written by `write()` inside the caller's transaction."""

    def __init__(self, writer: "VolumeWriter", *, seed: int):
        self.w = writer
        self.seed = seed
        self.cursor = None

    # --- plumbing ----------------------------------------------------------------------------------------
    def _run(self, sql: str) -> int:
        self.cursor.execute(sql)
        return self.cursor.rowcount

    def _value(self, sql: str):
        self.cursor.execute(sql)
        return self.cursor.fetchone()[0]

    def _block(self, model: type[models.Model], count: int) -> int:
        """The first of `count` consecutive primary keys taken from the table's sequence (one query, even for
        none: the run costs as many queries whatever it draws)."""
        table, column = model._meta.db_table, model._meta.pk.column
        self.cursor.execute(
            "SELECT CASE WHEN %s > 0 THEN setval(pg_get_serial_sequence(%s, %s), "
            "nextval(pg_get_serial_sequence(%s, %s)) + %s - 1) - %s + 1 ELSE 0 END",
            [count, table, column, table, column, count, count],
        )
        return self.cursor.fetchone()[0]

    def _insert(self, model: type[models.Model], fields: list[str], select: str) -> int:
        """INSERT … SELECT with every column not named filled as the model would fill it (as `volume._insert`)."""
        from psycopg import sql as psql

        meta = model._meta
        named = {meta.get_field(name).name for name in fields}
        columns = [meta.get_field(name).column for name in fields]
        extras = []
        for f in meta.concrete_fields:
            if f.name in named or f.primary_key or f.generated:
                continue
            if f.has_default():
                value = f.get_default()
            elif f.null:
                value = None
            elif isinstance(f, models.CharField | models.TextField | models.FileField):
                value = ""
            else:
                raise ValueError(f"{model.__name__}.{f.name} : valeur requise")
            literal = psql.Literal(f.get_db_prep_save(value, connection)).as_string(connection.connection)
            extras.append(f"CAST({literal} AS {f.db_type(connection)})")
            columns.append(f.column)
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        start = perf_counter()
        count = self._run(
            f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({quoted}) "
            f"SELECT s.*{''.join(', ' + e for e in extras)} FROM ({select}) AS s"
        )
        SPENT[model.__name__] += perf_counter() - start
        return count

    def _unbuild(self) -> list[str]:
        """Drop the secondary indexes and the foreign keys of the tables about to be filled, and return what
        recreates them: one index build and one set-based check per key after the load cost far less than
        maintaining every index row by row and checking every key of every row at the commit. All inside the
        transaction: a failure leaves the schema as it was."""
        tables = [connection.ops.quote_name(model._meta.db_table) for model in FILLED]
        regclasses = "ARRAY[" + ", ".join(f"{_q(t)}::regclass" for t in tables) + "]"
        rebuild, drop = [], []
        for table, name, definition in self._rows(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            f"WHERE contype = 'f' AND conrelid = ANY({regclasses}) ORDER BY conrelid, conname"
        ):
            drop.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for name, definition in self._rows(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index AS i "
            f"WHERE i.indrelid = ANY({regclasses}) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid) ORDER BY i.indrelid, 1"
        ):
            drop.append(f"DROP INDEX {name}")
            rebuild.insert(0, definition)  # indexes first: the keys' checks use them
        for statement in drop:
            self._run(statement)
        return rebuild

    def _rebuild(self, statements: list[str]) -> None:
        start = perf_counter()
        self._run("SET LOCAL maintenance_work_mem = '256MB'")
        for statement in statements:
            self._run(statement)
        SPENT["index et clés"] += perf_counter() - start

    def _step(self, text: str) -> None:
        self.w.progress(f"{text} ({perf_counter() - self.started:.0f} s)")

    # --- the run -----------------------------------------------------------------------------------------
    def write(self) -> None:
        self.started = perf_counter()
        with connection.cursor() as cursor:
            self.cursor = cursor
            self._prepare()
            # A key cannot be dropped or added on a table with checks still pending in the transaction (the
            # accounts made just before, under a test's transaction): run them now, defer again at the end.
            self._run("SET CONSTRAINTS ALL IMMEDIATE")
            rebuild = self._unbuild()
            self._cases()
            self._step("Dossiers, débiteurs et coordonnées écrits")
            self._work()
            self._step("Courriers, appels et tâches écrits")
            self._money()
            self._step("Plans, paiements et reversements écrits")
            self._rebuild(rebuild)
            self._run("SET CONSTRAINTS ALL DEFERRED")
            self._step("Index et clés étrangères rétablis")
            self._run("DROP TABLE vol_pool, vol_struct, vol_seq, vol_c0, vol_c, vol_d, vol_i, vol_a, vol_p, vol_r")
            self._run("DROP FUNCTION pg_temp.vu(bigint, int)")

    def _prepare(self) -> None:
        w = self.w
        # Sorts and hashes of a million rows in memory rather than in temporary files.
        self._run("SET LOCAL work_mem = '256MB'")
        self._run(
            "CREATE OR REPLACE FUNCTION pg_temp.vu(k bigint, salt int) RETURNS float8 "
            "LANGUAGE sql IMMUTABLE PARALLEL SAFE "
            f"AS $$ SELECT (hashint8extended(k, {int(self.seed)}::bigint * 1000 + salt) & 9007199254740991)::float8 "
            "/ 9007199254740992 $$"
        )
        self._run(
            "CREATE TEMP TABLE vol_pool (i int PRIMARY KEY, civility text, last_name text, first_name text, "
            "search_name text, address_name text, mail_local text, mail_search text)"
        )
        rng = random.Random(f"names-{self.seed}")
        self.pool = max(1000, min(POOL_MAX, w.total))
        with connection.wrap_database_errors, self.cursor.cursor.copy("COPY vol_pool FROM STDIN") as copy:
            for i in range(1, self.pool + 1):
                civility, last, first = person_name(rng)
                search = debtor_search_name(first_name=first, last_name=last)
                local = search.replace(" ", ".")
                copy.write_row(
                    (
                        i,
                        civility,
                        last,
                        first,
                        search,
                        f"{civility} {last.upper()} {first}".strip(),
                        local,
                        contact_search_value(kind=ContactKind.EMAIL, value=local),
                    )
                )
        # Creditors by index (the CPAM first), their structures, letter templates and the numbering in force.
        self.creditor_ids = [creditor.pk for creditor, _, _ in w.creditors]
        self.prefixes = [creditor.slug[:4].upper() for creditor, _, _ in w.creditors]
        self.structure_counts = [len(structures) for _, structures, _ in w.creditors]
        self._run("CREATE TEMP TABLE vol_struct (idx int, k int, structure_id bigint, creditor_id bigint)")
        rows = [
            f"({idx}, {k}, {structure.pk}, {creditor.pk})"
            for idx, (creditor, structures, _) in enumerate(w.creditors)
            for k, structure in enumerate(structures)
        ]
        self._run(f"INSERT INTO vol_struct VALUES {', '.join(rows)}")
        self.templates = {
            kind: [templates[kind] for _, _, templates in w.creditors]
            for kind in (LetterKind.FIRST, LetterKind.REMINDER)
        }
        self._run(
            "CREATE TEMP TABLE vol_seq AS SELECT name, year::int AS year, last::bigint AS last FROM "
            f"{connection.ops.quote_name(NumberSequence._meta.db_table)} WHERE false"
        )
        if w.numbers:
            rows = [f"({_q(name)}, {year}, {last})" for (name, year), last in w.numbers.items()]
            self._run(f"INSERT INTO vol_seq VALUES {', '.join(rows)}")

    def _seq(self, name: str, year: str) -> str:
        return f"COALESCE((SELECT last FROM vol_seq WHERE name = {_q(name)} AND year = ({year})), 0)"

    def _count_numbers(self, name: str, sql: str) -> None:
        """Advance the writer's sequences by what `sql` (year, count) numbered, as `VolumeWriter._number` does."""
        self.cursor.execute(sql)
        for year, count in self.cursor.fetchall():
            self.w.numbers[(name, int(year))] = self.w.numbers.get((name, int(year)), 0) + count

    # --- cases, debtors, contact points ----------------------------------------------------------------
    def _cases(self) -> None:
        w = self.w
        total = w.total
        today = f"DATE '{w.today.isoformat()}'"
        now = f"TIMESTAMPTZ '{w.now.isoformat()}'"
        self._run(
            f"CREATE TEMP TABLE vol_c0 AS SELECT n, (n = 1 OR {_u('n', 1)} >= 0.12) AS fresh "
            f"FROM generate_series(1, {int(total)}) AS n"
        )
        debtors = self._value("SELECT count(*) FROM vol_c0 WHERE fresh")
        case_base = self._block(Case, total)
        debtor_base = self._block(Debtor, debtors)
        others = len(w.creditors) - 1
        creditor_index = (
            "0"
            if not others
            else f"(CASE WHEN u_cred < 0.5 THEN 0 ELSE 1 + least({others - 1}, "
            f"floor((u_cred - 0.5) * 2 * {others})::int) END)"
        )
        open_statuses = _in(CaseStatus.OPEN)
        agents = _ints(agent.pk for agent in w.agents)
        # Agents: three cases in ten shared evenly (every agent has work, even in a small volume), the others
        # ever more rarely from the first agent to the last, as `VolumeWriter._chunk` draws them.
        # Each case: its debtor (a new one, or one met earlier in the run), creditor, structure, age, status,
        # amounts and agent, drawn as `VolumeWriter._chunk` draws them.
        self._run(
            f"""CREATE TEMP TABLE vol_c AS
            WITH b AS (
                SELECT n, fresh,
                    CASE WHEN fresh THEN d ELSE 1 + floor({_u("n", 2)} * d)::int END AS d,
                    floor(power({_u("n", 3)}, 1.3) * 3 * 365)::int AS age,
                    {_u("n", 4)} AS u_cred, {_u("n", 5)} AS u_struct,
                    {_u("n", 6)} AS u_s1, {_u("n", 7)} AS u_s2
                FROM (SELECT n, fresh, sum(fresh::int) OVER (ORDER BY n) AS d FROM vol_c0) AS s
            ), c AS (
                SELECT b.*, {creditor_index} AS idx,
                    CASE WHEN age < 20 THEN (CASE WHEN u_s1 < 0.7 THEN {_q(CaseStatus.NEW)}
                                                  ELSE {_q(CaseStatus.IN_PROGRESS)} END)
                         WHEN u_s1 < 0.25 + 0.6 * age / 1095.0 THEN {_pick("u_s2", ENDED)}
                         ELSE {_pick("u_s2", OPEN)} END AS status,
                    (greatest(1500, least(900000, floor(exp(9.6 + 0.9 * sqrt(-2 * ln(1 - {_u("n", 8)}))
                        * cos(2 * pi() * {_u("n", 9)}))))) / 100)::numeric(12, 2) AS principal
                FROM b
            )
            SELECT c.n, {case_base} + c.n - 1 AS case_id, c.fresh, c.d, {debtor_base} + c.d - 1 AS debtor_id,
                c.age, {today} - c.age AS received, c.status, c.principal, c.idx,
                (ARRAY{self.creditor_ids}::bigint[])[c.idx + 1] AS creditor_id, st.structure_id,
                CASE WHEN c.status = {_q(CaseStatus.PAID)} THEN c.principal
                     WHEN c.status IN {_in((CaseStatus.IN_PROGRESS, CaseStatus.CLOSED, CaseStatus.RECALLED))}
                          AND {_u("n", 10)} < 0.2
                     THEN round(c.principal * {_ri("n", 11, "10", "80")} / 100, 2)
                     ELSE 0 END::numeric(12, 2) AS paid,
                CASE WHEN c.status IN {open_statuses} AND {_u("n", 12)} < 0.15 THEN NULL
                     WHEN {_u("n", 19)} < 0.3 THEN ({agents})[{_ri("n", 20, "1", str(len(w.agents)))}]
                     ELSE ({agents})[1 + least({len(w.agents) - 1},
                                              floor(-ln(1 - {_u("n", 13)}) / 0.6)::int)] END AS agent_id,
                CASE WHEN c.status = {_q(CaseStatus.PAYMENT_PLAN)} THEN {_ri("n", 14, "3", "10")} END AS months,
                CASE WHEN c.status = {_q(CaseStatus.PAYMENT_PLAN)} THEN least({today}, {today} - c.age
                     + {_ri("n", 15, "20", "greatest(21, c.age - 1)")}) END AS granted,
                {today} - c.age + least(c.age, {_ri("n", 16, "1", "400")}) AS changed_on
            FROM c JOIN vol_struct AS st
              ON st.idx = c.idx
             AND st.k = floor(c.u_struct * (ARRAY{self.structure_counts}::int[])[c.idx + 1])::int"""
        )
        # The debtors met for the first time, with what their letters and calls need.
        self._run(
            f"""CREATE TEMP TABLE vol_d AS
            SELECT s.*, CASE WHEN s.line2 = ''
                             THEN jsonb_build_array(s.address_name, s.line1, s.postal_code || ' ' || s.city)
                             ELSE jsonb_build_array(s.address_name, s.line1, s.line2, s.postal_code || ' ' || s.city)
                        END AS address_lines
            FROM (
                SELECT c.d, c.debtor_id, p.*,
                    CASE WHEN {_u("c.d", 31)} < 0.8 THEN DATE '1940-01-01' + {_ri("c.d", 32, "0", str(60 * 365))}
                    END AS birth_date,
                    {_u("c.d", 33)} < 0.01 AS do_not_contact,
                    {_ri("c.d", 34, "1", "180")}::text || ', '
                        || ({_texts(STREETS)})[{_ri("c.d", 35, "1", str(len(STREETS)))}] AS line1,
                    CASE WHEN {_u("c.d", 36)} < 0.2
                         THEN 'Bâtiment ' || (ARRAY['A', 'B', 'C', 'D'])[{_ri("c.d", 37, "1", "4")}]
                              || ', appartement ' || {_ri("c.d", 38, "1", "60")}::text
                         ELSE '' END AS line2,
                    ci.postal_code, ci.city,
                    {_pick(_u("c.d", 39), QUALITIES)} AS quality,
                    {today} - {_ri("c.d", 40, "30", "2000")} AS valid_from,
                    CASE WHEN {_u("c.d", 41)} < 0.7
                         THEN '+33' || (ARRAY['6', '7'])[{_ri("c.d", 42, "1", "2")}]
                              || lpad({_ri("c.d", 43, "0", "99999999")}::text, 8, '0')
                         ELSE '' END AS phone,
                    CASE WHEN {_u("c.d", 44)} < 0.8 THEN {_q(ContactQuality.VALID)}
                         ELSE {_q(ContactQuality.UNKNOWN)} END AS phone_quality,
                    CASE WHEN {_u("c.d", 45)} < 0.4 THEN {_ri("c.d", 46, "1", "999")}::text || '@'
                              || ({_texts(MAIL_DOMAINS)})[{_ri("c.d", 47, "1", str(len(MAIL_DOMAINS)))}]
                         ELSE '' END AS mail_tail
                FROM vol_c AS c
                JOIN vol_pool AS p ON p.i = {_ri("c.d", 30, "1", str(self.pool))}
                JOIN unnest({_texts(pc for pc, _ in CITIES)}, {_texts(city for _, city in CITIES)})
                     WITH ORDINALITY AS ci(postal_code, city, k) ON ci.k = {_ri("c.d", 48, "1", str(len(CITIES)))}
                WHERE c.fresh
            ) AS s"""
        )
        self._run("ANALYZE vol_c")
        self._run("ANALYZE vol_d")
        count = self._insert(
            Debtor,
            COLUMNS[Debtor],
            f"SELECT debtor_id, civility, last_name, first_name, birth_date, do_not_contact, {now}, search_name "
            "FROM vol_d ORDER BY debtor_id",
        )
        w.summary.counts["debtors"] += count
        source = _q("Lot du créancier")
        count = self._insert(
            ContactPoint,
            COLUMNS[ContactPoint],
            f"""SELECT * FROM (
                SELECT debtor_id, {_q(ContactKind.ADDRESS)}, line1, line2, postal_code, city, 'FR', '', '', quality,
                    {source}, valid_from, true, {now}, ''
                FROM vol_d
                UNION ALL
                SELECT debtor_id, {_q(ContactKind.PHONE)}, '', '', '', '', 'FR', phone, '0' || substr(phone, 4),
                    phone_quality, {source}, valid_from, true, {now}, '33' || substr(phone, 4)
                FROM vol_d WHERE phone <> ''
                UNION ALL
                SELECT debtor_id, {_q(ContactKind.EMAIL)}, '', '', '', '', 'FR', mail_local || mail_tail,
                    mail_local || mail_tail, {_q(ContactQuality.VALID)}, {source}, valid_from, true, {now},
                    mail_search || mail_tail
                FROM vol_d WHERE mail_tail <> ''
            ) AS points ORDER BY 1""",
        )
        w.summary.counts["contact_points"] += count
        # Plans first: a plan case has paid what its instalments due have received.
        self._run(
            f"""CREATE TEMP TABLE vol_i AS
            SELECT c.n, r.rank, c.granted + 30 * r.rank AS due_on, a.amount,
                CASE WHEN c.granted + 30 * r.rank <= {today} - 3 AND {_u("c.n * 16 + r.rank", 50)} < 0.9
                     THEN {_q(InstalmentStatus.PAID)}
                     WHEN c.granted + 30 * r.rank <= {today} THEN {_q(InstalmentStatus.MISSED)}
                     ELSE {_q(InstalmentStatus.PENDING)} END AS status
            FROM vol_c AS c
            CROSS JOIN LATERAL generate_series(1, c.months) AS r(rank)
            CROSS JOIN LATERAL (SELECT CASE WHEN r.rank < c.months THEN round(c.principal / c.months, 2)
                                            ELSE c.principal - round(c.principal / c.months, 2) * (c.months - 1)
                                       END::numeric(12, 2) AS amount) AS a
            WHERE c.months IS NOT NULL"""
        )
        self._run(
            f"UPDATE vol_c SET paid = s.paid FROM (SELECT n, sum(amount) AS paid FROM vol_i "
            f"WHERE status = {_q(InstalmentStatus.PAID)} GROUP BY n) AS s WHERE vol_c.n = s.n"
        )
        bases = _texts(BASES)
        count = self._insert(
            Case,
            COLUMNS[Case],
            f"""SELECT case_id,
                ({_texts(self.prefixes)})[idx + 1] || to_char(received, 'YY')
                    || lpad(case_id::text, greatest(8, length(case_id::text)), '0'),
                creditor_id, structure_id, debtor_id, principal, principal, 0, 0, paid,
                received - {_ri("n", 17, "30", "400")}, ({bases})[{_ri("n", 18, "1", str(len(BASES)))}],
                received, received + 1,
                CASE WHEN status IN {open_statuses} THEN received + 365 END,
                agent_id, status, {_at("changed_on", 10)},
                CASE WHEN status = {_q(CaseStatus.RECALLED)} THEN {_at("changed_on", 10)} END,
                {_at("received", 8)}
            FROM vol_c ORDER BY n""",
        )
        w.summary.counts["cases"] += count

    # --- letters, calls, tasks -------------------------------------------------------------------------
    def _work(self) -> None:
        w = self.w
        today = f"DATE '{w.today.isoformat()}'"
        open_statuses = _in(CaseStatus.OPEN)
        # One row per action: the first letter (seq 0), the reminder (1), the calls (2, 3, 4); numbered in
        # case order for the primary keys and by date within each year for the letters' numbers.
        self._run(
            f"""CREATE TEMP TABLE vol_a AS
            SELECT x.*, row_number() OVER (ORDER BY x.n, x.seq) AS a_rank,
                row_number() OVER (PARTITION BY x.seq < 2 ORDER BY x.n, x.seq) AS l_rank,
                row_number() OVER (PARTITION BY x.seq < 2, extract(year FROM x.day) ORDER BY x.day, x.n, x.seq)
                    AS l_number
            FROM (
                SELECT c.n, 0 AS seq, c.received + 3 AS day, 9 AS hour, NULL::bigint AS actor, NULL::text AS outcome
                FROM vol_c AS c WHERE c.status <> {_q(CaseStatus.NEW)}
                UNION ALL
                SELECT c.n, 1, c.received + 3 + {_ri("c.n", 60, "30", "50")}, 9, c.agent_id, NULL
                FROM vol_c AS c
                WHERE c.status IN {open_statuses} AND c.age > 60 AND {_u("c.n", 61)} < 0.35
                UNION ALL
                SELECT c.n, 1 + k, least({today}, c.received + 3 + {_ri("c.n * 4 + k", 63, "8", "300")}),
                    {_ri("c.n * 4 + k", 64, "10", "18")}, c.agent_id, {_pick(_u("c.n * 4 + k", 65), OUTCOMES)}
                FROM vol_c AS c JOIN vol_d AS d ON d.d = c.d
                CROSS JOIN LATERAL generate_series(1, (ARRAY[0, 0, 1, 1, 2, 3])[{_ri("c.n", 62, "1", "6")}]) AS k
                WHERE c.status <> {_q(CaseStatus.NEW)} AND d.phone <> '' AND c.agent_id IS NOT NULL
            ) AS x"""
        )
        self._run("ANALYZE vol_a")
        counts = dict(
            self._rows("SELECT seq < 2, count(*) FROM vol_a GROUP BY 1"),
        )
        letters, calls = counts.get(True, 0), counts.get(False, 0)
        action_base = self._block(Action, letters + calls)
        letter_base = self._block(Letter, letters)
        outcome = _label("a.outcome", CallOutcome.choices)
        self._insert(
            Action,
            COLUMNS[Action],
            f"""SELECT {action_base} + a.a_rank - 1, c.case_id,
                CASE WHEN a.seq < 2 THEN {_q(Channel.LETTER)} ELSE {_q(Channel.CALL)} END,
                {_at("a.day", "0")} + a.hour * interval '1 hour', a.actor,
                CASE a.seq WHEN 0 THEN 'Première lettre' WHEN 1 THEN 'Lettre de relance'
                     ELSE 'Appel : ' || {outcome} END
            FROM vol_a AS a JOIN vol_c AS c USING (n) ORDER BY a.a_rank""",
        )
        first, reminder = self.templates[LetterKind.FIRST], self.templates[LetterKind.REMINDER]
        count = self._insert(
            Letter,
            COLUMNS[Letter],
            f"""SELECT {letter_base} + a.l_rank - 1,
                {_number("L", "extract(year FROM a.day)::int", "coalesce(q.last, 0) + a.l_number")},
                c.case_id,
                CASE a.seq WHEN 0 THEN {_q(LetterKind.FIRST)} ELSE {_q(LetterKind.REMINDER)} END,
                CASE a.seq WHEN 0 THEN ({_ints(first)})[c.idx + 1] ELSE ({_ints(reminder)})[c.idx + 1] END,
                CASE a.seq WHEN 1 THEN {letter_base} + a.l_rank - 2 END,
                a.day, {_at("a.day", 9)}, a.actor, d.address_lines,
                CASE a.seq WHEN 0 THEN c.principal ELSE c.principal - c.paid END,
                {_q(w.pdf_name)}, {_q(w.pdf_sha)}, a.day + 1, {action_base} + a.a_rank - 1
            FROM vol_a AS a JOIN vol_c AS c USING (n) JOIN vol_d AS d ON d.d = c.d
            LEFT JOIN vol_seq AS q ON q.name = 'letter' AND q.year = extract(year FROM a.day)::int
            WHERE a.seq < 2 ORDER BY a.l_rank""",
        )
        w.summary.counts["letters"] += count
        self._count_numbers("letter", "SELECT extract(year FROM day), count(*) FROM vol_a WHERE seq < 2 GROUP BY 1")
        count = self._insert(
            CallRecord,
            COLUMNS[CallRecord],
            f"""SELECT {action_base} + a.a_rank - 1, {_q(CallDirection.OUTBOUND)}, d.phone, a.outcome, '', NULL::bigint
            FROM vol_a AS a JOIN vol_c AS c USING (n) JOIN vol_d AS d ON d.d = c.d
            WHERE a.seq >= 2 ORDER BY a.a_rank""",
        )
        w.summary.counts["calls"] += count
        all_kinds, plain_kinds = _texts(TASK_KINDS), _texts(TASK_KINDS[:3])
        count = self._insert(
            Task,
            COLUMNS[Task],
            f"""SELECT case_id,
                CASE WHEN status = {_q(CaseStatus.PAYMENT_PLAN)} THEN ({all_kinds})[{_ri("n", 71, "1", "4")}]
                     ELSE ({plain_kinds})[{_ri("n", 72, "1", "3")}] END,
                {_q(TaskStatus.OPEN)}, '', due_on, {_at("greatest(received, due_on - 7)", 10)}
            FROM (SELECT c.*, {today} + {_ri("c.n", 73, "-15", "20")} AS due_on FROM vol_c AS c
                  WHERE c.status IN {_in((CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.PAYMENT_PLAN))}
                    AND {_u("c.n", 70)} < 0.2) AS t
            ORDER BY n""",
        )
        w.summary.counts["tasks"] += count

    def _rows(self, sql: str) -> list[tuple]:
        self.cursor.execute(sql)
        return self.cursor.fetchall()

    # --- plans, payments, remittances -------------------------------------------------------------------
    def _money(self) -> None:
        w = self.w
        today = f"DATE '{w.today.isoformat()}'"
        plans = self._value("SELECT count(*) FROM vol_c WHERE months IS NOT NULL")
        plan_base = self._block(Plan, plans)
        granted_year = "extract(year FROM c.granted)::int"
        plan_rank = (
            self._seq("plan", granted_year)
            + f" + row_number() OVER (PARTITION BY {granted_year} ORDER BY c.granted, c.n)"
        )
        count = self._insert(
            Plan,
            COLUMNS[Plan],
            f"""SELECT {plan_base} + row_number() OVER (ORDER BY c.n) - 1,
                {_number("PA", granted_year, plan_rank)},
                c.case_id, {_q(PlanStatus.ACTIVE)}, c.principal, {_q(PlanRhythm.MONTHLY)}, c.months,
                coalesce(c.agent_id, {w.supervisor.pk}), {_at("c.granted", 11)}, {_at("c.granted", 11)},
                m.missed, '', '', '[]'::jsonb
            FROM vol_c AS c
            JOIN (SELECT n, count(*) FILTER (WHERE status = {_q(InstalmentStatus.MISSED)}) AS missed FROM vol_i
                  GROUP BY n) AS m USING (n)
            WHERE c.months IS NOT NULL ORDER BY c.n""",
        )
        w.summary.counts["plans"] += count
        self._count_numbers(
            "plan", "SELECT extract(year FROM granted), count(*) FROM vol_c WHERE months IS NOT NULL GROUP BY 1"
        )
        self._insert(
            Instalment,
            COLUMNS[Instalment],
            f"""SELECT p.plan_id, i.rank, i.due_on, i.amount,
                CASE WHEN i.status = {_q(InstalmentStatus.PAID)} THEN i.amount ELSE 0 END, i.status
            FROM vol_i AS i
            JOIN (SELECT n, {plan_base} + row_number() OVER (ORDER BY n) - 1 AS plan_id FROM vol_c
                  WHERE months IS NOT NULL) AS p USING (n)
            ORDER BY i.n, i.rank""",
        )
        # Payments: a plan's paid instalments, or one to three payments splitting what the case has paid.
        self._run(
            f"""CREATE TEMP TABLE vol_p AS
            SELECT x.*, row_number() OVER (ORDER BY x.n, x.k) AS p_rank,
                date_trunc('week', x.collected_on)::date AS monday
            FROM (
                SELECT c.n, i.rank AS k, c.case_id, c.creditor_id, c.structure_id, i.amount, i.due_on AS collected_on
                FROM vol_i AS i JOIN vol_c AS c USING (n) WHERE i.status = {_q(InstalmentStatus.PAID)}
                UNION ALL
                SELECT c.n, k, c.case_id, c.creditor_id, c.structure_id,
                    ((CASE k WHEN 1 THEN cut.lo WHEN 2 THEN cut.hi - cut.lo ELSE cut.cents - cut.hi END)
                        / 100.0)::numeric(12, 2),
                    least({today}, c.received + least(greatest(1, c.age - 10),
                        {_ri("c.n * 4 + k", 82, "10", "10 + greatest(1, c.age - 10)")}))
                FROM vol_c AS c
                CROSS JOIN LATERAL (SELECT (c.paid * 100)::bigint AS cents,
                    CASE WHEN c.paid < 60 THEN 1 ELSE {_ri("c.n", 80, "1", "3")} END AS parts) AS p
                CROSS JOIN LATERAL (
                    SELECT p.cents,
                        CASE p.parts WHEN 1 THEN p.cents WHEN 2 THEN x ELSE least(x, y) END AS lo,
                        CASE p.parts WHEN 3 THEN greatest(x, y) ELSE p.cents END AS hi
                    FROM (SELECT 1 + floor({_u("c.n", 83)} * (p.cents - 1))::bigint AS x,
                                 1 + floor({_u("c.n", 84)} * (p.cents - 2))::bigint AS y0) AS r
                    CROSS JOIN LATERAL (SELECT r.y0 + (r.y0 >= r.x)::int AS y) AS yy
                ) AS cut
                CROSS JOIN LATERAL generate_series(1, p.parts) AS k
                WHERE c.months IS NULL AND c.paid > 0
            ) AS x"""
        )
        self._run("ANALYZE vol_p")
        # Every complete week before the last one remitted, one remittance per structure and week, as
        # `VolumeWriter._remittances`; with --append, a week already remitted keeps its payments held.
        last_monday = w.today - timedelta(days=w.today.weekday()) - timedelta(days=7)
        remittance = connection.ops.quote_name(Remittance._meta.db_table)
        self._run(
            f"""CREATE TEMP TABLE vol_r AS
            SELECT structure_id, monday, min(creditor_id) AS creditor_id, sum(amount) AS total,
                row_number() OVER (ORDER BY monday, structure_id) AS r_rank,
                row_number() OVER (PARTITION BY extract(year FROM monday + 8) ORDER BY monday, structure_id)
                    AS r_number
            FROM vol_p AS p
            WHERE monday < DATE '{last_monday.isoformat()}' AND NOT EXISTS (
                SELECT 1 FROM {remittance} AS r WHERE r.structure_id = p.structure_id AND r.period_start = p.monday)
            GROUP BY structure_id, monday"""
        )
        payments = self._value("SELECT count(*) FROM vol_p")
        weeks = self._value("SELECT count(*) FROM vol_r")
        payment_base = self._block(Payment, payments)
        entry_base = self._block(LedgerEntry, payments + weeks)
        remittance_base = self._block(Remittance, weeks)
        methods = _texts(METHODS)
        count = self._insert(
            Payment,
            [
                "id",
                "case",
                "method",
                "amount",
                "collected_on",
                "reference",
                "cash_reason",
                "source",
                "recorded_at",
                "remitted",
            ],
            f"""SELECT {payment_base} + p.p_rank - 1, p.case_id,
                ({methods})[1 + ({payment_base} + p.p_rank - 1) % {len(METHODS)}], p.amount, p.collected_on, '', '',
                {_q(PaymentSource.AGENT)}, {_at("p.collected_on", 15)}, r.r_rank IS NOT NULL
            FROM vol_p AS p LEFT JOIN vol_r AS r USING (structure_id, monday) ORDER BY p.p_rank""",
        )
        w.summary.counts["payments"] += count
        self._insert(
            Allocation,
            COLUMNS[Allocation],
            f"SELECT case_id, {_q(Component.PRINCIPAL)}, amount, {payment_base} + p_rank - 1 "
            "FROM vol_p ORDER BY p_rank",
        )
        method = _label(f"({methods})[1 + ({payment_base} + p_rank - 1) % {len(METHODS)}]", PaymentMethod.choices)
        remittance_number = _number(
            "RV",
            "extract(year FROM monday + 8)::int",
            self._seq("remittance", "extract(year FROM monday + 8)::int") + " + r_number",
        )
        self._insert(
            LedgerEntry,
            COLUMNS[LedgerEntry],
            f"""SELECT {entry_base} + p_rank - 1, {_q(EntryKind.PAYMENT)},
                'payment:' || ({payment_base} + p_rank - 1)::text, collected_on,
                {method} || ' — dossier ' || case_id::text, {_at("collected_on", 15)}
            FROM vol_p
            UNION ALL
            SELECT {entry_base} + {payments} + r_rank - 1, {_q(EntryKind.REMITTANCE)},
                'remittance:' || ({remittance_base} + r_rank - 1)::text, monday + 8,
                'Reversement ' || {remittance_number},
                {_at("monday + 8", 7)}
            FROM vol_r""",
        )
        self._insert(
            LedgerLine,
            COLUMNS[LedgerLine],
            f"""SELECT * FROM (
                SELECT {entry_base} + p_rank - 1 AS entry, {_q(LedgerAccount.BANK)}, amount, collected_on,
                    NULL::bigint, NULL::bigint, case_id
                FROM vol_p
                UNION ALL
                SELECT {entry_base} + p_rank - 1, {_q(LedgerAccount.CREDITOR_FUNDS)}, -amount, collected_on,
                    creditor_id, structure_id, case_id
                FROM vol_p
                UNION ALL
                SELECT {entry_base} + {payments} + r_rank - 1, {_q(LedgerAccount.BANK)}, -total, monday + 8,
                    NULL::bigint, NULL::bigint, NULL::bigint
                FROM vol_r
                UNION ALL
                SELECT {entry_base} + {payments} + r_rank - 1, {_q(LedgerAccount.CREDITOR_FUNDS)}, total, monday + 8,
                    creditor_id, structure_id, NULL::bigint
                FROM vol_r
            ) AS lines ORDER BY 1""",
        )
        count = self._insert(
            Remittance,
            COLUMNS[Remittance],
            f"""SELECT {remittance_base} + r_rank - 1, {remittance_number}, creditor_id, structure_id, monday,
                monday + 6, total, {_q(RemittanceStatus.EXECUTED)}, {_at("monday + 8", 7)}, {_at("monday + 8", 8)},
                monday + 9, {_at("monday + 8", 7)}, {_at("monday + 8", 8)}
            FROM vol_r ORDER BY r_rank""",
        )
        w.summary.counts["remittances"] += count
        self._count_numbers("remittance", "SELECT extract(year FROM monday + 8), count(*) FROM vol_r GROUP BY 1")
        self._insert(
            RemittanceLine,
            COLUMNS[RemittanceLine],
            f"""SELECT {remittance_base} + r.r_rank - 1, {payment_base} + p.p_rank - 1, p.amount
            FROM vol_p AS p JOIN vol_r AS r USING (structure_id, monday) ORDER BY p.p_rank""",
        )
