"""OpenPGP for claim batches (C5): recognise an encrypted file, decrypt it with the agency key and check the
creditor's signature, keep uploads encrypted while they wait for a background task, and manage the keys.

Everything goes through python-gnupg and the `gpg` binary on the GnuPG home `settings.AMIABLE_GNUPG_HOME`.
Clear content only ever lives in memory: gpg reads it from a pipe and writes it to a pipe, never to a file.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import gnupg
from django.conf import settings
from django.db import transaction

from amiable.audit.services import audit_record
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import Agency
from amiable.creditors.selectors import agency_get
from amiable.creditors.services import agency_save
from amiable.intake.models import CreditorKey, SignatureStatus

logger = logging.getLogger(__name__)

ARMOR_HEADER = b"-----BEGIN PGP MESSAGE-----"
UTF8_BOM = b"\xef\xbb\xbf"

# Packets that can open an OpenPGP *message* (RFC 4880 / 9580): session keys, signatures, compressed or
# literal data, encrypted data. Key packets and the obsolete unprotected SED packet (9) are left out: a
# batch never starts with them, and accepting them would mistake text starting with "É" (0xC9) for OpenPGP.
PKESK, SIGNATURE, SKESK, ONE_PASS_SIGNATURE, COMPRESSED, LITERAL, SEIPD, AEAD = 1, 2, 3, 4, 8, 11, 18, 20
_FIRST_BYTE_RULES: dict[int, set[int]] = {
    # tag -> plausible first body octet (a version, an algorithm or a data format)
    PKESK: {3, 6},
    SIGNATURE: {3, 4, 5, 6},
    SKESK: {4, 5, 6},
    ONE_PASS_SIGNATURE: {3, 6},
    COMPRESSED: {0, 1, 2, 3},
    LITERAL: set(b"btuml1"),
    SEIPD: {1, 2},
    AEAD: {1},
}
# Session key packets are small and always come whole before the data: a declared length beyond the file or
# beyond this bound means the bytes are not OpenPGP (a truncated file still keeps its first packet).
_MAX_ESK_LENGTH = 4096

STAGING_CONTEXT = b"amiable-intake-staging"
_SIGNATURE_WORDS = {"NEWSIG", "GOODSIG", "BADSIG", "ERRSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG", "VALIDSIG"}
_SIGNATURE_PROBLEMS = {"BADSIG", "ERRSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG"}
_HEX_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")


# --------------------------------------------------------------------------------------------------------
# Detection


def is_openpgp(data: bytes) -> bool:
    """Whether `data` is an OpenPGP message, judged by its content only: creditors name files as they like,
    and a clear CSV must never be sent to gpg nor an encrypted one to the CSV reader."""
    head = data[:1024]
    stripped = head[len(UTF8_BOM) :] if head.startswith(UTF8_BOM) else head
    if stripped.lstrip(b" \t\r\n").startswith(ARMOR_HEADER):
        return True
    return _looks_like_binary_message(data)


def _looks_like_binary_message(data: bytes) -> bool:
    """A binary OpenPGP packet header (old or new format) of a message packet, with a plausible length and a
    plausible first body octet; text in any 8-bit encoding fails at least one of these checks."""
    if len(data) < 3 or not data[0] & 0x80:
        return False
    first = data[0]
    length: int | None  # None: indeterminate or partial length (the packet runs on)
    if first & 0x40:  # new format: 6-bit tag, then a 1, 2 or 5 octet length or a partial length
        tag = first & 0x3F
        octet = data[1]
        if octet < 192:
            length, header = octet, 2
        elif octet < 224:
            length, header = ((octet - 192) << 8) + data[2] + 192, 3
        elif octet < 255:
            if octet & 0x1F < 9:  # the first chunk of a partial length must be at least 512 octets
                return False
            length, header = None, 2
        else:
            if len(data) < 6:
                return False
            length, header = int.from_bytes(data[2:6], "big"), 6
    else:  # old format: 4-bit tag, then a 1, 2 or 4 octet length, or indeterminate
        tag = (first >> 2) & 0x0F
        length_type = first & 0x03
        if length_type == 3:
            length, header = None, 1
        else:
            size = (1, 2, 4)[length_type]
            if len(data) < 1 + size:
                return False
            length, header = int.from_bytes(data[1 : 1 + size], "big"), 1 + size
    if tag not in _FIRST_BYTE_RULES or len(data) <= header or length == 0:
        return False
    if data[header] not in _FIRST_BYTE_RULES[tag]:
        return False
    end = None if length is None else header + length
    if tag in (PKESK, SKESK):
        if end is None or length > _MAX_ESK_LENGTH or end > len(data):
            return False
        if tag == PKESK and data[header] == 3 and length < 12:  # version, key id (8), algorithm, key material
            return False
    if tag == ONE_PASS_SIGNATURE and data[header] == 3 and length != 13:  # a v3 one-pass signature is 13 octets
        return False
    if tag == LITERAL:
        # The format octet is a letter, so text can look like a literal header: demand a coherent structure
        # (format, name length, name, 4-octet date) ending the file or followed by another packet.
        if length is None:
            if not first & 0x40:  # old-format indeterminate length: never produced for literal data
                return False
        elif length < 6 or 6 + data[header + 1] > length or end > len(data):
            return False
    # Whatever follows a packet of known length must be another packet header.
    return end is None or end >= len(data) or bool(data[end] & 0x80)


# --------------------------------------------------------------------------------------------------------
# GnuPG plumbing


class _GPG(gnupg.GPG):
    """python-gnupg's handle, remembering the gpg process it runs so that `_decrypt_bounded` can stop it."""

    process = None

    def _open_subprocess(self, *args, **kwargs):
        self.process = super()._open_subprocess(*args, **kwargs)
        return self.process


