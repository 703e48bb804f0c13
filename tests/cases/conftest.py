"""Shared fixtures of the case tests."""

from tests.work_fixtures import case_factory, cpam_setup  # noqa: F401
