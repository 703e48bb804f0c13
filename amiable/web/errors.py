"""The server-error page (`handler500`), which tells a busy database apart from a fault.

On SQLite (the demo, `make run`) a transaction that writes holds the database's only write lock; a page that
writes while a large import stores its rows waits for the busy timeout, then fails with « database is locked ».
Its own transaction was rolled back, so nothing was half-written: the person is told to try again in a moment
(503, Retry-After), not that something broke."""

import sys

from django.db import OperationalError
from django.http import HttpResponseServerError
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

BUSY_RETRY_SECONDS = 60


def database_busy(exc: BaseException | None) -> bool:
    """Whether an exception is SQLite's lock timeout (PostgreSQL never raises it: writers lock rows)."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


def busy_response() -> HttpResponseServerError:
    response = HttpResponseServerError(loader.get_template("503_busy.html").render(), status=503)
    response["Retry-After"] = str(BUSY_RETRY_SECONDS)
    return response


@requires_csrf_token
def server_error(request, template_name: str = "500.html"):
    """Django calls this from inside its `except` block: the exception being handled is `sys.exc_info()`. It
    covers a lock met outside a view (a middleware's write), with DEBUG off."""
    if database_busy(sys.exc_info()[1]):
        return busy_response()
    return HttpResponseServerError(loader.get_template(template_name).render())


class DatabaseBusyMiddleware:
    """The same answer for a lock met by a view, whatever DEBUG says: the demo (`make run`) runs with DEBUG on,
    where Django would show its debugging page instead of `handler500`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return busy_response() if database_busy(exception) else None
