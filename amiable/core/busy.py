"""SQLite's write lock met by a request: on SQLite (the demo, `make run`) a transaction that writes holds the
database's only write lock, and a request that writes while a large import stores its rows waits for the busy
timeout, then fails with « database is locked ». Its own transaction was rolled back, so nothing was
half-written: the person is told to try again in a moment (503, Retry-After), not that something broke."""

from django.db import OperationalError
from django.http import HttpResponse
from django.template import loader

BUSY_RETRY_SECONDS = 60


def database_busy(exc: BaseException | None) -> bool:
    """Whether an exception is SQLite's lock timeout (PostgreSQL never raises it: writers lock rows)."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


def busy_response() -> HttpResponse:
    response = HttpResponse(loader.get_template("503_busy.html").render(), status=503)
    response["Retry-After"] = str(BUSY_RETRY_SECONDS)
    return response
