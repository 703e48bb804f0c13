"""The stored documents and their SHA-256, for `manage.py verify_documents`: every generated or received file
that the application keeps, with the field holding the hash it recorded when it stored the file."""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.core.files.storage import default_storage

# (model, file field, hash field): a file without a recorded hash is only checked to be there.
STORED_DOCUMENTS = [
    ("letters.Letter", "pdf", "sha256"),
    ("payments.Receipt", "pdf", "sha256"),
    ("payments.Plan", "pdf", "sha256"),
    ("payments.Statement", "pdf", "sha256"),
    ("remittances.Remittance", "statement_pdf", "statement_pdf_sha256"),
    ("remittances.Remittance", "statement_xlsx", "statement_xlsx_sha256"),
    ("remittances.Remittance", "statement_csv", "statement_csv_sha256"),
    ("remittances.Remittance", "transfer_xml", "transfer_sha256"),
    ("invoicing.Invoice", "pdf", "sha256"),
    ("closure.Certificate", "pdf", "pdf_sha256"),
    ("closure.CaseClosure", "evidence_file", "evidence_file_sha256"),
    ("reporting.QuarterlyReport", "xlsx", "xlsx_sha256"),
    ("reporting.FollowUpMeeting", "pack_pdf", "pack_pdf_sha256"),
    ("reporting.FollowUpMeeting", "pack_xlsx", "pack_xlsx_sha256"),
    ("reporting.FollowUpMeeting", "minutes_file", "minutes_file_sha256"),
    ("contact.OutboxMessage", "attachment", "attachment_sha256"),
    ("banking.BankStatement", "file", "sha256"),
    # The acknowledgement prints its annexes' hashes; none of the three files has its own recorded.
    ("intake.Batch", "acknowledgement_pdf", None),
    ("intake.Batch", "acknowledgement_csv", None),
    ("intake.Batch", "acknowledgement_xlsx", None),
]
CHUNK = 2000
BLOCK = 1024 * 1024


@dataclass(frozen=True)
class Finding:
    kind: str  # "missing", "altered" or "unhashed"
    model: str
    pk: int
    field: str
    name: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "model": self.model, "id": self.pk, "field": self.field, "file": self.name}

    def __str__(self) -> str:
        what = apps.get_model(self.model)._meta.verbose_name
        problem = {
            "missing": "fichier introuvable",
            "altered": "contenu modifié (empreinte différente)",
            "unhashed": "aucune empreinte enregistrée",
        }[self.kind]
        return f"{what} n° {self.pk} ({self.field}) : {problem} — {self.name}"


def file_sha256(name: str) -> str | None:
    """The SHA-256 of a stored file read a block at a time, or None when it is not there."""
    digest = hashlib.sha256()
    try:
        with default_storage.open(name, "rb") as stored:
            while block := stored.read(BLOCK):
                digest.update(block)
    except (FileNotFoundError, IsADirectoryError):
        return None
    return digest.hexdigest()


def verify_documents() -> Iterator[tuple[str, Finding | None]]:
    """Each stored document checked, as (model, finding or None when it is intact); rows streamed a chunk at a
    time, files read a block at a time: memory stays flat whatever their number."""
    for label, file_field, hash_field in STORED_DOCUMENTS:
        model = apps.get_model(label)
        fields = ["pk", file_field] + ([hash_field] if hash_field else [])
        rows = model._base_manager.exclude(**{file_field: ""}).exclude(**{f"{file_field}__isnull": True})
        for row in rows.order_by("pk").values_list(*fields).iterator(chunk_size=CHUNK):
            pk, name = row[0], row[1]
            actual = file_sha256(name)
            finding = None
            if actual is None:
                finding = Finding("missing", label, pk, file_field, name)
            elif hash_field and not row[2]:
                finding = Finding("unhashed", label, pk, file_field, name)
            elif hash_field and actual != row[2]:
                finding = Finding("altered", label, pk, file_field, name)
            yield label, finding