def _clear_size_limit() -> int:
    """The most clear bytes a file may give once decrypted: the upload limit (AMIABLE_BATCH_MAX_MB)."""
    return settings.AMIABLE_BATCH_MAX_MB * 1024 * 1024


def _decrypt_bounded(gpg: _GPG, data: bytes, *, limit: int, **kwargs):
    """`gpg.decrypt`, but the clear output is read as a stream and gpg is stopped as soon as it passes `limit`
    bytes: a compressed OpenPGP message of 1 KB can expand to gigabytes, which python-gnupg would keep whole
    in memory. Returns (result, clear bytes); raises the French refusal when the limit is passed."""
    clear = io.BytesIO()
    over = False

    def on_data(chunk: bytes) -> bool:
        nonlocal over
        if over:
            return False
        if clear.tell() + len(chunk) > limit:
            over = True
            if gpg.process is not None:
                gpg.process.kill()
            return False
        clear.write(chunk)
        return False  # python-gnupg keeps nothing: the clear bytes are in `clear`

    gpg.on_data = on_data
    gpg.buffer_size = 64 * 1024
    try:
        result = _run(gpg.decrypt, data, **kwargs)
    except ApplicationError:
        if not over:
            raise
        result = None  # gpg was stopped while python-gnupg still wrote its input: a broken pipe
    finally:
        gpg.on_data = None
    if over:
        logger.warning("OpenPGP file refused: its clear content exceeds %s bytes", limit)
        raise ApplicationError(
            f"Le fichier chiffré dépasse, une fois déchiffré, la taille maximale de {settings.AMIABLE_BATCH_MAX_MB} Mo "
            "(données compressées à l'excès ?) : il n'a pas été lu jusqu'au bout. Rien n'a été enregistré."
        )
    return result, clear.getvalue()


def _gpg() -> _GPG:
    """A python-gnupg handle on the agency GnuPG home, created private (0700) if missing, since gpg refuses
    or warns about a home that others can read."""
    home = Path(settings.AMIABLE_GNUPG_HOME)
    binary = settings.AMIABLE_GPG_BINARY
    if not home.is_dir():
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        home.chmod(0o700)  # mkdir's mode is filtered by the umask
    try:
        return _GPG(gnupghome=str(home), gpgbinary=binary)
    except OSError as exc:
        raise ApplicationError(
            f"Le programme gpg est introuvable sur le serveur (réglage AMIABLE_GPG_BINARY = « {binary} ») : "
            "les fichiers chiffrés ne peuvent pas être traités."
        ) from exc
    except ValueError as exc:
        raise ApplicationError(f"Le programme gpg ne fonctionne pas sur le serveur : {exc}") from exc


