"""Shared fixtures of the case-work tests."""

from tests.work_fixtures import case_factory, cpam_setup  # noqa: F401
