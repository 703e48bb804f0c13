"""Nothing twice from a double click: a form that creates something carries a one-time token
(`{% once_token %}`), one per rendering of the form. The first submit of a token runs the view; a second
submit of the same token (a double click, a page sent again, a second tab of the same page) runs nothing and
is sent to where the first one led, with a message saying that nothing was recorded twice.

The token is recorded (user, token) before the view runs, in a row of its own committed at once, so that two
submits racing on two workers cannot both pass: the second one's insert fails on the unique constraint. A
submit that creates nothing (a refused form, an error) gives its token back, so that the same rendering can be
corrected and sent again."""

import time
import uuid
from datetime import timedelta

from django.contrib import messages
from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from amiable.core.busy import busy_response, database_busy
from amiable.core.models import FormSubmission

FIELD = "_once"
DUPLICATE = "Ce formulaire avait déjà été envoyé : rien n'a été enregistré une seconde fois."
IN_PROGRESS = "Ce formulaire est déjà en cours d'envoi : rien n'a été enregistré une seconde fois."
# How long a second submit waits for the first one, still running, to say where it led.
WAIT_SECONDS = 10.0


def once_token() -> str:
    return uuid.uuid4().hex


def once_refused(request: HttpRequest) -> None:
    """The view refused the submit (invalid form, business refusal) but answers by a redirect all the same:
    the token is given back, so that sending the same form again is tried again rather than replayed."""
    request._once_refused = True


def _token(request: HttpRequest) -> uuid.UUID | None:
    if request.method != "POST" or not request.user.is_authenticated:
        return None
    try:
        return uuid.UUID(request.POST.get(FIELD, ""))
    except ValueError:
        return None


def _first_result(request: HttpRequest, token: uuid.UUID) -> HttpResponse | None:
    """Where the first submit of this token led; waits a little for a first submit still running."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        location = (
            FormSubmission.objects.filter(user=request.user, token=token).values_list("location", flat=True).first()
        )
        if location:
            messages.info(request, DUPLICATE)
            return HttpResponseRedirect(location)
        if location is None:  # the first submit was refused meanwhile and gave its token back: try again
            return None
        if time.monotonic() >= deadline:
            return _in_progress(request)
        time.sleep(0.1)


def _in_progress(request: HttpRequest) -> HttpResponse:
    """Back to the page the form was on (a page of this site only), saying the first submit is still running."""
    messages.warning(request, IN_PROGRESS)
    back = request.headers.get("Referer", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return HttpResponseRedirect(back if back and safe else "/")


class OnceMiddleware:
    """Runs a token-carrying submit once per user and token (see the module)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        submission = getattr(request, "_once_submission", None)
        if submission is not None:
            if response.status_code in (301, 302, 303, 307, 308) and not getattr(request, "_once_refused", False):
                FormSubmission.objects.filter(pk=submission.pk).update(location=response["Location"][:500])
            else:
                FormSubmission.objects.filter(pk=submission.pk).delete()
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        """After the CSRF check: claim the token, or answer with the first submit's result."""
        token = _token(request)
        if token is None:
            return None
        for _attempt in range(2):
            try:
                with transaction.atomic():
                    request._once_submission = FormSubmission.objects.create(user=request.user, token=token)
                return None
            except IntegrityError:
                response = _first_result(request, token)
                if response is not None:
                    return response
            except OperationalError as exc:
                # The claim is a write, before the view: on SQLite it may meet a large import's write lock.
                if database_busy(exc):
                    return busy_response()
                raise
        return _in_progress(request)


def once_purge(*, hours: int = 24) -> int:
    """Forget the tokens of forms sent more than `hours` ago: a double click or a resent page comes within
    minutes, and the table must not grow with every form ever sent."""
    deleted, _ = FormSubmission.objects.filter(created_at__lt=timezone.now() - timedelta(hours=hours)).delete()
    return deleted
