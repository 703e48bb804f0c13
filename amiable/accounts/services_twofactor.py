"""A person's own second factor (S1): enrolling an authenticator app (TOTP), checking a code after the
password, and the one-time recovery codes. The agency admin's reset is in services_team.

Kept apart from services.py (same conventions: keyword-only, atomic, audited) because these write the
django-otp device tables rather than the user row."""

import re
from dataclasses import dataclass

from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from amiable.accounts.models import User
from amiable.audit.services import audit_record
from amiable.core.exceptions import ApplicationError

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Application d'authentification"
STATIC_DEVICE_NAME = "Codes de secours"
WRONG_CODE = "Code incorrect. Vérifiez que l'heure de votre téléphone est juste et saisissez le code affiché."
THROTTLED = "Trop de codes erronés à la suite : patientez quelques secondes avant de réessayer."
ALREADY_ENROLLED = "La double authentification est déjà activée sur ce compte."


def normalise_code(code: str) -> str:
    """People copy codes with spaces or dashes, and recovery codes in capitals."""
    return re.sub(r"[\s-]", "", code or "").lower()


def totp_device_pending(*, user: User) -> TOTPDevice:
    """The authenticator being enrolled, not confirmed yet. Kept across reloads of the page, so that a QR code
    already scanned stays valid; creating it is audited (someone with the password started an enrolment)."""
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise ApplicationError(ALREADY_ENROLLED)
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        with transaction.atomic():
            device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
            audit_record(actor=user, verb="auth.2fa_enrolment_started", target=user, creditor_pk=user.creditor_id)
    return device


def _recovery_codes_replace(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=STATIC_DEVICE_NAME, confirmed=True)
    codes: set[str] = set()
    while len(codes) < RECOVERY_CODE_COUNT:
        codes.add(StaticToken.random_token())
    ordered = sorted(codes)
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in ordered])
    return ordered


def two_factor_confirm(*, user: User, code: str) -> list[str]:
    """Confirm the pending authenticator with a code it shows, and return the ten recovery codes (shown once,
    never again). Audited `auth.2fa_enrolled`."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise ApplicationError(ALREADY_ENROLLED)
        if device is None:
            raise ApplicationError("Aucune activation en cours : rechargez la page pour obtenir un QR code.")
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            raise ApplicationError(THROTTLED)
        verified = device.verify_token(normalise_code(code))
    if not verified:
        # Outside the transaction above, so that the throttling counter the failure increased is kept.
        raise ApplicationError(WRONG_CODE)
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        codes = _recovery_codes_replace(user)
        User.objects.filter(pk=user.pk).update(two_factor_enabled=True)
        user.two_factor_enabled = True
        audit_record(
            actor=user,
            verb="auth.2fa_enrolled",
            target=user,
            creditor_pk=user.creditor_id,
            before={"two_factor_enabled": False},
            after={"two_factor_enabled": True, "recovery_codes": len(codes)},
        )
    return codes


@transaction.atomic
def recovery_codes_regenerate(*, user: User) -> list[str]:
    """Replace every recovery code by ten new ones (the old ones stop working); audited."""
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise ApplicationError("Activez d'abord la double authentification.")
    before = StaticToken.objects.filter(device__user=user).count()
    codes = _recovery_codes_replace(user)
    audit_record(
        actor=user,
        verb="auth.2fa_codes_regenerated",
        target=user,
        creditor_pk=user.creditor_id,
        before={"recovery_codes": before},
        after={"recovery_codes": len(codes)},
    )
    return codes


@dataclass(frozen=True)
class Verification:
    """What a code given after the password proved: the device that accepted it, or why none did."""

    device: Device | None = None
    method: str = ""
    throttled: bool = False
    recovery_codes_left: int | None = None

    @property
    def ok(self) -> bool:
        return self.device is not None


def two_factor_verify(*, user: User, code: str, ip_address: str | None = None) -> Verification:
    """Check a 6-digit code of the authenticator, or a recovery code (which then stops working). Audits
    `auth.2fa_verified` or `auth.2fa_failed`; a refusal is returned, not raised, so that the failure and the
    device's throttling counter are committed."""
    code = normalise_code(code)
    is_totp = re.fullmatch(r"\d{6}", code) is not None
    model = TOTPDevice if is_totp else StaticDevice
    method = "totp" if is_totp else "recovery_code"
    throttled = False
    with transaction.atomic():
        for device in model.objects.filter(user=user, confirmed=True).select_for_update().order_by("pk"):
            if not device.verify_is_allowed()[0]:
                throttled = True
                continue
            if device.verify_token(code):
                left = StaticToken.objects.filter(device__user=user).count() if not is_totp else None
                audit_record(
                    actor=user,
                    verb="auth.2fa_verified",
                    target=user,
                    creditor_pk=user.creditor_id,
                    after={"method": method, **({"recovery_codes_left": left} if left is not None else {})},
                    ip_address=ip_address,
                )
                return Verification(device=device, method=method, recovery_codes_left=left)
        if throttled:
            return Verification(method=method, throttled=True)
        audit_record(
            actor=user,
            verb="auth.2fa_failed",
            target=user,
            creditor_pk=user.creditor_id,
            after={"method": method},
            ip_address=ip_address,
        )
    return Verification(method=method)
