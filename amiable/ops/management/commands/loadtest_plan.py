"""`manage.py loadtest_plan --out PATH [--sessions N] [--batch PATH --batch-rows N]`: what `make loadtest` needs
from a database filled by `seed_volume`: logged-in sessions (second factor verified) for the agents, the
supervisor and the creditor's staff, the cases and names each journey opens, and a batch file to import while
the users work.

The sessions are made here rather than by logging in: fifty logins in a few seconds would be fifty password
hashes and a lockout by django-axes, which is not what the test measures. They are signed with the server's
DJANGO_SECRET_KEY, so run this command with the same one. Refused under the production settings: it opens
sessions without a password."""

import json
import os
from itertools import cycle
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from amiable.accounts.middleware import session_touch
from amiable.accounts.models import User
from amiable.cases.models import Case, CaseStatus
from amiable.creditors import reference_data
from amiable.creditors.models import Creditor
from amiable.creditors.services import terms_save
from amiable.intake.demo import generate_batch
from amiable.ops import volume

PROD_SETTINGS = "config.settings.prod"
CASES_PER_JOURNEY = 200
BACKEND = "amiable.accounts.backends.AmiableBackend"


def _verified_session(user: User) -> str:
    """A session as the login and the second factor leave it: the user, the backend, the password hash's
    digest, the verified authenticator (django-otp) and the idle-timeout mark."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Test de charge", confirmed=True)
        User.objects.filter(pk=user.pk).update(two_factor_enabled=True)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = BACKEND
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session["otp_device_id"] = device.persistent_id
    session_touch(session)
    session.create()
    return session.session_key


def _journeys(users: list[User], cases: list[dict], sessions: int) -> list[dict]:
    """`sessions` journeys shared out over the users, each with its own session and its own slice of cases."""
    found = []
    for n, user in zip(range(sessions), cycle(users), strict=False):
        mine = cases[n * 7 % max(len(cases), 1) :] + cases[: n * 7 % max(len(cases), 1)]
        found.append(
            {
                "email": user.email,
                "session": _verified_session(user),
                "cases": [c["pk"] for c in mine[:CASES_PER_JOURNEY]],
                "names": sorted({c["debtor__last_name"] for c in mine[:CASES_PER_JOURNEY]})[:40],
            }
        )
    return found


class Command(BaseCommand):
    help = (
        "Prépare le test de charge : sessions ouvertes, dossiers à parcourir et lot à importer (jamais en production)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="fichier JSON du plan, lu par scripts/locustfile.py")
        parser.add_argument("--sessions", type=int, default=50, help="sessions par population (50)")
        parser.add_argument("--batch", help="écrit ici un lot CSV de la CPAM à importer pendant le test")
        parser.add_argument("--batch-rows", type=int, default=20000, help="lignes du lot (20 000)")

    def handle(self, *args, out: str, sessions: int, batch: str | None, batch_rows: int, **options):
        if os.environ.get("DJANGO_SETTINGS_MODULE") == PROD_SETTINGS or settings.SETTINGS_MODULE == PROD_SETTINGS:
            raise CommandError("loadtest_plan est refusé avec les réglages de production : il ouvre des sessions.")
        slug = reference_data.CPAM["slug"]
        full, _limited = volume.creditor_emails(slug)
        by_email = {u.email: u for u in User.objects.filter(email=full)}
        agents = list(User.objects.filter(email__in=[volume.agent_email(n + 1) for n in range(volume.AGENT_COUNT)]))
        if not agents or full not in by_email:
            raise CommandError("Comptes du volume introuvables : remplissez d'abord la base avec seed_volume.")
        plan = {"agents": [], "creditors": []}
        for agent in agents:
            cases = list(
                Case.objects.filter(assigned_agent=agent, status=CaseStatus.IN_PROGRESS)
                .order_by("pk")
                .values("pk", "debtor__last_name")[: CASES_PER_JOURNEY * 4]
            )
            plan["agents"] += _journeys([agent], cases, max(1, sessions // len(agents)))
        creditor_cases = list(
            Case.objects.filter(creditor__slug=slug).order_by("-pk").values("pk", "debtor__last_name")[:2000]
        )
        plan["creditors"] = _journeys([by_email[full]], creditor_cases, sessions)
        Path(out).write_text(json.dumps(plan))
        self.stdout.write(
            f"Plan écrit : {len(plan['agents'])} sessions de gestionnaires, "
            f"{len(plan['creditors'])} sessions du créancier."
        )
        if batch:
            creditor = Creditor.objects.get(slug=slug)
            # The clear file skips gpg: the test loads the server with the import's own work.
            terms_save(creditor=creditor, actor=None, require_encryption=False, require_signature=False)
            Path(batch).write_bytes(generate_batch(batch_rows, seed=11, prefix="CHARGE"))
            self.stdout.write(f"Lot écrit : {batch_rows} lignes dans {batch}.")
