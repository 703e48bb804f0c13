"""`manage.py gpg_import_key PATH [--creditor SLUG]`: put the agency key into its GnuPG home (and record its
fingerprint, shown to creditors), or record the public key with which a creditor signs its batches."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import Creditor
from amiable.intake.crypto import agency_key_import, register_creditor_key


class Command(BaseCommand):
    help = (
        "Importe une clé OpenPGP dans le trousseau de l'agence (AMIABLE_GNUPG_HOME), ou, avec --creditor, "
        "enregistre la clé publique avec laquelle ce créancier signe ses lots."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="fichier de la clé (de préférence exporté avec gpg --armor)")
        parser.add_argument(
            "--creditor",
            metavar="SLUG",
            help="identifiant du créancier dont c'est la clé publique de signature",
        )

    def handle(self, *args, path: str, creditor: str | None = None, **options):
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"Impossible de lire le fichier {path} : {exc.strerror or exc}.") from exc
        try:
            if creditor:
                self._register(data, creditor)
            else:
                self._import(data)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

    def _register(self, data: bytes, slug: str) -> None:
        owner = Creditor.objects.filter(slug=slug).first()
        if owner is None:
            raise CommandError(f"Créancier inconnu : « {slug} ».")
        try:
            armored = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            # The key is stored as text with the creditor; a binary export cannot be.
            raise CommandError(
                "La clé du créancier doit être au format texte ASCII (exportée avec gpg --armor --export)."
            ) from exc
        key = register_creditor_key(creditor=owner, armored=armored, actor=None)
        self.stdout.write(
            self.style.SUCCESS(f"Clé de signature enregistrée pour {owner.name} : {key.fingerprint} ({key.user_id}).")
        )

    def _import(self, data: bytes) -> None:
        for key in agency_key_import(data, actor=None):
            kind = "clé secrète et publique" if key["secret"] else "clé publique seule"
            self.stdout.write(self.style.SUCCESS(f"Clé importée ({kind}) : {key['fingerprint']} ({key['user_id']})."))
