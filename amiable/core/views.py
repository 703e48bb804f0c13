"""What every page that changes data does the same way: call one service, show its French refusal or
its success as a message, and show the form's errors as messages when it goes back where it came from."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest

from amiable.core.exceptions import ApplicationError


def run_service(request: HttpRequest, action: Callable[[], Any], success: str | Callable[[Any], str]) -> bool:
    """Call a service; a business refusal becomes an error message. `success` may be built from the result."""
    try:
        result = action()
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, success(result) if callable(success) else success)
    return True


def form_errors_to_messages(request: HttpRequest, form) -> None:
    """A form posted from a card of a page: its errors are shown as messages on the page it returns to."""
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            messages.error(request, f"{label} : {error}" if label else error)


def submit_form(request: HttpRequest, form, action: Callable[[dict], Any], success: str | Callable[[Any], str]) -> bool:
    """Validate a posted form and, if valid, run the service with its cleaned data."""
    if not form.is_valid():
        form_errors_to_messages(request, form)
        return False
    return run_service(request, lambda: action(form.cleaned_data), success)
