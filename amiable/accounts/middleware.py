"""The second-factor gate (S1). Placed after django-otp's OTPMiddleware, which tells whether the session was
verified by a code: a logged-in user who has an authenticator must give a code before reaching any page,
and with AMIABLE_REQUIRE_2FA a user who has none must enrol first. Costs no query: `two_factor_enabled` is
on the user row already read."""

from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django_htmx.http import HttpResponseClientRedirect


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._exempt: tuple[str, ...] | None = None

    def exempt_prefixes(self) -> tuple[str, ...]:
        # Resolved on first use: the URL configuration is not loaded when middleware is built.
        if self._exempt is None:
            self._exempt = (
                reverse("logout"),
                reverse("accounts:verify"),
                reverse("accounts:enrol"),
                settings.STATIC_URL,
            )
        return self._exempt

    def __call__(self, request):
        return self.gate(request) or self.get_response(request)

    def gate(self, request):
        user = request.user
        if not user.is_authenticated:
            return None
        if not hasattr(user, "is_verified"):
            raise ImproperlyConfigured("TwoFactorMiddleware doit suivre django_otp.middleware.OTPMiddleware.")
        if user.is_verified() or request.path_info.startswith(self.exempt_prefixes()):
            return None
        if user.two_factor_enabled:
            target = reverse("accounts:verify")
        elif settings.AMIABLE_REQUIRE_2FA:
            target = reverse("accounts:enrol")
        else:
            return None
        if request.method == "GET":
            target = f"{target}?{urlencode({'next': request.get_full_path()})}"
        if request.headers.get("HX-Request") == "true":
            return HttpResponseClientRedirect(target)
        return redirect(target)


class SessionTouchMiddleware:
    """Pushes back the end of a logged-in session (the idle timeout) at most once every
    AMIABLE_SESSION_TOUCH_SECONDS instead of on every request: a page that changes nothing then writes nothing
    (no session UPDATE and its transaction on each click, no SQLite write lock taken by a mere read). The idle
    timeout is thereby counted from a moment at most that many seconds before the last request.
    Placed after SessionMiddleware, so that the session it marks is saved on the way out."""

    KEY = "_touched"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.modified or session.session_key is None or SESSION_KEY not in session:
            return response  # nobody logged in, or saved anyway (login, logout, a message…)
        if int(timezone.now().timestamp()) - session.get(self.KEY, 0) >= settings.AMIABLE_SESSION_TOUCH_SECONDS:
            session_touch(session)
        return response


def session_touch(session) -> None:
    """Mark the session saved now (at login too: the login saves it, the first page need not)."""
    session[SessionTouchMiddleware.KEY] = int(timezone.now().timestamp())


class NoStoreMiddleware:
    """No browser, proxy or shared cache keeps a page or a file that may carry personal data: every response to a
    logged-in person, and every download whoever asks, says `Cache-Control: no-store, private` (merged with what
    the view set). A view whose response holds nothing personal opts out with `@cacheable`. Static files never
    reach it: WhiteNoise answers them earlier in the chain."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(response, "cacheable", False):
            return response
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or _is_download(response):
            patch_cache_control(response, no_store=True, private=True)
        return response


def _is_download(response) -> bool:
    return response.streaming or response.get("Content-Disposition", "").startswith("attachment")


def cacheable(view):
    """Let caches keep this view's responses (a page with nothing personal on it)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.cacheable = True
        return response

    return wrapped
