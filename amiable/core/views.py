"""What every page that changes data does the same way: call one service, show its French refusal or
its success as a message. A form posted from a card of another page (the case page) goes back there
(POST → redirect → GET); when it is refused, what was typed and the refusal are kept in the session under
the form's key (`form_keep`) and the page that shows the form reads them once (`form_restore`): the form
comes back bound, with each error beside its field."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, QueryDict

from amiable.core.exceptions import ApplicationError
from amiable.core.once import once_refused


def run_service(request: HttpRequest, action: Callable[[], Any], success: str | Callable[[Any], str]) -> bool:
    """Call a service; a business refusal becomes an error message. `success` may be built from the result."""
    try:
        result = action()
    except ApplicationError as exc:
        once_refused(request)
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


def submit_form(
    request: HttpRequest,
    form,
    action: Callable[[dict], Any],
    success: str | Callable[[Any], str],
    *,
    keep: str = "",
) -> bool:
    """Validate a posted form and, if valid, run the service with its cleaned data. With `keep`, a refused
    form (invalid, or valid but refused by the service) is kept for the page it goes back to; without it,
    its errors become messages (the page re-renders the bound form itself)."""
    if not form.is_valid():
        once_refused(request)
        if keep:
            form_keep(request, keep, form)
        else:
            form_errors_to_messages(request, form)
        return False
    try:
        result = action(form.cleaned_data)
    except ApplicationError as exc:
        once_refused(request)
        if keep:
            form_keep(request, keep, form, refusal=exc)
        else:
            messages.error(request, exc.message)
        return False
    messages.success(request, success(result) if callable(success) else success)
    return True


# --- forms kept across the redirect -------------------------------------------------------------------

KEPT = "kept_forms"
NOT_KEPT = frozenset({"csrfmiddlewaretoken"})


def show_refusal(form, exc: ApplicationError) -> None:
    """A service's refusal beside the field it names (`extra={"field": …}`), or above the form."""
    name = exc.extra.get("field")
    form.add_error(name if name in form.fields else None, exc.message)


def form_keep(request: HttpRequest, key: str, form, *, refusal: ApplicationError | None = None) -> None:
    """Keep a refused form's typed values (never its files) and the service's refusal for the next page."""
    data = {name: form.data.getlist(name) for name in form.data if name not in NOT_KEPT}
    kept = dict(request.session.get(KEPT, {}))
    kept[key] = {
        "data": data,
        "refusal": {"message": refusal.message, "field": refusal.extra.get("field")} if refusal else None,
    }
    request.session[KEPT] = kept


def form_pending(request: HttpRequest, *keys: str) -> bool:
    """Whether one of these forms was refused and waits to be shown again."""
    kept = request.session.get(KEPT) or {}
    return any(key in kept for key in keys)


def form_restore(request: HttpRequest, key: str, form_class, **kwargs):
    """The form under `key`: bound to the values kept by `form_keep` (read once), validated again so that each
    error is beside its field, with the service's refusal added; else a fresh form."""
    kept = request.session.get(KEPT) or {}
    if key not in kept:
        return form_class(**kwargs)
    entry = kept[key]
    request.session[KEPT] = {k: v for k, v in kept.items() if k != key}
    data = QueryDict(mutable=True)
    for name, values in entry["data"].items():
        data.setlist(name, values)
    form = form_class(data, **kwargs)
    form.is_valid()
    if entry.get("refusal"):
        show_refusal(form, ApplicationError(entry["refusal"]["message"], extra={"field": entry["refusal"]["field"]}))
    return form
