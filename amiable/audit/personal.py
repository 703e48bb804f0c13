"""Personal data in the append-only audit trail, made erasable by crypto-shredding (L11, C26).

The trail keeps what debtors' records said before and after each change (names, addresses, phones, e-mails,
comments, call notes…). It is append-only, so these values cannot be blanked at the end of a contract.
Instead, `audit_record` stores the values of the keys listed in `PERSONAL_KEYS` (and the label of a target
that names a debtor) encrypted with a data key:

- the key of the case's creditor for any event on a case;
- the key of the debtor for what is recorded of a debtor or a contact point (outside a case: a debtor is
  created before their first case).

Anything else (statuses, amounts, ids, numbers, dates) stays clear, so that the JSON queries on the trail
(`after__status`…) keep working. A `reason` is typed text (a status change's, a reopening's, a revocation's…)
and is encrypted, unless it is one of the codes an app declares with `register_clear_codes` (the closure's «
insolvency », « deceased »…): a code names no one and its label must stay readable after an erasure. An
encrypted value is a string `enc:v1:<key id>:<token>` (AES-256-GCM). The data keys are stored wrapped by the
key-encryption key of the settings (`AMIABLE_AUDIT_KEY`). Reading the trail decrypts through `reveal` (done by
the audit queryset itself); once a key is destroyed (`keys_destroy`, at the erasure of a creditor's data) its
values read « [donnée effacée] ».
"""

import base64
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from amiable.audit.models import PersonalDataKey

PREFIX = "enc:v1:"
ERASED = "[donnée effacée]"

# The keys of `before`/`after` whose values are debtors' personal data, whichever app writes them: read from
# every call of audit_record (and the intake's bulk `case.created` events). A new call that records personal
# data under another key must add it here (tests/audit/test_personal_data.py checks the known ones).
PERSONAL_KEYS = frozenset(
    {
        # identity
        "civility",
        "last_name",
        "first_name",
        "birth_date",
        # contact points (a point's display, its value as received, an address and its lines)
        "display",
        "value",
        "raw_value",
        "line1",
        "line2",
        "postal_code",
        "city",
        "address",
        "address_lines",
        "contacts",
        "to",
        "emailed_to",
        "email",
        "phone",
        # free texts about the debtor or the claim
        "body",
        "comment",
        "notes",
        "details",
        "summary",
        "text",
        "subject",
        "proposal",
        "answer",
        "evidence",
        "sources",
        "result",
        "error",
        # a payment's bank or cheque reference may name the payer
        "reference",
        # reasons and notes typed by a person: a status change's, a reopening's, a revocation's, a suspension
        # lifted, a payment in cash above the limit, a document return's note, a meeting's minutes
        "reason",
        "note",
        "cash_reason",
        "minutes",
    }
)

# Values of a personal key that are codes, not text: kept clear (`register_clear_codes`).
_clear_codes: dict[str, frozenset[str]] = {}


def register_clear_codes(key: str, codes) -> None:
    """Declare code values of a personal key that stay clear (an app's `AppConfig.ready()`): e.g. the closure's
    irrecoverable reasons recorded under `reason`."""
    _clear_codes[key] = _clear_codes.get(key, frozenset()) | frozenset(codes)


def _sealed(name: str, value: Any) -> bool:
    """Whether a value of `before`/`after` is stored encrypted."""
    if name not in PERSONAL_KEYS or value in (None, "", [], {}) or is_encrypted(value):
        return False
    return not (isinstance(value, str) and value in _clear_codes.get(name, ()))


# Targets whose label (`str(target)`) names or reaches a debtor: « Mme DUPONT Marie », « 12 rue … »,
# « E-mail à marie@… », « Appel — … ».
PERSONAL_LABEL_TYPES = frozenset(
    {"cases.debtor", "cases.contactpoint", "contact.outboxmessage", "cases.action", "contact.callrecord"}
)
# Targets recorded under the debtor's own key.
DEBTOR_TYPES = frozenset({"cases.debtor", "cases.contactpoint"})
# Creditor-wide records on no case whose typed text may still name a debtor (a meeting request, a meeting's
# minutes): sealed with the creditor's key, so that the erasure makes them unreadable too.
CREDITOR_TEXT_TYPES = frozenset({"creditor_requests.creditorrequest", "reporting.followupmeeting"})
# Targets of the creditor's own settings and staff: their events stay clear outside a case.
AGENCY_TYPES = ("creditors.", "accounts.")

# Finds the creditor of a case from its id; registered by the cases app (which sits above audit).
CaseCreditor = Callable[[int], int | None]
_case_creditor: CaseCreditor | None = None