def _run(operation, *args, **kwargs):
    """Call a python-gnupg operation, turning a gpg binary that vanished since the handle was made into the
    same French error as a missing one."""
    try:
        return operation(*args, **kwargs)
    except OSError as exc:
        raise ApplicationError(
            "Le programme gpg est introuvable sur le serveur : les fichiers chiffrés ne peuvent pas être traités."
        ) from exc


def _status(result) -> list[tuple[str, str]]:
    """gpg's machine-readable status lines, in order. python-gnupg keeps only the last value of each kind,
    which loses information when a message carries several signatures or recipients."""
    lines = []
    for line in (getattr(result, "stderr", "") or "").splitlines():
        if line.startswith("[GNUPG:] "):
            keyword, _, value = line[9:].partition(" ")
            lines.append((keyword, value.strip()))
    return lines


def _text(value: str) -> str:
    """A user id as gpg meant it: python-gnupg decodes gpg's UTF-8 output as Latin-1, and status lines
    percent-escape some octets."""
    raw = value.encode("latin-1", "replace")
    raw = _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
    return raw.decode("utf-8", "replace")


def _normalise_fingerprint(value: str) -> str:
    return value.replace(" ", "").upper()


# --------------------------------------------------------------------------------------------------------
# Decryption of creditor files


@dataclass(frozen=True)
class DecryptResult:
    """The clear content of an OpenPGP file and what its signature says (values of `SignatureStatus`).
    `signer` is the key's user id when signed, otherwise the French reason why the signature is invalid."""

    plaintext: bytes
    signature_status: str
    signer: str = ""
    signer_fingerprint: str = ""
    # False for a signed (or merely wrapped) file that is not encrypted: a creditor who must encrypt has not.
    was_encrypted: bool = True


def decrypt(data: bytes, *, allowed_fingerprints: set[str] | frozenset[str] = frozenset()) -> DecryptResult:
    """Decrypt a creditor's file with the agency key and judge its signature. Only signatures by a key in
    `allowed_fingerprints` (the creditor's registered keys) count as "signed": every creditor key lives in the
    same keyring, so gpg's "good signature" alone would accept one creditor signing another's batch."""
    gpg = _gpg()
    # loopback: a message that wants a passphrase fails at once instead of waiting for a pinentry;
    # no-auto-key-retrieve: never fetch a signer's key from the network.
    result, plaintext = _decrypt_bounded(
        gpg,
        data,
        limit=_clear_size_limit(),
        extra_args=["--pinentry-mode", "loopback", "--no-auto-key-retrieve", "--no-symkey-cache"],
    )
    status = _status(result)
    words = {keyword for keyword, _ in status}
    encrypted = bool(words & {"ENC_TO", "BEGIN_DECRYPTION", "NEED_PASSPHRASE_SYM", "DECRYPTION_FAILED"})
    signature = _judge_signature(status, {_normalise_fingerprint(f) for f in allowed_fingerprints})

    if encrypted:
        succeeded = "DECRYPTION_OKAY" in words and not words & {"DECRYPTION_FAILED", "BADMDC"}
    else:
        # A signed-only message: gpg exits non-zero for a bad or unverifiable signature, which is judged
        # below, but also for damaged data, which must be refused.
        failure_explained = bool(words & _SIGNATURE_PROBLEMS)
        succeeded = (
            "PLAINTEXT" in words
            and not words & {"NODATA", "UNEXPECTED", "BADMDC"}
            and (result.returncode == 0 or failure_explained)
        )
    if not succeeded:
        logger.warning(
            "OpenPGP file refused (gpg exit %s, status %s)", result.returncode, [keyword for keyword, _ in status]
        )
        raise ApplicationError(_refusal_message(status, result.returncode))
    return DecryptResult(plaintext=plaintext, was_encrypted=encrypted, **signature)


