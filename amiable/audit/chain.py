"""The hash chain of the audit trail (S3): each event stores `hash = SHA-256(previous hash ‖ canonical content)`,
so that changing, removing or slipping in an event breaks every link after it (`manage.py verify_audit`).

The chain follows the ids. Writers append under one lock per transaction: on PostgreSQL `audit_chain_tip()`
(migration audit 0006) takes an advisory transaction lock and reads the last hash in the same query; on
SQLite the write transaction (BEGIN IMMEDIATE) already excludes the other writers. The tip is then kept on the
connection for the rest of the transaction, so that chaining costs one query per transaction, not one per
event. It is read again whenever Django's list of commit callbacks is replaced: at each commit, rollback and
rollback to a savepoint (where an event of ours may have vanished, and the lock with it)."""

import hashlib
import ipaddress
import json
from datetime import UTC
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from amiable.core.bulk import JSONText

GENESIS = "0" * 64
# The stored columns the hash covers, in the order `content` takes them (the values as the database returns them).
COLUMNS = (
    "at",
    "actor_id",
    "actor_label",
    "verb",
    "target_type",
    "target_id",
    "target_label",
    "case_pk",
    "creditor_pk",
    "before",
    "after",
    "ip_address",
)
_STATE = "_amiable_audit_chain"


def _number(text: str) -> int | float:
    # PostgreSQL prints a jsonb number without exponent: 1e+16 comes back as an integer.
    value = float(text)
    return int(value) if value.is_integer() else value


def _json(value: Any) -> Any:
    """A JSON value as stored (Django's encoder: Decimal and dates as strings, tuples as lists), read back."""
    if value is None:
        return None
    if isinstance(value, JSONText):  # encoded already: read back as the database will give it
        return json.loads(value, parse_float=_number)
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False), parse_float=_number)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _ip(value: Any) -> str | None:
    if not value:
        return None
    try:
        return ipaddress.ip_address(str(value).split("/")[0]).compressed
    except ValueError:
        return str(value)


def content(values) -> bytes:
    """The canonical bytes of an event given as the values of COLUMNS: the same for the values given to the
    insert and for those read back."""
    at, actor_id, actor_label, verb, target_type, target_id, target_label, case_pk, creditor_pk, before, after, ip = (
        values
    )
    instant = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    document = [
        instant.isoformat(timespec="microseconds"),
        _int(actor_id),
        actor_label,
        verb,
        target_type,
        str(target_id),
        target_label,
        _int(case_pk),
        _int(creditor_pk),
        _json(before),
        _json(after),
        _ip(ip),
    ]
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(previous: str, data: bytes) -> str:
    return hashlib.sha256(previous.encode() + b"\n" + data).hexdigest()


def instance_content(event) -> bytes:
    return content([getattr(event, name) for name in COLUMNS])


def read_tip(connection) -> str:
    """The hash of the last event, the chain's lock taken until the end of the transaction."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT audit_chain_tip()")
        else:
            cursor.execute("SELECT hash FROM audit_auditevent ORDER BY id DESC LIMIT 1")
        row = cursor.fetchone()
    return row[0] if row and row[0] else GENESIS


class Appender:
    """Chains the events a writer is about to insert, in the order given (that of their future ids); `done()`
    once they are inserted. Inside a transaction (the lock lasts until its end)."""

    def __init__(self):
        self.connection = transaction.get_connection()
        if not self.connection.in_atomic_block:
            raise RuntimeError("Le journal d'audit ne s'écrit que dans une transaction.")
        state = getattr(self.connection, _STATE, None)
        if state is not None and state[0] is self.connection.run_on_commit:
            self.tip = state[1]
        else:
            self.tip = read_tip(self.connection)

    def link(self, data: bytes) -> str:
        self.tip = link(self.tip, data)
        return self.tip

    def done(self) -> None:
        # Kept with the list of commit callbacks of this moment: Django replaces it at the end of the transaction
        # and at each rollback to a savepoint, which makes this tip stale.
        setattr(self.connection, _STATE, (self.connection.run_on_commit, self.tip))


def verify(rows, *, anchor: tuple[int, str] | None = None) -> dict:
    """Walk rows `(id, hash, *COLUMNS)` in id order; the first broken link, if any. Constant memory.

    `anchor` is a tip published earlier (its id and hash, kept outside the database): a chain recomputed from
    some point on, or cut off at its end, is consistent with itself, and only shows against such a tip."""
    previous = GENESIS
    checked = 0
    last_id = None
    anchor_seen = False
    for row in rows:
        pk, stored = row[0], row[1]
        expected = link(previous, content(row[2:]))
        if stored != expected:
            return {
                "ok": False,
                "reason": "broken_link",
                "checked": checked,
                "first_broken_id": pk,
                "previous_id": last_id,
                "expected_hash": expected,
                "stored_hash": stored,
            }
        if anchor is not None and pk == anchor[0]:
            if stored != anchor[1]:
                return {
                    "ok": False,
                    "reason": "anchor_changed",
                    "checked": checked,
                    "anchor_id": pk,
                    "expected_hash": anchor[1],
                    "stored_hash": stored,
                }
            anchor_seen = True
        checked += 1
        previous = stored
        last_id = pk
    if anchor is not None and not anchor_seen:
        return {"ok": False, "reason": "anchor_missing", "checked": checked, "anchor_id": anchor[0], "last_id": last_id}
    result = {"ok": True, "checked": checked, "last_id": last_id, "last_hash": previous if last_id else None}
    if anchor is not None:
        result["anchor_id"] = anchor[0]
    return result
