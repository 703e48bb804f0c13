"""`manage.py grant_app_role ROLE`: the rights of the application's database role, after each `migrate`.

Production runs two PostgreSQL roles (docs/operations.md, « Déploiement : deux rôles de base de données »): the
owner of the tables, which runs the migrations and this command, and the application's role, which owns nothing.
Only an owner (or a superuser) may disable a trigger, so the application's role cannot lift the audit trail's
append-only rule; it may read and append to the trail, never change, delete nor empty it."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

AUDIT_TABLE = "audit_auditevent"
# Tables the application reads but never writes.
READ_ONLY_TABLES = ("django_migrations",)


class Command(BaseCommand):
    help = (
        "Donne au rôle PostgreSQL de l'application ses droits : lecture et écriture des tables, ajout et lecture "
        "seuls sur le journal d'audit. À lancer avec le rôle propriétaire après chaque migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="Rôle PostgreSQL de l'application (ex. amiable_app).")

    def handle(self, *args, role, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Les rôles de base de données ne concernent que PostgreSQL (base actuelle : SQLite).")
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
            found = cursor.fetchone()
            if found is None:
                raise CommandError(f"Le rôle « {role} » n'existe pas : créez-le d'abord (scripts/db-roles.sql).")
            if found[0]:
                raise CommandError(f"Le rôle « {role} » est superutilisateur : l'application doit tourner sans.")
            cursor.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                "AND (tableowner = %s OR pg_has_role(%s, tableowner, 'MEMBER'))",
                [role, role],
            )
            if cursor.fetchone()[0]:
                raise CommandError(
                    f"Le rôle « {role} » possède des tables (ou hérite de leur propriétaire) : il pourrait désactiver "
                    "les déclencheurs du journal d'audit. Donnez-lui un rôle distinct du propriétaire."
                )
            name = connection.ops.quote_name(role)
            with transaction.atomic():
                cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}")
                cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name}")
                cursor.execute(f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {name}")
                cursor.execute(f"REVOKE UPDATE, DELETE ON {AUDIT_TABLE} FROM {name}")
                for table in READ_ONLY_TABLES:
                    cursor.execute(f"REVOKE INSERT, UPDATE, DELETE ON {table} FROM {name}")
        self.stdout.write(
            f"Droits donnés au rôle « {role} » : lecture et écriture des tables, ajout et lecture seuls sur le "
            "journal d'audit."
        )
