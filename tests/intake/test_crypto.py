"""Tests for `amiable.intake.crypto`: recognising OpenPGP files, decrypting and judging signatures, staging
uploads encrypted, and registering keys (service and `gpg_import_key` command)."""

import io
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from amiable.audit.models import AuditEvent
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import Agency
from amiable.intake import crypto
from amiable.intake.models import CreditorKey, SignatureStatus
from tests.intake.conftest import DATA, KEYS, kill_gpg_agent, new_gnupg_home

CREDITOR_FPR = "F408D07D61E942E87E3D48505A7FC6701CC9A554"
AGENCY_FPR = "4C9FDB71B4E3307EC8D7122CE060487CA0CF52DF"
SIGNED_GPG = DATA / "cpam-lot-exemple.csv.gpg"
SIGNED_CLEAR = DATA / "cpam-lot-exemple.csv"
ARMORED_ASC = DATA / "cpam-lot-anomalies.csv.asc"
ARMORED_CLEAR = DATA / "cpam-lot-anomalies.csv"
CREDITOR_PUBLIC = (KEYS / "creditor-test-public.asc").read_text()
CREDITOR_SECRET = (KEYS / "creditor-test-secret.asc").read_text()


def gpg(home: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """Run the real gpg on a test home (batch, no prompt) and return its output."""
    done = subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--yes", "--pinentry-mode", "loopback", *args],
        input=stdin,
        check=True,
        capture_output=True,
    )
    return done.stdout


def secret_fingerprints(home: Path) -> list[str]:
    listing = subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--with-colons", "--list-secret-keys"],
        capture_output=True,
        text=True,
    ).stdout
    return [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]


def public_fingerprints(home: Path) -> list[str]:
    listing = subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--with-colons", "--list-keys"], capture_output=True, text=True
    ).stdout
    return [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]


@pytest.fixture
def extra_home():
    """Factory of further GnuPG homes (another party's keyring), cleaned up with their agents."""
    homes = []

    def make() -> Path:
        home = new_gnupg_home()
        homes.append(home)
        return home

    yield make
    for home in homes:
        kill_gpg_agent(home)
        subprocess.run(["rm", "-rf", str(home)], check=False)


@pytest.fixture
def creditor_signer(extra_home) -> Path:
    """The creditor's own keyring, with its secret signing key, to produce signed-only files."""
    home = extra_home()
    gpg(home, "--import", str(KEYS / "creditor-test-secret.asc"))
    return home


# --------------------------------------------------------------------------------------------------------
# Detection


@pytest.mark.parametrize("path", [SIGNED_GPG, ARMORED_ASC], ids=lambda p: p.name)
def test_sample_encrypted_files_are_openpgp(path):
    assert crypto.is_openpgp(path.read_bytes())


CLEAR_SAMPLES = sorted(DATA.glob("*.csv")) + sorted(DATA.glob("*.xlsx"))


def test_clear_samples_exist():
    # Guards the parametrisation below against silently becoming empty.
    assert {p.suffix for p in CLEAR_SAMPLES} == {".csv", ".xlsx"} and len(CLEAR_SAMPLES) >= 4


@pytest.mark.parametrize("path", CLEAR_SAMPLES, ids=lambda p: p.name)
def test_clear_samples_are_not_openpgp(path):
    assert not crypto.is_openpgp(path.read_bytes())


@pytest.mark.parametrize(
    "data",
    [
        "É;Nom;Solde\r\nA1;Dupont;12,50\r\n".encode("cp1252"),  # 0xC9 = new-format header of tag 9
        "Ça va;Nom\r\n".encode("cp1252"),
        "Référence dossier;Nom;Prénom\r\n".encode("cp1252"),
        "Référence dossier;Nom;Prénom\r\n".encode(),
        "Élodie;Martin;12,00\r\n".encode(),  # UTF-8 0xC3 = new-format header of tag 3 (SKESK)
        "Élodie;Martin;12,00\r\n".encode("cp1252"),
        "Âge;Nom\r\n".encode("cp1252"),  # tag 2 (signature)
        "Ëtude;Nom\r\n".encode("cp1252"),  # tag 11 (literal)
        "ËStructure;Nom\r\n".encode("cp1252"),
        "Ôté;Nom\r\n".encode("cp1252"),  # tag 20 (AEAD)
        "Òscar;Nom\r\n".encode("cp1252"),  # tag 18 (SEIPD)
        "Ärger;Nom\r\n".encode("cp1252"),  # tag 4 (one-pass signature)
        "Èze;Nom\r\n".encode("cp1252"),  # tag 8 (compressed)
        "Œuvre;Nom\r\n".encode("cp1252"),  # 0x8C = old-format header of tag 3
        "€ montant;Nom\r\n".encode("cp1252"),  # 0x80
        "\ufeffreference;nom;solde\r\n".encode(),  # UTF-8 BOM
        "\ufeffÉtat;nom\r\n".encode(),
        b"PK\x03\x04\x14\x00\x06\x00",  # XLSX / zip
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"",
        b"\x84",
        b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n",
    ],
)
def test_text_and_other_formats_are_not_openpgp(data):
    assert not crypto.is_openpgp(data)


