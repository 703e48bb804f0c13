"""Shared fixtures of the payments tests: cases ready to be worked (first letter, contact points)."""

from tests.work_fixtures import case_factory, cpam_setup  # noqa: F401