def _refusal_message(status: list[tuple[str, str]], returncode) -> str:
    words = {keyword for keyword, _ in status}
    recipients = [value.split()[0] for keyword, value in status if keyword == "ENC_TO" and value]
    if "NO_SECKEY" in words and "DECRYPTION_KEY" not in words:
        hidden = all(set(r) == {"0"} for r in recipients)
        if recipients and not hidden:
            return (
                "Le fichier est chiffré pour une autre clé que celle de l'agence "
                f"(clé destinataire {', '.join(recipients)}) : impossible de le déchiffrer."
            )
        return "Le fichier est chiffré pour une autre clé que celle de l'agence : impossible de le déchiffrer."
    if "NEED_PASSPHRASE_SYM" in words and not recipients:
        return (
            "Le fichier est chiffré par un mot de passe et non pour la clé de l'agence : "
            "impossible de le déchiffrer. Demandez au créancier de le chiffrer avec la clé publique de l'agence."
        )
    if words & {"BADMDC", "DECRYPTION_FAILED"}:
        detail = "le contrôle d'intégrité a échoué (fichier tronqué ou modifié)."
    elif "NODATA" in words or "UNEXPECTED" in words:
        detail = "les données OpenPGP sont tronquées ou illisibles."
    else:
        detail = f"gpg n'a pas pu le lire jusqu'au bout (code {returncode})."
    return f"Le fichier chiffré est incomplet ou endommagé : {detail} Demandez au créancier de le renvoyer."


def _judge_signature(status: list[tuple[str, str]], allowed: set[str]) -> dict:
    """The signature fields of a DecryptResult: any bad or unverifiable signature makes the file "invalid";
    otherwise a good signature by an allowed key makes it "signed"."""
    signatures: list[dict] = []
    current: dict | None = None
    for keyword, value in status:
        if keyword not in _SIGNATURE_WORDS:
            continue
        if keyword == "NEWSIG" or current is None or (keyword != "VALIDSIG" and "kind" in current):
            current = {}
            signatures.append(current)
            if keyword == "NEWSIG":
                continue
        parts = value.split()
        if keyword == "VALIDSIG":
            current["fingerprint"] = parts[0] if parts else ""
            current["primary"] = parts[9] if len(parts) >= 10 else current["fingerprint"]
            current.setdefault("kind", "good")
            continue
        key_id, _, user_id = value.partition(" ")
        current["key_id"] = key_id
        if keyword == "ERRSIG":
            current["kind"] = "unknown_key" if len(parts) >= 6 and parts[5] == "9" else "unreadable"
            current["fingerprint"] = parts[6] if len(parts) >= 7 else ""
        else:
            current["kind"] = {
                "GOODSIG": "good",
                "BADSIG": "bad",
                "EXPSIG": "expired_signature",
                "EXPKEYSIG": "expired_key",
                "REVKEYSIG": "revoked_key",
            }[keyword]
            current["user_id"] = _text(user_id)
    signatures = [s for s in signatures if "kind" in s]
    if not signatures:
        return {"signature_status": SignatureStatus.NOT_SIGNED.value, "signer": "", "signer_fingerprint": ""}

    for sig in signatures:
        if sig["kind"] != "good":
            who = sig.get("user_id") or sig.get("fingerprint") or sig.get("key_id", "")
            reason = {
                "unknown_key": f"clé inconnue {sig.get('fingerprint') or sig.get('key_id', '')}",
                "unreadable": f"signature illisible (algorithme non pris en charge ?) : {who}",
                "bad": f"signature incorrecte (contenu modifié après signature) : {who}",
                "expired_signature": f"signature expirée : {who}",
                "expired_key": f"clé expirée : {who}",
                "revoked_key": f"clé révoquée : {who}",
            }[sig["kind"]]
            return _invalid(reason, sig.get("primary") or sig.get("fingerprint") or sig.get("key_id", ""))
    for sig in signatures:
        keys = {_normalise_fingerprint(sig.get("fingerprint", "")), _normalise_fingerprint(sig.get("primary", ""))}
        if keys & allowed:
            return {
                "signature_status": SignatureStatus.SIGNED.value,
                "signer": sig.get("user_id", "")[:255],
                "signer_fingerprint": sig.get("primary") or sig.get("fingerprint", ""),
            }
    sig = signatures[0]
    return _invalid(
        f"clé non enregistrée pour ce créancier : {sig.get('user_id', '')}",
        sig.get("primary") or sig.get("fingerprint", ""),
    )