@pytest.mark.parametrize("first", range(0x80, 0x100), ids=hex)
def test_no_8bit_first_byte_turns_a_csv_header_into_openpgp(first):
    tails = [p.read_bytes()[1:200] for p in DATA.glob("*.csv")]
    tails += ["éférence;Nom".encode("cp1252"), b"tructure;nom\r\n", b"tu;lm;b1\r\n", b"1;2;3\r\n"]
    assert not any(crypto.is_openpgp(bytes([first]) + tail) for tail in tails)


def test_armor_after_bom_and_blank_lines_is_openpgp():
    armored = ARMORED_ASC.read_bytes()
    assert crypto.is_openpgp(b"\xef\xbb\xbf\r\n  \t\n" + armored)
    assert not crypto.is_openpgp(b"Bonjour\n" + armored)  # armor must open the file


def test_new_format_headers_are_openpgp():
    data = SIGNED_GPG.read_bytes()
    assert data[0] == 0x84 and data[1] < 192  # old-format PKESK with a one-octet length
    assert crypto.is_openpgp(bytes([0xC0 | crypto.PKESK]) + data[1:])  # the same packet in the new format
    # A literal packet streamed with a partial length (gpg --store reading a pipe).
    body = b"b\x00\x00\x00\x00\x00" + b"x" * 600
    streamed = bytes([0xC0 | crypto.LITERAL, 0xE9]) + body[:512] + bytes([len(body) - 512]) + body[512:]
    assert crypto.is_openpgp(streamed)
    assert not crypto.is_openpgp(bytes([0xC0 | crypto.LITERAL, 0xE0]) + body)  # first chunk under 512 octets


def test_pkesk_needs_version_3():
    data = bytearray(SIGNED_GPG.read_bytes())
    data[2] = 9
    assert not crypto.is_openpgp(bytes(data))


# --------------------------------------------------------------------------------------------------------
# Decryption and signatures


def test_decrypt_signed_batch_with_registered_creditor_key(gnupg_home, reference):
    crypto.register_creditor_key(creditor=reference.cpam, armored=CREDITOR_PUBLIC, actor=None)
    allowed = set(
        CreditorKey.objects.filter(creditor=reference.cpam, is_active=True).values_list("fingerprint", flat=True)
    )

    result = crypto.decrypt(SIGNED_GPG.read_bytes(), allowed_fingerprints=allowed)

    assert result.plaintext == SIGNED_CLEAR.read_bytes()
    assert result.signature_status == SignatureStatus.SIGNED == "signed"
    assert "CPAM de Paris TEST" in result.signer
    assert result.signer_fingerprint == CREDITOR_FPR
    assert result.was_encrypted is True


def test_decrypt_signed_batch_with_unknown_signer_key_is_invalid(gnupg_home):
    # Allowing the fingerprint is not enough: without the public key nothing proves the signature.
    result = crypto.decrypt(SIGNED_GPG.read_bytes(), allowed_fingerprints={CREDITOR_FPR})

    assert result.plaintext == SIGNED_CLEAR.read_bytes()
    assert result.signature_status == SignatureStatus.INVALID
    assert result.signer == f"clé inconnue {CREDITOR_FPR}"
    assert result.signer_fingerprint == CREDITOR_FPR


def test_decrypt_signed_batch_by_key_of_another_creditor_is_invalid(gnupg_home, reference):
    crypto.register_creditor_key(creditor=reference.other, armored=CREDITOR_PUBLIC, actor=None)
    cpam_keys = set(CreditorKey.objects.filter(creditor=reference.cpam).values_list("fingerprint", flat=True))
    assert cpam_keys == set()

    result = crypto.decrypt(SIGNED_GPG.read_bytes(), allowed_fingerprints=cpam_keys)

    assert result.signature_status == SignatureStatus.INVALID
    assert result.signer.startswith("clé non enregistrée pour ce créancier")
    assert "CPAM de Paris TEST" in result.signer
    assert result.signer_fingerprint == CREDITOR_FPR
    assert result.plaintext == SIGNED_CLEAR.read_bytes()


