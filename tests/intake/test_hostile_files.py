"""Hostile and broken files: compression bombs (OpenPGP, XLSX), central directories that lie, oversized cells
and CSV fields. Each is refused with a French message, audited, stores nothing, and the bombs are read in
bounded memory: they run in a child process under an address-space limit, whose peak resident memory is
asserted. The bombs are built here, small on disk."""

import io
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from amiable.audit.models import AuditEvent
from amiable.cases.models import Case
from amiable.core.exceptions import ApplicationError
from amiable.intake import parsing
from amiable.intake.models import Batch, ImportJobStatus
from tests.intake.conftest import kill_gpg_agent
from tests.intake.test_command import JSON_KEYS, run_json
from tests.intake.test_views import text_of, upload_and_follow

ROOT = Path(__file__).resolve().parents[2]
AGENCY_FPR = "4C9FDB71B4E3307EC8D7122CE060487CA0CF52DF"
MiB = 1024 * 1024
PEAK_MB = 300  # what reading any file may take, the interpreter and Django included
HEADER = "référence;structure;nom;prénom;solde\n"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


# --- a child process with bounded memory -------------------------------------------------------------------

PROBE = r"""
import json, sys
import django
django.setup()
from django.conf import settings
from amiable.core.exceptions import ApplicationError
kind, path = sys.argv[1], sys.argv[2]
if kind == "gpg":
    settings.AMIABLE_GNUPG_HOME = sys.argv[3]
data = open(path, "rb").read()
try:
    if kind == "gpg":
        from amiable.intake import crypto
        crypto.decrypt(data)
    else:
        from amiable.intake import parsing
        parsed = parsing.parse(data, extra_headers={}, structure_given=False)
        for _row in parsed.rows:
            pass
except ApplicationError as exc:
    refused = exc.message
else:
    refused = None
# The peak of this process since it started Python (VmHWM is per address space, which exec replaces): not the
# test worker's memory that the forked child held for a moment before exec, which ru_maxrss would count.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"refused": refused, "peak_kb": peak_kb}))
"""


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (1024 * MiB, 1024 * MiB))
    resource.setrlimit(resource.RLIMIT_CPU, (120, 120))


def probe(kind: str, path: Path, *extra: str) -> tuple[str | None, float]:
    """Read a file as the import does (`crypto.decrypt`, or `parsing.parse` and every row) in a child process
    limited to 1 GiB of address space; (its refusal message or None, its peak resident memory in MB)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            [sys.executable, "-c", PROBE, kind, str(path), *extra],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            preexec_fn=_limits,
        )
        _pid, status, _usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        output, errors = out.read().decode(), err.read().decode()
    assert child.returncode == 0, errors[-3000:]
    result = json.loads(output.strip().splitlines()[-1])
    return result["refused"], result["peak_kb"] / 1024


# --- builders ------------------------------------------------------------------------------------------------


def gpg(home: Path, *args: str, stdin=None) -> None:
    subprocess.run(["gpg", "--homedir", str(home), "--batch", "--yes", *args], stdin=stdin, check=True)


@pytest.fixture(scope="module")
def openpgp_bomb(tmp_path_factory, agency_gnupg_template) -> Path:
    """256 MiB of zeros compressed by gpg (zlib) and encrypted for the agency key: about 1 MB on disk."""
    path = tmp_path_factory.mktemp("bomb") / "lot.csv.gpg"
    zeros = subprocess.Popen(["head", "-c", str(256 * MiB), "/dev/zero"], stdout=subprocess.PIPE)
    gpg(
        agency_gnupg_template,
        "--trust-model",
        "always",
        "--compress-algo",
        "zlib",
        "-z",
        "1",
        "--encrypt",
        "-r",
        AGENCY_FPR,
        "--output",
        str(path),
        stdin=zeros.stdout,
    )
    zeros.wait()
    kill_gpg_agent(agency_gnupg_template)
    assert path.stat().st_size < 2 * MiB
    return path


CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b'<Override PartName="/xl/sharedStrings.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    b"</Types>"
)
RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="Lot" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'worksheet" Target="worksheets/sheet1.xml"/>'
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
SHEET_OPEN = b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
SHEET_CLOSE = b"</sheetData></worksheet>"
SHARED = (
    b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b"<si><t>r\xc3\xa9f\xc3\xa9rence</t></si><si><t>nom</t></si></sst>"
)


def inline(ref: str, text: str) -> bytes:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'.encode()


HEADER_ROW = (
    b'<row r="1">'
    + inline("A1", "référence")
    + inline("B1", "structure")
    + inline("C1", "nom")
    + inline("D1", "solde")
    + b"</row>"
)


def data_row(number: int, name: str = "Martin") -> bytes:
    cells = inline(f"A{number}", f"R{number}") + inline(f"B{number}", "CSR") + inline(f"C{number}", name)
    return f'<row r="{number}">'.encode() + cells + f'<c r="D{number}"><v>12.5</v></c></row>'.encode()


def xlsx(sheet_chunks=(), *, shared_chunks=(SHARED,), compression=zipfile.ZIP_DEFLATED, level: int | None = 1) -> bytes:
    """A minimal workbook whose sheet (and shared strings) are written chunk by chunk: a bomb of hundreds of MB
    is deflated as it is produced and never held whole."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        for name, chunks in (
            ("xl/worksheets/sheet1.xml", sheet_chunks or (SHEET_OPEN, HEADER_ROW, data_row(2), SHEET_CLOSE)),
            ("xl/sharedStrings.xml", shared_chunks),
        ):
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            with archive.open(info, "w", force_zip64=True) as part:
                for chunk in chunks:
                    part.write(chunk)
    return buffer.getvalue()