def register_case_creditor(resolver: CaseCreditor) -> None:
    """Declare how to find the creditor of a case (`CasesConfig.ready()`)."""
    global _case_creditor
    _case_creditor = resolver


def _kek() -> AESGCM:
    secret = getattr(settings, "AMIABLE_AUDIT_KEY", "")
    if not secret:
        raise ImproperlyConfigured("AMIABLE_AUDIT_KEY est obligatoire : clé de chiffrement du journal d'audit.")
    return AESGCM(hashlib.sha256(secret.encode()).digest())


def _scope_aad(key: PersonalDataKey) -> bytes:
    return f"amiable-audit-key:{key.creditor_pk or ''}:{key.debtor_pk or ''}".encode()


def _unwrap(key: PersonalDataKey) -> bytes | None:
    wrapped = bytes(key.wrapped or b"")
    if key.destroyed_at is not None or not wrapped:
        return None
    return _kek().decrypt(wrapped[:12], wrapped[12:], _scope_aad(key))


def _live_key(*, creditor_pk: int | None = None, debtor_pk: int | None = None) -> tuple[int, bytes]:
    """The live data key of a creditor or a debtor, made on first use (a destroyed key is replaced)."""
    scope = {"creditor_pk": creditor_pk} if creditor_pk is not None else {"debtor_pk": debtor_pk}
    key = PersonalDataKey.objects.filter(destroyed_at__isnull=True, **scope).first()
    if key is None:
        data = AESGCM.generate_key(bit_length=256)
        key = PersonalDataKey(**scope)
        nonce = os.urandom(12)
        key.wrapped = nonce + _kek().encrypt(nonce, data, _scope_aad(key))
        try:
            with transaction.atomic():
                key.save()
        except IntegrityError:  # made at the same moment by another transaction
            key = PersonalDataKey.objects.get(destroyed_at__isnull=True, **scope)
        else:
            return key.pk, data
    return key.pk, _unwrap(key)


def _aad(key_pk: int) -> bytes:
    return f"amiable-audit:v1:{key_pk}".encode()


def _encrypt(value: Any, key_pk: int, data_key: bytes, cipher: AESGCM | None = None) -> str:
    plain = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False).encode()
    nonce = os.urandom(12)
    cipher = cipher or AESGCM(data_key)
    token = base64.urlsafe_b64encode(nonce + cipher.encrypt(nonce, plain, _aad(key_pk))).decode()
    return f"{PREFIX}{key_pk}:{token}"


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def _key_id(value: str) -> int | None:
    ident = value[len(PREFIX) :].split(":", 1)[0]
    return int(ident) if ident.isdigit() else None


def _has_personal(data: dict | None) -> bool:
    return bool(data) and any(_sealed(name, value) for name, value in data.items())


def scope_of(*, target: Any, target_type: str, case_pk: int | None, creditor_pk: int | None) -> dict | None:
    """Whose key protects an event: the debtor's for a debtor or a contact point, the creditor's for
    anything on a case or naming the creditor (a meeting request); None for the agency's own business
    (users, creditors' settings, bank statements…)."""
    if target_type in DEBTOR_TYPES:
        debtor_pk = target.pk if target_type == "cases.debtor" else getattr(target, "debtor_id", None)
        if debtor_pk is not None:
            return {"debtor_pk": debtor_pk}
    if case_pk is None:
        if target_type not in CREDITOR_TEXT_TYPES:
            return None
        creditor_pk = creditor_pk if creditor_pk is not None else getattr(target, "creditor_id", None)
        return {"creditor_pk": creditor_pk} if creditor_pk is not None else None
    if creditor_pk is None and hasattr(target, "case_id"):
        creditor_pk = getattr(target.case, "creditor_id", None)
    if creditor_pk is None and _case_creditor is not None:
        creditor_pk = _case_creditor(case_pk)
    return {"creditor_pk": creditor_pk} if creditor_pk is not None else None


