"""The server-error page (`handler500`) and a middleware that tell a busy database apart from a fault
(`core.busy`)."""

import sys

from django.http import HttpResponseServerError
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

from amiable.core.busy import busy_response, database_busy


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