def test_allowed_fingerprints_are_compared_whatever_their_spacing_and_case(gnupg_home):
    crypto.import_key(CREDITOR_PUBLIC)
    spaced = " ".join(CREDITOR_FPR[i : i + 4] for i in range(0, 40, 4)).lower()

    result = crypto.decrypt(SIGNED_GPG.read_bytes(), allowed_fingerprints=frozenset({spaced}))

    assert result.signature_status == SignatureStatus.SIGNED


def test_decrypt_armored_unsigned_batch(gnupg_home):
    result = crypto.decrypt(ARMORED_ASC.read_bytes(), allowed_fingerprints={CREDITOR_FPR})

    assert result.plaintext == ARMORED_CLEAR.read_bytes()
    assert result.signature_status == SignatureStatus.NOT_SIGNED
    assert result.signer == "" and result.signer_fingerprint == ""
    assert result.was_encrypted is True


def test_message_encrypted_for_another_key_is_refused(gnupg_home, extra_home):
    other = extra_home()
    gpg(other, "--passphrase", "", "--quick-gen-key", "Autre agence <autre@example.invalid>", "future-default")
    listing = gpg(other, "--with-colons", "--list-keys").decode()
    encryption_key_id = next(line.split(":")[4] for line in listing.splitlines() if line.startswith("sub:"))
    message = gpg(
        other, "--trust-model", "always", "--encrypt", "-r", "autre@example.invalid", stdin=SIGNED_CLEAR.read_bytes()
    )
    assert crypto.is_openpgp(message)

    with pytest.raises(ApplicationError) as error:
        crypto.decrypt(message)

    assert error.value.message.startswith("Le fichier est chiffré pour une autre clé que celle de l'agence")
    assert encryption_key_id in error.value.message
    assert error.value.message.endswith("impossible de le déchiffrer.")


