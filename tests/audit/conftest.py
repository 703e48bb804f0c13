"""Shared fixtures of the audit tests: cases ready to be worked, for the services that work them."""

from tests.work_fixtures import case_factory, cpam_setup  # noqa: F401
