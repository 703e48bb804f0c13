"""A storage that behaves like object storage (S3 and the like): files are kept in memory by name and have no
path on a local disk, so any use of `FieldFile.path` or `Storage.path()` fails as it would in production."""

from django.core.files.base import ContentFile
from django.core.files.storage import Storage


class ObjectStorage(Storage):
    """Only what the storage API promises everywhere; `path()` is the base class's, which raises
    NotImplementedError (Django's own InMemoryStorage answers `path()`, so it cannot stand in for S3)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    def _save(self, name, content):
        self.files[name] = b"".join(content.chunks())
        return name

    def _open(self, name, mode="rb"):
        if name not in self.files:
            raise FileNotFoundError(name)
        return ContentFile(self.files[name], name=name)

    def exists(self, name):
        return name in self.files

    def delete(self, name):
        self.files.pop(name, None)

    def size(self, name):
        return len(self.files[name])

    def url(self, name):
        return f"https://objets.example/{name}"
