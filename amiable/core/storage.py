"""Where a stored document is, told to an operator without assuming a local disk."""

from django.core.files.storage import Storage, default_storage


def storage_location(name: str | None, storage: Storage | None = None) -> str | None:
    """The document's path when the storage is a local disk, else its storage name: object storage has no
    path, and `FieldFile.path` would fail there."""
    if not name:
        return None
    storage = storage or default_storage
    try:
        return storage.path(name)
    except NotImplementedError:
        return name
