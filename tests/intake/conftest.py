"""Fixtures for intake tests: a throwaway GnuPG home holding the agency test key, used by `amiable.intake.crypto`."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data"
KEYS = DATA / "keys"


def kill_gpg_agent(home: Path | str) -> None:
    """Stop the agent gpg started for a home, so that test runs leave no daemon behind."""
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)


def new_gnupg_home() -> Path:
    """A private GnuPG home under /tmp: gpg-agent's socket path must stay under ~108 characters, which a
    pytest tmp_path can exceed."""
    home = Path(tempfile.mkdtemp(prefix="gpg", dir="/tmp"))
    home.chmod(0o700)
    return home


@pytest.fixture(scope="session")
def agency_gnupg_template():
    """A GnuPG home with the agency test secret key, built once per session and copied by `gnupg_home`."""
    home = new_gnupg_home()
    subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--import", str(KEYS / "agency-test-secret.asc")],
        check=True,
        capture_output=True,
    )
    kill_gpg_agent(home)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def gnupg_home(agency_gnupg_template, settings):
    """settings.AMIABLE_GNUPG_HOME pointed at a fresh copy of the agency home: tests that import keys do not
    leak them into each other."""
    home = new_gnupg_home()
    shutil.copytree(
        agency_gnupg_template, home, dirs_exist_ok=True, ignore=shutil.ignore_patterns("S.*", "*.lock", ".#*")
    )
    settings.AMIABLE_GNUPG_HOME = home
    yield home
    kill_gpg_agent(home)
    shutil.rmtree(home, ignore_errors=True)
