"""Chain the audit trail by hash (audit.chain) and protect it further on PostgreSQL: TRUNCATE refused, and the
function through which writers take the chain's lock and read its tip."""

from django.db import migrations, models

# The advisory lock of the chain: any constant, the same for every writer (b"amiable!" read as an integer).
CHAIN_LOCK = 7020383261124486433

PG_INSTALL = f"""
CREATE OR REPLACE FUNCTION audit_chain_tip() RETURNS varchar AS $$
DECLARE
    tip varchar;
BEGIN
    -- A snapshot older than the lock would miss the events committed while waiting for it: fork the chain.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'Le journal d''audit s''écrit au niveau d''isolation READ COMMITTED.';
    END IF;
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
    -- A VOLATILE function takes a new snapshot for each statement: this one sees every event committed before
    -- the lock was granted.
    SELECT hash INTO tip FROM audit_auditevent ORDER BY id DESC LIMIT 1;
    RETURN tip;
END;
$$ LANGUAGE plpgsql VOLATILE;

CREATE OR REPLACE FUNCTION audit_auditevent_refuse_truncate() RETURNS trigger AS $$
BEGIN
    -- A superuser may bypass any trigger anyway; letting them through keeps Django's test flush working.
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'Le journal d''audit est en ajout seul : TRUNCATE refusé.';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_auditevent_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_auditevent_refuse_truncate();
"""
PG_REMOVE = """
DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_auditevent_refuse_truncate();
DROP FUNCTION IF EXISTS audit_chain_tip();
"""
SQLITE_NO_UPDATE = """
CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent
BEGIN SELECT RAISE(ABORT, 'Le journal d''audit est en ajout seul : UPDATE refusé.'); END;
"""


def chain_existing(apps, schema_editor):
    """Chain the events written before the chain existed, once, in id order, a slice at a time."""
    from amiable.audit.chain import COLUMNS, GENESIS, content, link

    connection = schema_editor.connection
    AuditEvent = apps.get_model("audit", "AuditEvent")
    with connection.cursor() as cursor:
        # The owner running the migrations lifts the append-only rule for this one rewrite.
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditevent_no_update")
        previous, last = GENESIS, 0
        while True:
            rows = list(
                AuditEvent.objects.filter(id__gt=last).order_by("id").values_list("id", *COLUMNS)[:2000]
            )
            if not rows:
                break
            updates = []
            for row in rows:
                previous = link(previous, content(row[1:]))
                updates.append((previous, row[0]))
            cursor.executemany("UPDATE audit_auditevent SET hash = %s WHERE id = %s", updates)
            last = rows[-1][0]
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_append_only")
        else:
            cursor.execute(SQLITE_NO_UPDATE)


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_INSTALL, params=None)
    else:
        # SQLite added the column by rebuilding the table, which dropped its trigger (audit 0002): put it back.
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_auditevent_no_update")
        schema_editor.execute(SQLITE_NO_UPDATE)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_REMOVE, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_personal_data_key")]
    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(default="", editable=False, max_length=64, verbose_name="empreinte chaînée"),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.RunPython(install, remove),
    ]