def repeated(chunk: bytes, size: int):
    block = chunk * max(1, MiB // len(chunk))
    for _ in range(size // len(block)):
        yield block


def lie_about_size(content: bytes, name: str, declared: int) -> bytes:
    """Rewrite the uncompressed size of one part, in its local header and in the central directory (and in its
    zip64 extra field), to `declared`: the bytes still inflate to their real size."""
    data = bytearray(content)
    encoded = name.encode()
    offset = 0
    while True:
        local = data.find(b"PK\x03\x04", offset)
        if local < 0:
            break
        name_length, extra_length = struct.unpack_from("<HH", data, local + 26)
        if data[local + 30 : local + 30 + name_length] == encoded:
            struct.pack_into("<I", data, local + 22, declared)
            _patch_zip64(data, local + 30 + name_length, extra_length, declared)
        offset = local + 4
    offset = 0
    while True:
        central = data.find(b"PK\x01\x02", offset)
        if central < 0:
            break
        name_length, extra_length = struct.unpack_from("<HH", data, central + 28)
        if data[central + 46 : central + 46 + name_length] == encoded:
            struct.pack_into("<I", data, central + 24, declared)
            _patch_zip64(data, central + 46 + name_length, extra_length, declared)
        offset = central + 4
    return bytes(data)


def _patch_zip64(data: bytearray, start: int, length: int, declared: int) -> None:
    position = start
    while position + 4 <= start + length:
        tag, size = struct.unpack_from("<HH", data, position)
        if tag == 0x0001 and size >= 8:
            struct.pack_into("<Q", data, position + 4, declared)  # the uncompressed size comes first
        position += 4 + size


def parse(content: bytes):
    parsed = parsing.parse(content, extra_headers={}, structure_given=False)
    return list(parsed.rows)


# --- OpenPGP -------------------------------------------------------------------------------------------------


def test_openpgp_bomb_is_refused_in_bounded_memory(openpgp_bomb, gnupg_home):
    refused, peak = probe("gpg", openpgp_bomb, str(gnupg_home))

    assert refused is not None and "dépasse, une fois déchiffré, la taille maximale de 100 Mo" in refused
    assert peak <= PEAK_MB, f"{peak:.0f} MB"


def test_openpgp_bomb_by_the_command_is_refused_audited_and_stores_nothing(
    reference, gnupg_home, media, openpgp_bomb, settings
):
    settings.AMIABLE_BATCH_MAX_MB = 2  # the same refusal, sooner (the bomb itself weighs about 1 MB)

    code, result = run_json(str(openpgp_bomb), "--creditor", "cpam-paris")

    assert code == 2
    assert set(result) == JSON_KEYS
    assert result["status"] == "refused"
    assert "dépasse, une fois déchiffré, la taille maximale de 2 Mo" in result["error"]
    assert Batch.objects.count() == 0 and Case.objects.count() == 0
    event = AuditEvent.objects.get(verb="batch.refused")
    assert "dépasse, une fois déchiffré" in json.dumps(event.after, ensure_ascii=False)


def test_staged_file_is_read_back_within_the_limit(gnupg_home, settings):
    from amiable.intake import crypto

    staged = crypto.encrypt_for_storage(b"x" * (2 * MiB))
    settings.AMIABLE_BATCH_MAX_MB = 1

    with pytest.raises(ApplicationError, match="dépasse, une fois déchiffré"):
        crypto.decrypt_from_storage(staged)


# --- XLSX ----------------------------------------------------------------------------------------------------


def test_an_ordinary_workbook_still_reads():
    rows = parse(xlsx())

    assert [(r.file_line, r.values["reference"], r.values["last_name"]) for r in rows] == [(2, "R2", "Martin")]


def test_missing_rows_keep_the_spreadsheet_row_numbers():
    content = xlsx((SHEET_OPEN, HEADER_ROW, data_row(5), data_row(9), SHEET_CLOSE))

    assert [r.file_line for r in parse(content)] == [5, 9]


def test_shared_strings_bomb_is_refused_in_bounded_memory(tmp_path):
    """One shared string of 200 MB deflated to a few hundred KB: refused from the central directory."""
    shared = (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>',
        *repeated(b"A", 200 * MiB),
        b"</t></si></sst>",
    )
    path = tmp_path / "lot.xlsx"
    path.write_bytes(xlsx(shared_chunks=shared))
    assert path.stat().st_size < 2 * MiB

    refused, peak = probe("xlsx", path)

    assert refused is not None and "« xl/sharedStrings.xml » occupe 200 Mo une fois décompressée" in refused
    assert peak <= PEAK_MB, f"{peak:.0f} MB"


def test_one_huge_cell_is_refused_in_bounded_memory(tmp_path):
    """A single cell of 200 MB (the sheet is small once deflated): refused for its compression ratio."""
    sheet = (SHEET_OPEN, HEADER_ROW, b'<row r="2"><c r="A2" t="inlineStr"><is><t>', *repeated(b"A", 200 * MiB))
    sheet += (b"</t></is></c></row>", SHEET_CLOSE)
    path = tmp_path / "lot.xlsx"
    path.write_bytes(xlsx(sheet))

    refused, peak = probe("xlsx", path)

    assert refused is not None and "est comprimée plus de 200 fois" in refused
    assert peak <= PEAK_MB, f"{peak:.0f} MB"


def test_rows_that_expand_are_refused_in_bounded_memory(tmp_path):
    """Millions of rows of the same few cells: hundreds of MB once inflated."""
    sheet = (SHEET_OPEN, HEADER_ROW, *repeated(data_row(2), 300 * MiB), SHEET_CLOSE)
    path = tmp_path / "lot.xlsx"
    path.write_bytes(xlsx(sheet))

    refused, peak = probe("xlsx", path)

    assert refused is not None and "« xl/worksheets/sheet1.xml » occupe" in refused
    assert peak <= PEAK_MB, f"{peak:.0f} MB"


def test_a_central_directory_that_lies_is_refused_in_bounded_memory(tmp_path):
    """The shared strings declare 1 KB and inflate to 200 MB: the bytes really produced are what counts."""
    shared = (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>',
        *repeated(b"A", 200 * MiB),
        b"</t></si></sst>",
    )
    path = tmp_path / "lot.xlsx"
    path.write_bytes(lie_about_size(xlsx(shared_chunks=shared), "xl/sharedStrings.xml", 1024))
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("xl/sharedStrings.xml").file_size == 1024

    refused, peak = probe("xlsx", path)

    assert refused is not None and refused.startswith("Le classeur XLSX est endommagé")
    assert peak <= PEAK_MB, f"{peak:.0f} MB"


def test_a_sheet_that_outgrows_its_declared_size_is_refused():
    sheet = (SHEET_OPEN, HEADER_ROW, *[data_row(n) for n in range(2, 2000)], SHEET_CLOSE)
    content = lie_about_size(xlsx(sheet), "xl/worksheets/sheet1.xml", 2048)

    with pytest.raises(ApplicationError, match="endommagé"):
        parse(content)


def test_a_long_text_node_is_refused_before_it_is_built():
    """Not compressible (stored), so neither the ratio nor the sizes refuse it: the XML guard does."""
    text = "".join(chr(ord("a") + (i * 7919) % 26) for i in range(100_000))
    sheet = (SHEET_OPEN, HEADER_ROW, b'<row r="2">' + inline("A2", text) + b"</row>", SHEET_CLOSE)

    with pytest.raises(ApplicationError, match="texte ou une balise de plus de 65 536 octets"):
        parse(xlsx(sheet, compression=zipfile.ZIP_STORED, level=None))


def test_a_row_of_too_many_elements_is_refused():
    cells = b"".join(b"<c/>" for _ in range(20_000))
    sheet = (SHEET_OPEN, HEADER_ROW, b'<row r="2">' + cells + b"</row>", SHEET_CLOSE)

    with pytest.raises(ApplicationError, match="plus de 10 000 éléments"):
        parse(xlsx(sheet, compression=zipfile.ZIP_STORED, level=None))


def test_cdata_is_refused():
    sheet = (SHEET_OPEN, HEADER_ROW, b'<row r="2">' + inline("A2", "<![CDATA[x]]>") + b"</row>", SHEET_CLOSE)

    with pytest.raises(ApplicationError, match="section CDATA"):
        parse(xlsx(sheet))


def test_too_many_parts_are_refused():
    buffer = io.BytesIO(xlsx())
    with zipfile.ZipFile(buffer, "a") as archive:
        for number in range(1001):
            archive.writestr(f"xl/media/image{number}.png", b"")

    with pytest.raises(ApplicationError, match="1 007 fichiers"):
        parse(buffer.getvalue())


def test_an_xlsx_cell_over_the_cap_is_refused():
    sheet = (SHEET_OPEN, HEADER_ROW, data_row(2, name="M" * 6000), SHEET_CLOSE)

    with pytest.raises(ApplicationError, match=r"Ligne 2 du fichier, colonne 3 : la cellule compte 6 000 caractères"):
        parse(xlsx(sheet))


# --- CSV -----------------------------------------------------------------------------------------------------


def test_a_csv_cell_over_the_cap_is_refused():
    content = (HEADER + "R1;CSR;" + "M" * 6000 + ";Jean;12,50\n").encode()

    with pytest.raises(ApplicationError, match=r"Ligne 2 du fichier, colonne 3 : la cellule compte 6 000 caractères"):
        parse(content)


def test_a_csv_line_of_50_mb_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "lot.csv"
    with path.open("wb") as file:
        file.write(HEADER.encode())
        for block in repeated(b"R1;CSR;Martin;Jean;12,50;", 50 * MiB):
            file.write(block)

    refused, peak = probe("csv", path)

    assert refused is not None and "à partir de la ligne 2 : un enregistrement dépasse 100 000 caractères" in refused
    assert peak <= PEAK_MB, f"{peak:.0f} MB"


def test_an_unclosed_quote_is_named():
    content = (HEADER + 'R1;CSR;"Martin;Jean;12,50\n' + "R2;CSR;Durand;Paul;10\n" * 10_000).encode()

    with pytest.raises(ApplicationError, match=r"guillemet non refermé"):
        parse(content)


def test_crlf_cr_and_quoted_newlines_still_read():
    content = (
        'référence;structure;nom;prénom;solde\rR1;CSR;"Martin\r\nDupont";Jean;12,50\r\nR2;CSR;Durand;Paul;10\n'
    ).encode("cp1252")

    rows = parse(content)

    assert [(r.file_line, r.values["last_name"]) for r in rows] == [(2, "Martin\r\nDupont"), (4, "Durand")]


TEN_MB_FIELD = (HEADER + "R1;CSR;" + "M" * (10 * MiB) + ";Jean;12,50\n").encode()


def test_a_10_mb_csv_field_by_the_command_is_refused_with_json_exit_2_and_audited(
    reference, gnupg_home, media, tmp_path
):
    path = tmp_path / "lot.csv"
    path.write_bytes(TEN_MB_FIELD)

    code, result = run_json(str(path), "--creditor", "cpam-paris")

    assert code == 2
    assert set(result) == JSON_KEYS
    assert result["status"] == "refused"
    assert "un enregistrement dépasse 100 000 caractères" in result["error"]
    assert Batch.objects.count() == 0 and Case.objects.count() == 0
    assert AuditEvent.objects.filter(verb="batch.refused").count() == 1


def test_a_10_mb_csv_field_on_the_page_is_refused_not_a_technical_error(
    client, users, reference, gnupg_home, media, django_capture_on_commit_callbacks
):
    client.force_login(users.creditor_admin)
    file = SimpleUploadedFile("lot.csv", TEN_MB_FIELD)

    job, response = upload_and_follow(client, django_capture_on_commit_callbacks, file=file)

    job.refresh_from_db()
    assert job.status == ImportJobStatus.DONE and job.batch is None
    content = text_of(client.get(response["Location"]))
    assert "Fichier refusé : rien n'a été enregistré." in content
    assert "un enregistrement dépasse 100 000 caractères" in content
    assert "Erreur technique" not in content
    assert Batch.objects.count() == 0 and Case.objects.count() == 0
    assert AuditEvent.objects.filter(verb="batch.refused").count() == 1
