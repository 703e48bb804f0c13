"""Fixtures of the closure tests."""

from tests.work_fixtures import case_factory, cpam_setup  # noqa: F401
