"""Uploaded files held in memory only, with a bound that the form can name."""

import io

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class TooLargeUploadedFile(InMemoryUploadedFile):
    """What is left of a file larger than FILE_UPLOAD_MAX_MEMORY_SIZE: its name and the size received, no content.
    Its `size` is 0, so that a form that does not look at `too_large` refuses it as empty, never reads it."""

    too_large = True

    def __init__(self, *, received_size: int, **kwargs):
        super().__init__(file=io.BytesIO(), size=0, **kwargs)
        self.received_size = received_size


class BoundedMemoryFileUploadHandler(FileUploadHandler):
    """Every uploaded file stays in memory, never in a temporary file on disk (a batch may be in clear), up to
    FILE_UPLOAD_MAX_MEMORY_SIZE bytes. Past it, the rest is read and dropped and the file arrives as a
    `TooLargeUploadedFile`: Django's MemoryFileUploadHandler leaves such a file out of `request.FILES`, and the
    form then says « Ce champ est obligatoire » instead of naming the size. The bound is on the bytes received,
    not on the Content-Length the client declares."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.file = io.BytesIO()
        self.received = 0
        self.limit = settings.FILE_UPLOAD_MAX_MEMORY_SIZE

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.file is not None:
            if self.received > self.limit:
                self.file = None  # what was kept is freed; the rest is only counted
            else:
                self.file.write(raw_data)
        return None  # no other handler: the file is never written to disk

    def file_complete(self, file_size):
        common = {
            "field_name": self.field_name,
            "name": self.file_name,
            "content_type": self.content_type,
            "charset": self.charset,
            "content_type_extra": self.content_type_extra,
        }
        if self.file is None:
            return TooLargeUploadedFile(received_size=self.received, **common)
        self.file.seek(0)
        return InMemoryUploadedFile(file=self.file, size=file_size, **common)
