"""`manage.py deliver_outbox [--dry-run]`: retry the e-mails and SMS to debtors whose delivery failed, or
that their task did not deliver; a message sent is never sent again, so running it twice is harmless."""

from django.core.management.base import BaseCommand

from amiable.contact.messaging import MAX_ATTEMPTS, outbox_deliver_due, outbox_due

LABELS = [
    ("sent", "envoyé(s)"),
    ("failed", "en échec"),
    ("postponed", "reporté(s) au prochain créneau autorisé"),
    ("cancelled", "abandonné(s)"),
    ("interrupted", "envoi(s) interrompu(s)"),
]


class Command(BaseCommand):
    help = (
        f"Renvoie les e-mails et SMS aux débiteurs en échec (au plus {MAX_ATTEMPTS} tentatives) ou restés en "
        "attente, dans le respect de la politique de contact."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Montre ce qui serait envoyé, sans rien faire.")

    def handle(self, *args, dry_run: bool, **options):
        if dry_run:
            due = list(outbox_due().select_related("case"))
            self.stdout.write(f"Simulation : {len(due)} message(s) à envoyer.")
            for message in due:
                self.stdout.write(
                    f"  {message.get_channel_display()} à {message.to} — dossier {message.case.reference} — "
                    f"{message.get_status_display().lower()}, {message.attempts} tentative(s)"
                )
            return
        report = outbox_deliver_due()
        parts = [f"{report[key]} {label}" for key, label in LABELS if report[key]]
        self.stdout.write("Messages aux débiteurs : " + (", ".join(parts) if parts else "rien à envoyer") + ".")
