"""Shared fixtures: the reference data and one user per role, built with the project's own services."""

import pytest

from tests.factories import make_user, seed_reference
from tests.intake.conftest import agency_gnupg_template, gnupg_home  # noqa: F401  (shared GnuPG fixtures)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Generated documents go to a temporary folder, never into the working copy's var/."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def reference(db):
    """The agency, the CPAM de Paris with its three structures, a second creditor with one structure."""
    return seed_reference()


@pytest.fixture
def users(reference):
    """One user per role; creditor users of the CPAM, one limited to CSR, and the other creditor's admin."""
    cpam, other = reference.cpam, reference.other
    return type(
        "Users",
        (),
        {
            "agent": make_user("agent"),
            "supervisor": make_user("supervisor"),
            "agency_admin": make_user("agency_admin"),
            "collaborator": make_user("creditor_collaborator", creditor=cpam),
            "approver": make_user("creditor_approver", creditor=cpam),
            "creditor_admin": make_user("creditor_admin", creditor=cpam),
            "csr_only": make_user("creditor_collaborator", creditor=cpam, structures=[reference.csr]),
            "other_admin": make_user("creditor_admin", creditor=other),
        },
    )