def _invalid(reason: str, fingerprint: str) -> dict:
    return {
        "signature_status": SignatureStatus.INVALID.value,
        "signer": reason[:255],
        "signer_fingerprint": fingerprint[:64],
    }


# --------------------------------------------------------------------------------------------------------
# The creditor's transmission policy (C5)


def transmission_policy_check(*, creditor, terms, encrypted: bool, signature: str, signer: str = "") -> None:
    """Refuse a file that breaches the creditor's contract terms, whatever way it came in (page or command):
    the CCTP asks for an encrypted transmission, and a person's login does not make a clear file encrypted.
    The French message says what to do instead. A signature that does not verify against the creditor's registered
    keys refuses the file whatever the terms: its content may have been changed after signing."""
    if signature == SignatureStatus.INVALID:
        raise ApplicationError(
            f"Signature du fichier invalide ({signer or 'motif inconnu'}) : fichier refusé, rien n'a été enregistré. "
            f"Un fichier signé doit l'être par une clé enregistrée pour {creditor.name} et ne pas avoir été modifié "
            "après sa signature : demandez au créancier de le signer à nouveau et de le transmettre."
        )
    if terms is None:
        return
    if terms.require_encryption and not encrypted:
        key = _agency_key_phrase()
        signed = " et signez-le avec votre clé enregistrée auprès de l'agence" if terms.require_signature else ""
        raise ApplicationError(
            f"{creditor.name} exige des fichiers chiffrés (OpenPGP) : fichier en clair refusé. "
            f"Chiffrez-le pour la clé de l'agence{key}{signed}, puis transmettez-le à nouveau."
        )
    if terms.require_signature and signature != SignatureStatus.SIGNED:
        raise ApplicationError(
            f"{creditor.name} exige des fichiers signés par une clé enregistrée : fichier non signé. "
            "Signez-le avec la clé de signature que l'agence a enregistrée pour vous, puis transmettez-le à nouveau."
        )


def _agency_key_phrase() -> str:
    try:
        fingerprint = agency_get().key_fingerprint_display
    except ApplicationError:
        return ""
    return f" (empreinte {fingerprint})" if fingerprint else ""


# --------------------------------------------------------------------------------------------------------
# Staging an upload for a background task


def _staging_passphrase(secret_key: str) -> str:
    """A passphrase tied to this installation's SECRET_KEY, so a staged file is useless once copied elsewhere."""
    return hmac.new(secret_key.encode(), STAGING_CONTEXT, hashlib.sha256).hexdigest()


def encrypt_for_storage(data: bytes) -> bytes:
    """Encrypt an uploaded file (AES256, symmetric) before it is written for a background task, so that no
    clear claim data ever sits on disk."""
    gpg = _gpg()
    result = _run(
        gpg.encrypt,
        data,
        None,
        symmetric="AES256",
        passphrase=_staging_passphrase(settings.SECRET_KEY),
        armor=False,
        # The agent must not remember the passphrase. The passphrase is already a 256-bit HMAC, so gpg's
        # default key stretching (hundreds of milliseconds per upload) would add cost and no strength.
        extra_args=["--no-symkey-cache", "--s2k-count", "65536"],
    )
    if not result.ok:
        logger.error("Staging encryption failed: %s", [keyword for keyword, _ in _status(result)])
        raise ApplicationError("Le fichier n'a pas pu être mis en attente de traitement (chiffrement impossible).")
    return bytes(result.data)


