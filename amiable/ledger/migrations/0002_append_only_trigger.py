"""Make the client-funds journal append-only in the database itself, below the application (C15, S5)."""

from django.db import migrations

TABLES = ("ledger_ledgerentry", "ledger_ledgerline")

PG_INSTALL = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'Le journal des fonds de tiers est en ajout seul : % refusé.', TG_OP;
END;
$$ LANGUAGE plpgsql;
""" + "".join(
    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();\n"
    for table in TABLES
)
PG_REMOVE = "".join(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\n" for table in TABLES) + (
    "DROP FUNCTION IF EXISTS ledger_refuse_change();"
)
# SQLite: refuse UPDATE only; Django's test flush empties tables with DELETE there (see the audit trail).
SQLITE_INSTALL = [
    f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
    "BEGIN SELECT RAISE(ABORT, 'Le journal des fonds de tiers est en ajout seul : UPDATE refusé.'); END;"
    for table in TABLES
]
SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {table}_no_update;" for table in TABLES]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_INSTALL, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_INSTALL:
            schema_editor.execute(statement)


def remove(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_REMOVE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_REMOVE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(install, remove)]
