"""Trigram indexes for the case search on PostgreSQL (`pg_trgm`, a trusted extension that the database's
owner may create): `LIKE '%…%'` on the folded names and contact values, and `UPPER(reference) LIKE` (what
Django's `icontains` writes) on the case reference, use them instead of reading every row. SQLite has no
such index and reads the tables: nothing is done there. Declared here rather than in the models' `Meta`,
where a GIN index would break the SQLite schema; see docs/performance.md « Recherche »."""

from django.db import migrations

INDEXES = [
    ("case_reference_trgm_idx", "cases_case", 'UPPER("reference"::text) gin_trgm_ops'),
    ("debtor_search_name_trgm_idx", "cases_debtor", '"search_name" gin_trgm_ops'),
    ("contactpoint_search_trgm_idx", "cases_contactpoint", '"search_value" gin_trgm_ops'),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, expression in INDEXES:
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin ({expression})')


def drop(apps, schema_editor):
    # The extension stays: other objects of the database may use it.
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _expression in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("cases", "0013_backfill_search_columns")]

    operations = [migrations.RunPython(create, drop)]
