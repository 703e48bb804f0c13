"""Where a stored document is, on a local disk and on a storage without paths (object storage)."""

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from amiable.core.storage import storage_location
from tests.intake.storage import ObjectStorage


def test_a_local_disk_gives_the_path(tmp_path):
    storage = FileSystemStorage(location=tmp_path)
    name = storage.save("print/2026-11-02.pdf", ContentFile(b"%PDF"))
    assert storage_location(name, storage) == str(tmp_path / "print" / "2026-11-02.pdf")


def test_a_storage_without_paths_gives_the_name():
    storage = ObjectStorage()
    name = storage.save("letters/2026/L-2026-000001.pdf", ContentFile(b"%PDF"))
    assert storage_location(name, storage) == "letters/2026/L-2026-000001.pdf"


def test_no_document_no_location():
    assert storage_location(None) is None and storage_location("") is None
