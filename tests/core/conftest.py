"""Shared fixtures of the core tests that post the case page's forms."""

from tests.work_fixtures import case_factory, cpam_setup  # noqa: F401