def protect(
    *,
    scope: dict | None,
    target_type: str,
    target_label: str,
    before: dict | None,
    after: dict | None,
    keys: dict | None = None,
) -> tuple[str, dict | None, dict | None]:
    """The label, before and after of an event as stored: personal values encrypted under the scope's key.
    `keys`: a cache of the keys already read, for many events written at once (`audit_record_many`)."""
    personal_label = target_type in PERSONAL_LABEL_TYPES and bool(target_label)
    if scope is None or not (personal_label or _has_personal(before) or _has_personal(after)):
        return target_label, before, after
    cipher = None
    if keys is None:
        key_pk, data_key = _live_key(**scope)
    else:
        cached = tuple(sorted(scope.items()))
        if cached not in keys:
            keys[cached] = _live_key(**scope)
        key_pk, data_key = keys[cached]
        # One key schedule per key for all the events written at once, not one per value.
        cipher = keys.get(("cipher", key_pk))
        if cipher is None:
            cipher = keys[("cipher", key_pk)] = AESGCM(data_key)

    def seal(data: dict | None) -> dict | None:
        if not data:
            return data
        return {
            name: _encrypt(value, key_pk, data_key, cipher) if _sealed(name, value) else value
            for name, value in data.items()
        }

    label = _encrypt(target_label, key_pk, data_key, cipher) if personal_label else target_label
    return label, seal(before), seal(after)


class Sealer:
    """Encrypts the personal values of many events of one creditor with one key read (bulk inserts)."""

    def __init__(self, *, creditor_pk: int, key: tuple[int, bytes] | None = None):
        self.key_pk, self._data_key = key or _live_key(creditor_pk=creditor_pk)
        self._cipher = AESGCM(self._data_key)  # one key schedule for all the events, not one per value

    @classmethod
    def existing(cls, *, creditor_pk: int) -> "Sealer | None":
        """A sealer with the creditor's live key if there is one, None otherwise: it never makes a key, so that
        work done ahead of a transaction (the intake's, on SQLite) writes nothing."""
        key = PersonalDataKey.objects.filter(destroyed_at__isnull=True, creditor_pk=creditor_pk).first()
        return None if key is None else cls(creditor_pk=creditor_pk, key=(key.pk, _unwrap(key)))

    def seal(self, data: dict) -> dict:
        return {
            name: _encrypt(value, self.key_pk, self._data_key, self._cipher) if _sealed(name, value) else value
            for name, value in data.items()
        }


# --- reading -------------------------------------------------------------------------------------------


def _tokens(event) -> Iterable[str]:
    if is_encrypted(event.target_label):
        yield event.target_label
    for data in (event.before, event.after):
        if isinstance(data, dict):
            yield from (value for value in data.values() if is_encrypted(value))


def _decrypt(value: str, keys: dict[int, bytes | None]) -> Any:
    key_pk = _key_id(value)
    data_key = keys.get(key_pk) if key_pk is not None else None
    if data_key is None:
        return ERASED
    raw = base64.urlsafe_b64decode(value[len(PREFIX) :].split(":", 1)[1])
    try:
        plain = AESGCM(data_key).decrypt(raw[:12], raw[12:], _aad(key_pk))
    except InvalidTag:
        return ERASED
    return json.loads(plain)


def reveal(events: Iterable) -> None:
    """Decrypt, in place, the personal values of audit events (one query for all their keys); the values of a
    destroyed key read « [donnée effacée] ». The one way the application reads the trail's personal data."""
    events = list(events)
    wanted = {_key_id(token) for event in events for token in _tokens(event)} - {None}
    if not wanted:
        return
    keys = {key.pk: _unwrap(key) for key in PersonalDataKey.objects.filter(pk__in=wanted)}
    for event in events:
        if is_encrypted(event.target_label):
            event.target_label = str(_decrypt(event.target_label, keys))
        for name in ("before", "after"):
            data = getattr(event, name)
            if isinstance(data, dict) and any(is_encrypted(v) for v in data.values()):
                setattr(event, name, {k: _decrypt(v, keys) if is_encrypted(v) else v for k, v in data.items()})


def reveal_value(value: Any) -> Any:
    """One stored value, decrypted (for a value read with `.values()`)."""
    if not is_encrypted(value):
        return value
    key = PersonalDataKey.objects.filter(pk=_key_id(value)).first()
    return _decrypt(value, {key.pk: _unwrap(key)} if key else {})


# --- erasure -------------------------------------------------------------------------------------------


def keys_destroy(*, creditor_pk: int, debtor_pks: Iterable[int] = ()) -> int:
    """Destroy the data keys of a creditor and of some debtors: the events stay, their personal values can
    never be read again. The key rows remain (emptied, dated) as the proof of the destruction."""
    from django.db.models import Q

    debtor_pks = list(debtor_pks)
    live = PersonalDataKey.objects.filter(destroyed_at__isnull=True)
    condition = Q(creditor_pk=creditor_pk)
    count = live.filter(condition).update(wrapped=b"", destroyed_at=timezone.now())
    for start in range(0, len(debtor_pks), 500):
        chunk = debtor_pks[start : start + 500]
        count += live.filter(debtor_pk__in=chunk).update(wrapped=b"", destroyed_at=timezone.now())
    return count
