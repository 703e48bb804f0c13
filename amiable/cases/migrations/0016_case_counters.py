"""Triggers that keep `cases_casecounter` (see `CaseCounter`) in step with `cases_case`, and the first count.

PostgreSQL: one trigger per statement with its transition tables, so that a bulk insert of 100,000 cases makes
one grouped upsert, not 100,000; the old rows count minus and the new ones plus, grouped by key, and a key whose
figures did not move is not written (an update of a date does not lock the counters). Keys are written in
order, so two transactions never take the same counters in opposite orders. SQLite: one trigger per row.
"""

from django.db import migrations

KEY = "creditor_id, structure_id, status, agent_id"
FIGURES = "cases, claimed_cents, recovered_cents, balance_cents"
ADD = ", ".join(f"{f} = cases_casecounter.{f} + excluded.{f}" for f in FIGURES.split(", "))


def _cents(row: str, column: str) -> str:
    return f"CAST(ROUND({row}.{column} * 100) AS BIGINT)"


def _values(row: str, sign: str) -> str:
    """The key and the signed figures of one case row (SQLite's NEW / OLD)."""
    return (
        f"{row}.creditor_id, {row}.structure_id, {row}.status, COALESCE({row}.assigned_agent_id, 0), {sign}1, "
        f"{sign}{_cents(row, 'claimed_amount')}, "
        f"{sign}({_cents(row, 'paid_amount')} - {_cents(row, 'overpaid_amount')}), "
        f"{sign}{_cents(row, 'balance')}"
    )


def _sqlite_upsert(row: str, sign: str) -> str:
    return (
        f"INSERT INTO cases_casecounter ({KEY}, {FIGURES}) VALUES ({_values(row, sign)}) "
        f"ON CONFLICT ({KEY}) DO UPDATE SET {ADD};"
    )


# Columns whose change moves a case between counters or changes its amounts (claimed, balance and overpaid
# are computed from them).
WATCHED = (
    "creditor_id, structure_id, status, assigned_agent_id, principal_amount, interest_amount, other_amount, paid_amount"
)

SQLITE_CREATE = [
    f"CREATE TRIGGER cases_counter_insert AFTER INSERT ON cases_case BEGIN {_sqlite_upsert('NEW', '')} END",
    f"CREATE TRIGGER cases_counter_delete AFTER DELETE ON cases_case BEGIN {_sqlite_upsert('OLD', '-')} END",
    f"CREATE TRIGGER cases_counter_update AFTER UPDATE OF {WATCHED} ON cases_case BEGIN "
    f"{_sqlite_upsert('OLD', '-')} {_sqlite_upsert('NEW', '')} END",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS cases_counter_{op}" for op in ("insert", "delete", "update")]


def _pg_rows(table: str, sign: int) -> str:
    return (
        f"SELECT creditor_id, structure_id, status, COALESCE(assigned_agent_id, 0) AS agent_id, {sign} AS cases, "
        f"{sign} * CAST(ROUND(claimed_amount * 100) AS BIGINT) AS claimed_cents, "
        f"{sign} * CAST(ROUND((paid_amount - overpaid_amount) * 100) AS BIGINT) AS recovered_cents, "
        f"{sign} * CAST(ROUND(balance * 100) AS BIGINT) AS balance_cents FROM {table}"
    )


def _pg_upsert(rows: str) -> str:
    sums = ", ".join(f"SUM({f})" for f in FIGURES.split(", "))
    moved = " OR ".join(f"SUM({f}) <> 0" for f in FIGURES.split(", "))
    return (
        f"INSERT INTO cases_casecounter ({KEY}, {FIGURES}) "
        f"SELECT {KEY}, {sums} FROM ({rows}) AS delta GROUP BY {KEY} HAVING {moved} ORDER BY {KEY} "
        f"ON CONFLICT ({KEY}) DO UPDATE SET {ADD};"
    )


PG_CREATE = [
    f"""
    CREATE FUNCTION cases_counter_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {_pg_upsert(_pg_rows("new_rows", 1))}
        ELSIF TG_OP = 'DELETE' THEN
            {_pg_upsert(_pg_rows("old_rows", -1))}
        ELSE
            {_pg_upsert(_pg_rows("old_rows", -1) + " UNION ALL " + _pg_rows("new_rows", 1))}
        END IF;
        RETURN NULL;
    END;
    $$
    """,
    "CREATE TRIGGER cases_counter_insert AFTER INSERT ON cases_case REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION cases_counter_apply()",
    "CREATE TRIGGER cases_counter_delete AFTER DELETE ON cases_case REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION cases_counter_apply()",
    "CREATE TRIGGER cases_counter_update AFTER UPDATE ON cases_case "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION cases_counter_apply()",
]
PG_DROP = [
    "DROP TRIGGER IF EXISTS cases_counter_insert ON cases_case",
    "DROP TRIGGER IF EXISTS cases_counter_delete ON cases_case",
    "DROP TRIGGER IF EXISTS cases_counter_update ON cases_case",
    "DROP FUNCTION IF EXISTS cases_counter_apply()",
]

BACKFILL = (
    "DELETE FROM cases_casecounter",
    f"INSERT INTO cases_casecounter ({KEY}, {FIGURES}) "
    f"SELECT {KEY}, SUM(cases), SUM(claimed_cents), SUM(recovered_cents), SUM(balance_cents) "
    f"FROM ({_pg_rows('cases_case', 1)}) AS delta GROUP BY {KEY}",
)


def create(apps, schema_editor):
    statements = PG_CREATE if schema_editor.connection.vendor == "postgresql" else SQLITE_CREATE
    for sql in (*statements, *BACKFILL):
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    statements = PG_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP
    for sql in statements:
        schema_editor.execute(sql)
    schema_editor.execute("DELETE FROM cases_casecounter")


class Migration(migrations.Migration):
    dependencies = [("cases", "0015_case_list_indexes_and_counters")]

    operations = [migrations.RunPython(create, drop)]