def decrypt_from_storage(data: bytes) -> bytes:
    """Read back a file staged by `encrypt_for_storage`; SECRET_KEY_FALLBACKS are tried too, so that files
    staged just before a key rotation can still be processed."""
    gpg = _gpg()
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    for secret in secrets:
        result, clear = _decrypt_bounded(
            gpg,
            data,
            limit=_clear_size_limit(),
            passphrase=_staging_passphrase(secret),
            extra_args=["--no-symkey-cache"],
        )
        if result.ok:
            return clear
    raise ApplicationError(
        "Le fichier en attente de traitement ne peut pas être relu (endommagé ou clé du serveur changée) : "
        "déposez-le à nouveau."
    )


# --------------------------------------------------------------------------------------------------------
# Keys


def _as_bytes(armored: str | bytes) -> bytes:
    return armored.encode("utf-8") if isinstance(armored, str) else armored


def _scan(gpg: gnupg.GPG, armored: str | bytes) -> list[dict]:
    """The keys a text holds, without importing them (gpg --import --dry-run --import-options import-show)."""
    return [
        {
            "fingerprint": key.get("fingerprint", ""),
            "user_id": _text(key["uids"][0]) if key.get("uids") else "",
            "secret": key.get("type") == "sec",
        }
        for key in _run(gpg.scan_keys_mem, _as_bytes(armored))
    ]


def import_key(armored: str | bytes) -> list[dict]:
    """Import keys (the agency's secret key, or a creditor's public key) into the agency GnuPG home; returns
    one dict per key: fingerprint, user_id, and whether its secret part was imported."""
    gpg = _gpg()
    result = _run(gpg.import_keys, _as_bytes(armored))
    imported: dict[str, bool] = {}
    for row in result.results:
        fingerprint = row.get("fingerprint")
        if fingerprint and "ok" in row:
            has_secret = bool(int(row["ok"]) & 16)  # IMPORT_OK flag 16: "contains private key"
            imported[fingerprint] = imported.get(fingerprint, False) or has_secret
    if not imported:
        raise ApplicationError("Aucune clé OpenPGP n'a pu être importée : le fichier ne contient pas de clé valide.")
    listed = _run(gpg.list_keys, keys=list(imported))
    user_ids = {key["fingerprint"]: _text(key["uids"][0]) for key in listed if key.get("uids")}
    return [
        {"fingerprint": fingerprint, "user_id": user_ids.get(fingerprint, ""), "secret": secret}
        for fingerprint, secret in imported.items()
    ]


def agency_key_import(armored: str | bytes, *, actor) -> list[dict]:
    """Import keys into the agency keyring (see `import_key`) and, when they hold one secret key, record its
    fingerprint as the agency's: the upload page and the refusals tell creditors which key to encrypt for."""
    keys = import_key(armored)
    secret = [key["fingerprint"] for key in keys if key["secret"]]
    if len(secret) == 1 and Agency.objects.filter(pk=1).exists():
        agency_save(actor=actor, key_fingerprint=secret[0])
    return keys


def register_creditor_key(*, creditor, armored: str, actor) -> CreditorKey:
    """Record the public key with which a creditor signs its batches (and put it in the agency keyring so that
    gpg can check signatures). A secret key is refused before gpg ever stores it: the agency must not hold it."""
    keys = _scan(_gpg(), armored)
    if not keys:
        raise ApplicationError("Le texte fourni ne contient aucune clé publique OpenPGP lisible.")
    if any(key["secret"] for key in keys):
        raise ApplicationError("Seule la clé publique du créancier doit être enregistrée.")
    if len(keys) > 1:
        raise ApplicationError(
            f"Le texte fourni contient {len(keys)} clés : enregistrez une seule clé publique à la fois."
        )
    fingerprint, user_id = keys[0]["fingerprint"], keys[0]["user_id"][:255]
    import_key(armored)
    with transaction.atomic():
        key, _ = CreditorKey.objects.update_or_create(
            creditor=creditor,
            fingerprint=fingerprint,
            defaults={"user_id": user_id, "armored": armored.strip() + "\n", "is_active": True},
        )
        audit_record(
            actor=actor,
            verb="creditor_key.registered",
            target=key,
            creditor_pk=creditor.pk,
            after={"fingerprint": fingerprint, "user_id": user_id},
        )
    return key
