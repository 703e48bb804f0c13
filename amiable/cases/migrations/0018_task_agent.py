"""`Task.agent`: the case's agent carried on its tasks, so that « Ma journée » reads an agent's open tasks on one
partial index `(agent, due_on, id)` instead of walking every open task through its case.

Kept by the database, on every write path (services, bulk updates, the intake's and the volume's COPY):
- a task written (inserted, or its case or agent column updated) takes its case's agent; on PostgreSQL the case
  row is read `FOR SHARE`, so that a task inserted while its case changes hands waits for that change and takes
  the new agent (the change, in turn, waits for the insert and then updates the task);
- a case whose agent changes hands its tasks over. PostgreSQL: one trigger per statement with its transition
  tables (assigning 100,000 cases is one joined update, not 100,000); SQLite: one trigger per row.
`check_case_counters` compares them with the cases every day and repairs a drift.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CASE_AGENT = "(SELECT assigned_agent_id FROM cases_case WHERE cases_case.id = NEW.case_id)"

SQLITE_CREATE = [
    "CREATE TRIGGER cases_task_agent_insert AFTER INSERT ON cases_task "
    f"WHEN NEW.agent_id IS NOT {CASE_AGENT} BEGIN "
    f"UPDATE cases_task SET agent_id = {CASE_AGENT} WHERE id = NEW.id; END",
    "CREATE TRIGGER cases_task_agent_update AFTER UPDATE OF case_id, agent_id ON cases_task "
    f"WHEN NEW.agent_id IS NOT {CASE_AGENT} BEGIN "
    f"UPDATE cases_task SET agent_id = {CASE_AGENT} WHERE id = NEW.id; END",
    "CREATE TRIGGER cases_task_agent_follow AFTER UPDATE OF assigned_agent_id ON cases_case "
    "WHEN NEW.assigned_agent_id IS NOT OLD.assigned_agent_id BEGIN "
    "UPDATE cases_task SET agent_id = NEW.assigned_agent_id WHERE case_id = NEW.id; END",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS cases_task_agent_{name}" for name in ("insert", "update", "follow")
]

PG_CREATE = [
    """
    CREATE FUNCTION cases_task_agent_take() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        SELECT assigned_agent_id INTO NEW.agent_id FROM cases_case WHERE id = NEW.case_id FOR SHARE;
        RETURN NEW;
    END;
    $$
    """,
    "CREATE TRIGGER cases_task_agent_take BEFORE INSERT OR UPDATE OF case_id, agent_id ON cases_task "
    "FOR EACH ROW EXECUTE FUNCTION cases_task_agent_take()",
    """
    CREATE FUNCTION cases_task_agent_follow() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE cases_task AS task SET agent_id = new_rows.assigned_agent_id
        FROM new_rows JOIN old_rows ON old_rows.id = new_rows.id
        WHERE task.case_id = new_rows.id
          AND new_rows.assigned_agent_id IS DISTINCT FROM old_rows.assigned_agent_id
          AND task.agent_id IS DISTINCT FROM new_rows.assigned_agent_id;
        RETURN NULL;
    END;
    $$
    """,
    "CREATE TRIGGER cases_task_agent_follow AFTER UPDATE ON cases_case "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION cases_task_agent_follow()",
]
PG_DROP = [
    "DROP TRIGGER IF EXISTS cases_task_agent_follow ON cases_case",
    "DROP TRIGGER IF EXISTS cases_task_agent_take ON cases_task",
    "DROP FUNCTION IF EXISTS cases_task_agent_follow()",
    "DROP FUNCTION IF EXISTS cases_task_agent_take()",
]

# Before the triggers exist: every task takes its case's agent once.
BACKFILL = (
    "UPDATE cases_task SET agent_id = (SELECT assigned_agent_id FROM cases_case WHERE cases_case.id = cases_task.case_id)"
)


def create(apps, schema_editor):
    schema_editor.execute(BACKFILL)
    for sql in PG_CREATE if schema_editor.connection.vendor == "postgresql" else SQLITE_CREATE:
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    for sql in PG_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0017_comment_created_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="agent",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="gestionnaire du dossier",
            ),
        ),
        migrations.RunPython(create, drop),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("status", "open")),
                fields=["agent", "due_on", "id"],
                name="task_open_agent_due_idx",
            ),
        ),
    ]