@pytest.mark.parametrize("path", [SIGNED_GPG, ARMORED_ASC], ids=lambda p: p.name)
def test_truncated_file_is_refused(gnupg_home, path):
    data = path.read_bytes()
    truncated = data[: len(data) // 2]
    assert crypto.is_openpgp(truncated)  # still recognised, so the user hears what is wrong with it

    with pytest.raises(ApplicationError) as error:
        crypto.decrypt(truncated)

    assert error.value.message.startswith("Le fichier chiffré est incomplet ou endommagé : ")


def test_modified_ciphertext_is_refused(gnupg_home):
    data = bytearray(SIGNED_GPG.read_bytes())
    data[-40] ^= 0xFF

    with pytest.raises(ApplicationError) as error:
        crypto.decrypt(bytes(data))

    assert "incomplet ou endommagé" in error.value.message


def test_password_encrypted_file_is_refused(gnupg_home, extra_home):
    message = gpg(extra_home(), "--passphrase", "secret", "--symmetric", stdin=SIGNED_CLEAR.read_bytes())

    with pytest.raises(ApplicationError) as error:
        crypto.decrypt(message)

    assert "chiffré par un mot de passe" in error.value.message


def test_signed_but_not_encrypted_file(gnupg_home, creditor_signer):
    crypto.import_key(CREDITOR_PUBLIC)
    signed = gpg(creditor_signer, "--compress-algo", "none", "--sign", stdin=SIGNED_CLEAR.read_bytes())
    assert crypto.is_openpgp(signed)

    result = crypto.decrypt(signed, allowed_fingerprints={CREDITOR_FPR})

    assert result.plaintext == SIGNED_CLEAR.read_bytes()
    assert result.signature_status == SignatureStatus.SIGNED
    assert result.was_encrypted is False


def test_signed_file_modified_after_signature_is_invalid(gnupg_home, creditor_signer):
    crypto.import_key(CREDITOR_PUBLIC)
    clear = SIGNED_CLEAR.read_bytes()
    signed = gpg(creditor_signer, "--compress-algo", "none", "--sign", stdin=clear)
    at = signed.index(clear[200:220])  # uncompressed: the clear text is there as is
    tampered = signed[:at] + bytes([signed[at] ^ 0x01]) + signed[at + 1 :]

    result = crypto.decrypt(tampered, allowed_fingerprints={CREDITOR_FPR})

    assert result.signature_status == SignatureStatus.INVALID
    assert result.signer.startswith("signature incorrecte")
    assert "CPAM de Paris TEST" in result.signer


def test_truncated_signed_file_is_refused(gnupg_home, creditor_signer):
    crypto.import_key(CREDITOR_PUBLIC)
    signed = gpg(creditor_signer, "--compress-algo", "none", "--sign", stdin=SIGNED_CLEAR.read_bytes())

    with pytest.raises(ApplicationError) as error:
        crypto.decrypt(signed[: len(signed) // 2], allowed_fingerprints={CREDITOR_FPR})

    assert "incomplet ou endommagé" in error.value.message


def test_missing_gpg_binary_is_a_clear_error(gnupg_home, settings):
    settings.AMIABLE_GPG_BINARY = "/nonexistent/bin/gpg"

    with pytest.raises(ApplicationError) as error:
        crypto.decrypt(SIGNED_GPG.read_bytes())

    assert error.value.message.startswith("Le programme gpg est introuvable")


def test_missing_gnupg_home_is_created_private(settings, extra_home):
    home = extra_home() / "var" / "gnupg"
    settings.AMIABLE_GNUPG_HOME = home

    try:
        assert crypto.decrypt_from_storage(crypto.encrypt_for_storage(b"x")) == b"x"
    finally:
        kill_gpg_agent(home)

    assert home.is_dir() and (home.stat().st_mode & 0o777) == 0o700


# --------------------------------------------------------------------------------------------------------
# Staging


def test_staging_round_trip_keeps_no_clear_text(gnupg_home):
    clear = SIGNED_CLEAR.read_bytes()

    staged = crypto.encrypt_for_storage(clear)

    assert crypto.decrypt_from_storage(staged) == clear
    assert staged != clear and crypto.is_openpgp(staged)
    for line in clear.splitlines()[:5]:
        assert line[:20] not in staged
    assert b"R\xc3\xa9f\xc3\xa9rence" not in staged and b"reference" not in staged.lower()


def test_staged_file_follows_the_secret_key(gnupg_home, settings):
    staged = crypto.encrypt_for_storage(b"reference;nom\r\nA1;Dupont\r\n")
    old_key = settings.SECRET_KEY

    settings.SECRET_KEY = "another-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
    with pytest.raises(ApplicationError) as error:
        crypto.decrypt_from_storage(staged)
    assert error.value.message.startswith("Le fichier en attente de traitement ne peut pas être relu")

    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert crypto.decrypt_from_storage(staged) == b"reference;nom\r\nA1;Dupont\r\n"


def test_staged_file_is_not_readable_as_a_creditor_file(gnupg_home):
    with pytest.raises(ApplicationError) as error:
        crypto.decrypt(crypto.encrypt_for_storage(b"reference;nom\r\n"))
    assert "mot de passe" in error.value.message


# --------------------------------------------------------------------------------------------------------
# Keys


def test_import_key_reports_secret_and_public_keys(settings, extra_home):
    home = extra_home()
    settings.AMIABLE_GNUPG_HOME = home

    agency = crypto.import_key((KEYS / "agency-test-secret.asc").read_text())
    creditor = crypto.import_key((KEYS / "creditor-test-public.asc").read_bytes())

    assert agency == [
        {
            "fingerprint": AGENCY_FPR,
            "user_id": "Amiable TEST agency key (never use in production) <recouvrement-test@agence.invalid>",
            "secret": True,
        }
    ]
    assert creditor[0]["fingerprint"] == CREDITOR_FPR and creditor[0]["secret"] is False
    assert "CPAM de Paris TEST" in creditor[0]["user_id"]
    assert secret_fingerprints(home)[0] == AGENCY_FPR
    assert CREDITOR_FPR in public_fingerprints(home)


def test_import_key_refuses_text_without_a_key(gnupg_home):
    with pytest.raises(ApplicationError) as error:
        crypto.import_key("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PUBLIC KEY BLOCK-----\n")
    assert error.value.message.startswith("Aucune clé OpenPGP n'a pu être importée")


def test_register_creditor_key_stores_imports_and_audits(gnupg_home, reference):
    key = crypto.register_creditor_key(creditor=reference.cpam, armored=CREDITOR_PUBLIC, actor=None)

    key.refresh_from_db()
    assert key.creditor == reference.cpam
    assert key.fingerprint == CREDITOR_FPR
    assert key.user_id.startswith("CPAM de Paris TEST sender key")
    assert key.armored.strip() == CREDITOR_PUBLIC.strip() and key.is_active
    assert CREDITOR_FPR in public_fingerprints(gnupg_home)
    event = AuditEvent.objects.get(verb="creditor_key.registered")
    assert (event.target_type, event.target_id) == ("intake.creditorkey", str(key.pk))
    assert event.creditor_pk == reference.cpam.pk
    assert event.after == {"fingerprint": CREDITOR_FPR, "user_id": key.user_id}


def test_registering_a_key_again_reactivates_it_without_duplicating(gnupg_home, reference):
    first = crypto.register_creditor_key(creditor=reference.cpam, armored=CREDITOR_PUBLIC, actor=None)
    CreditorKey.objects.filter(pk=first.pk).update(is_active=False)

    again = crypto.register_creditor_key(creditor=reference.cpam, armored=CREDITOR_PUBLIC, actor=None)

    assert again.pk == first.pk and CreditorKey.objects.get().is_active
    assert AuditEvent.objects.filter(verb="creditor_key.registered").count() == 2


def test_register_creditor_key_refuses_a_secret_key(gnupg_home, reference):
    audit_before = AuditEvent.objects.count()

    with pytest.raises(ApplicationError) as error:
        crypto.register_creditor_key(creditor=reference.cpam, armored=CREDITOR_SECRET, actor=None)

    assert error.value.message == "Seule la clé publique du créancier doit être enregistrée."
    assert not CreditorKey.objects.exists()
    assert AuditEvent.objects.count() == audit_before
    # Refused before gpg stored anything: the agency never holds the creditor's secret key.
    assert CREDITOR_FPR not in secret_fingerprints(gnupg_home)
    assert CREDITOR_FPR not in public_fingerprints(gnupg_home)


def test_register_creditor_key_refuses_text_without_a_key(gnupg_home, reference):
    with pytest.raises(ApplicationError) as error:
        crypto.register_creditor_key(creditor=reference.cpam, armored="pas une clé", actor=None)

    assert error.value.message == "Le texte fourni ne contient aucune clé publique OpenPGP lisible."
    assert not CreditorKey.objects.exists()


def test_register_creditor_key_refuses_several_keys(gnupg_home, reference):
    both = CREDITOR_PUBLIC + (KEYS / "agency-test-public.asc").read_text()

    with pytest.raises(ApplicationError) as error:
        crypto.register_creditor_key(creditor=reference.cpam, armored=both, actor=None)

    assert "2 clés" in error.value.message
    assert not CreditorKey.objects.exists()


# --------------------------------------------------------------------------------------------------------
# Management command


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command("gpg_import_key", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_command_imports_the_agency_key_into_an_empty_home(settings, extra_home, reference):
    home = extra_home()
    settings.AMIABLE_GNUPG_HOME = home

    output = _command(str(KEYS / "agency-test-secret.asc"))

    assert f"Clé importée (clé secrète et publique) : {AGENCY_FPR}" in output
    assert secret_fingerprints(home)[0] == AGENCY_FPR
    # The imported key is the one that opens the creditor files.
    assert crypto.decrypt(ARMORED_ASC.read_bytes()).plaintext == ARMORED_CLEAR.read_bytes()
    # Its fingerprint is recorded as the agency's, for the creditors to encrypt for (C5).
    assert Agency.objects.get().key_fingerprint == AGENCY_FPR
    assert AuditEvent.objects.filter(verb="agency.updated", after={"key_fingerprint": AGENCY_FPR}).count() == 1


def test_importing_a_public_key_leaves_the_agency_fingerprint_alone(gnupg_home, reference):
    _command(str(KEYS / "creditor-test-public.asc"))

    assert Agency.objects.get().key_fingerprint == ""


def test_command_registers_a_creditor_key(gnupg_home, reference):
    output = _command(str(KEYS / "creditor-test-public.asc"), "--creditor", "cpam-paris")

    key = CreditorKey.objects.get(creditor=reference.cpam)
    assert key.fingerprint == CREDITOR_FPR
    assert f"Clé de signature enregistrée pour {reference.cpam.name} : {CREDITOR_FPR}" in output
    assert AuditEvent.objects.filter(verb="creditor_key.registered", actor__isnull=True).count() == 1


def test_command_refuses_an_unknown_creditor(gnupg_home, reference):
    with pytest.raises(CommandError, match="Créancier inconnu : « inconnu »"):
        _command(str(KEYS / "creditor-test-public.asc"), "--creditor", "inconnu")
    assert not CreditorKey.objects.exists()


def test_command_refuses_an_unreadable_file(gnupg_home):
    with pytest.raises(CommandError, match="Impossible de lire le fichier /nonexistent/key.asc"):
        _command("/nonexistent/key.asc")


def test_command_refuses_a_creditor_secret_key(gnupg_home, reference):
    with pytest.raises(CommandError, match="Seule la clé publique du créancier doit être enregistrée."):
        _command(str(KEYS / "creditor-test-secret.asc"), "--creditor", "cpam-paris")
    assert not CreditorKey.objects.exists()
