"""Account pages: « Mon compte », the second factor (enrolment, verification, recovery codes), the team pages
of admins and the invitation link. Thin: parse, call one service or selector, render."""

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login

from amiable.accounts import selectors
from amiable.accounts.models import User
from amiable.accounts.services import login_lockout_lift, password_reset_throttle, user_deactivate
from amiable.accounts.services_team import (
    user_activate,
    user_invitation_resend,
    user_invite,
    user_reset_2fa,
    user_update_access,
)
from amiable.accounts.services_twofactor import (
    THROTTLED,
    WRONG_CODE,
    recovery_codes_regenerate,
    totp_device_pending,
    two_factor_confirm,
    two_factor_verify,
)
from amiable.core.exceptions import ApplicationError
from amiable.web.forms_accounts import AccessForm, EnrolForm, InviteForm, TeamFilterForm, VerifyForm
from amiable.web.qr import qr_svg_data_uri, secret_for_humans

FAILURES_KEY = "amiable_2fa_failures"
TEAM_PAGE_SIZE = 50


def _ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _next_url(request: HttpRequest) -> str:
    """Where to go once the second factor is given: the page asked for, if it is on this site."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


# --- « Mon compte » -----------------------------------------------------------------------------


@require_GET
@login_required
def account(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "accounts/account.html",
        {
            "structures": list(user.structures.order_by("code", "pk")),
            "recovery_codes_left": selectors.recovery_codes_left(user=user) if user.two_factor_enabled else 0,
        },
    )


# --- second factor --------------------------------------------------------------------------------


@never_cache  # the page holds the secret of the authenticator
@require_http_methods(["GET", "POST"])
@login_required
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    user = request.user
    next_url = _next_url(request)
    if selectors.totp_device_confirmed(user=user) is not None:
        if not user.is_verified():
            return redirect(f"{reverse('accounts:verify')}?{urlencode({'next': next_url})}")
        messages.info(request, "La double authentification est déjà activée sur votre compte.")
        return redirect("accounts:account")
    device = totp_device_pending(user=user)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_factor_confirm(user=user, code=form.cleaned_data["otp_token"])
        except ApplicationError as exc:
            form.add_error("otp_token", exc.message)
        else:
            otp_login(request, selectors.totp_device_confirmed(user=user))
            request.session.cycle_key()
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "enrolled": True, "next": next_url})
    return render(
        request,
        "accounts/enrol.html",
        {
            "form": form,
            "qr_code": qr_svg_data_uri(device.config_url),
            "secret": secret_for_humans(device.bin_key),
            "next": next_url,
            "required": settings.AMIABLE_REQUIRE_2FA,
        },
    )


@never_cache
@require_POST
@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    try:
        codes = recovery_codes_regenerate(user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:account")
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "enrolled": False})


def _too_many_failures(request: HttpRequest, credentials: dict) -> HttpResponse:
    logout(request)
    if getattr(request, "axes_locked_out", False):
        return get_lockout_response(request, None, credentials)
    messages.error(request, "Trop de codes erronés : vous avez été déconnecté. Reconnectez-vous pour réessayer.")
    return redirect(settings.LOGIN_URL)


@never_cache
@sensitive_post_parameters("otp_token")
@require_http_methods(["GET", "POST"])
def two_factor_verify_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    next_url = _next_url(request)
    if user.is_verified():
        return redirect(next_url)
    if selectors.totp_device_confirmed(user=user) is None:
        if settings.AMIABLE_REQUIRE_2FA:
            return redirect(f"{reverse('accounts:enrol')}?{urlencode({'next': next_url})}")
        if not user.two_factor_enabled:
            return redirect(next_url)
        return render(request, "accounts/verify.html", {"no_device": True})
    credentials = {"username": user.email}
    form = VerifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if AxesProxyHandler.is_locked(request, credentials):
            return _too_many_failures(request, credentials)
        result = two_factor_verify(user=user, code=form.cleaned_data["otp_token"], ip_address=_ip(request))
        if result.ok:
            otp_login(request, result.device)
            request.session.cycle_key()  # a new session key for the fully authenticated session
            request.session.pop(FAILURES_KEY, None)
            if result.recovery_codes_left is not None:
                left = result.recovery_codes_left
                messages.warning(
                    request,
                    f"Code de secours accepté : il vous en reste {left}. Générez-en de nouveaux depuis « Mon compte »"
                    " si besoin.",
                )
            return redirect(next_url)
        if result.throttled:
            form.add_error("otp_token", THROTTLED)
        else:
            failures = request.session.get(FAILURES_KEY, 0) + 1
            request.session[FAILURES_KEY] = failures
            # A wrong code counts as a failed login for the lockout (django-axes), like a wrong password.
            AxesProxyHandler.user_login_failed(sender=VerifyForm, credentials=credentials, request=request)
            if failures >= settings.AXES_FAILURE_LIMIT or getattr(request, "axes_locked_out", False):
                return _too_many_failures(request, credentials)
            form.add_error("otp_token", WRONG_CODE)
    return render(request, "accounts/verify.html", {"form": form, "next": next_url})


# --- team pages -----------------------------------------------------------------------------------


def _require_manager(request: HttpRequest) -> None:
    if not request.user.can_manage_accounts:
        raise PermissionDenied


def _member(request: HttpRequest, pk: int) -> User:
    _require_manager(request)
    try:
        return selectors.team_member_get(actor=request.user, pk=pk)
    except User.DoesNotExist as exc:
        raise Http404("Compte introuvable.") from exc


@require_GET
@login_required
def team(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    actor = request.user
    form = TeamFilterForm(request.GET or None, actor=actor) if actor.is_agency_admin else None
    creditor_slug = form.cleaned_data["creditor"] if form is not None and form.is_valid() else ""
    page = Paginator(selectors.team_list(actor=actor, creditor_slug=creditor_slug), TEAM_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "accounts/team.html", {"form": form, "page": page, "query": query.urlencode()})


@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
@login_required
def team_invite(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = InviteForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = user_invite(
                email=data["email"],
                role=data["role"],
                creditor=form.invitation_creditor(),
                structures=data["structures"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                actor=request.user,
                base_url=_base_url(request),
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Invitation envoyée à {user.email}.")
            return redirect("accounts:team")
    return render(request, "accounts/invite.html", {"form": form, "days": settings.AMIABLE_INVITATION_DAYS})


@require_http_methods(["GET", "POST"])
@login_required
def team_member(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(request, pk)
    form = AccessForm(request.POST or None, actor=request.user, member=member)
    if request.method == "POST" and form.is_valid():
        try:
            user_update_access(
                user=member,
                role=form.cleaned_data["role"],
                structures=form.cleaned_data.get("structures") or [],
                actor=request.user,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Les accès de {member} sont enregistrés.")
            return redirect("accounts:team_member", pk=member.pk)
    return render(
        request,
        "accounts/team_member.html",
        {"member": member, "form": form, "member_structures": list(member.structures.order_by("code", "pk"))},
    )


def _member_action(request: HttpRequest, pk: int, action, done: str) -> HttpResponse:
    member = _member(request, pk)
    try:
        action(member)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done.format(member=member))
    return redirect("accounts:team_member", pk=member.pk)


@require_POST
@login_required
def team_member_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _member_action(
        request, pk, lambda m: user_deactivate(user=m, actor=request.user), "Le compte de {member} est désactivé."
    )


@require_POST
@login_required
def team_member_resend(request: HttpRequest, pk: int) -> HttpResponse:
    return _member_action(
        request,
        pk,
        lambda m: user_invitation_resend(user=m, actor=request.user, base_url=_base_url(request)),
        "Une nouvelle invitation a été envoyée à {member.email}.",
    )


@require_POST
@login_required
def team_member_reset_2fa(request: HttpRequest, pk: int) -> HttpResponse:
    return _member_action(
        request,
        pk,
        lambda m: user_reset_2fa(user=m, actor=request.user),
        "La double authentification de {member} est réinitialisée : la personne l'activera à nouveau.",
    )


# --- invitation link -----------------------------------------------------------------------------


@never_cache
@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    invitee = selectors.invitation_user(uidb64=uidb64, token=token)
    if invitee is None:
        return render(request, "accounts/invitation_accept.html", {"validlink": False})
    form = SetPasswordForm(invitee, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user_activate(user=invitee, token=token, password=form.cleaned_data["new_password1"])
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Votre mot de passe est enregistré : vous pouvez vous connecter.")
            return redirect(settings.LOGIN_URL)
    return render(request, "accounts/invitation_accept.html", {"validlink": True, "form": form, "invitee": invitee})


# --- Forgotten password -------------------------------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, throttled per address and per client address: a refusal says so in French without telling
    whether the address has an account."""

    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        refusal = password_reset_throttle(email=form.cleaned_data["email"], ip_address=_ip(self.request))
        if refusal:
            form.add_error("email", refusal)
            return self.form_invalid(form)
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's; a new password chosen through the e-mailed link also lifts the lockout (the lockout page
    sends people here)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        login_lockout_lift(user=form.user, ip_address=_ip(self.request))
        return response
