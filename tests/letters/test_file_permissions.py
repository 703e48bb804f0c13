"""Stored documents carry debtors' names and addresses: the files are readable by the application's user
alone (0600) in folders only it enters (0700), whatever the process's umask."""

import os
import stat
from pathlib import Path

from django.conf import settings

from amiable.letters.defaults import letter_templates_ensure
from amiable.letters.models import LetterKind
from amiable.letters.services import letter_issue
from tests.factories import make_case


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_an_issued_letter_is_stored_owner_only(reference, users):
    previous = os.umask(0o022)  # the usual umask, which leaves files readable by every local user
    try:
        letter_templates_ensure(creditor=reference.cpam)
        case = make_case(structure=reference.cdop, reference="PERM-1")
        letter = letter_issue(case=case, kind=LetterKind.FIRST, actor=users.agent)
    finally:
        os.umask(previous)

    path = Path(letter.pdf.path)
    assert path.is_file()
    assert _mode(path) == 0o600
    media = Path(settings.MEDIA_ROOT).resolve()
    folder = path.parent.resolve()
    while folder != media:  # every folder the storage made on the way
        assert _mode(folder) == 0o700, folder
        folder = folder.parent
