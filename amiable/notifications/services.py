"""Publishing notifications and sending them by e-mail (immediately when urgent, else in a daily digest)."""

import logging
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from amiable.notifications.models import Notification, NotificationPreference

logger = logging.getLogger(__name__)
FOOTER = " (vos préférences d'envoi se règlent dans le centre de notifications)"


def _preferences(user_ids: Iterable[int]) -> dict[int, NotificationPreference]:
    prefs = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=list(user_ids))}
    return defaultdict(NotificationPreference, prefs)  # defaults: both e-mails on


def notify(
    *,
    recipients,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    case_pk: int | None = None,
    urgent: bool = False,
    subject: str = "",
) -> list[Notification]:
    """Notify each active recipient once (the actor of the event is usually left out by the caller)."""
    seen, rows = set(), []
    for user in recipients:
        if user is None or not user.is_active or user.pk in seen:
            continue
        seen.add(user.pk)
        rows.append(
            Notification(
                recipient=user,
                kind=kind,
                title=title[:200],
                body=body,
                url=url,
                case_pk=case_pk,
                urgent=urgent,
                subject=subject,
            )
        )
    created = Notification.objects.bulk_create(rows)
    if urgent and created:
        ids = [n.pk for n in created]
        transaction.on_commit(lambda: send_urgent(notification_ids=ids))
    return created


def _site_url(path: str) -> str:
    return f"{settings.AMIABLE_SITE_URL.rstrip('/')}{path}" if path else settings.AMIABLE_SITE_URL


def send_urgent(*, notification_ids: list[int]) -> int:
    """E-mail urgent notifications to those who want them at once; marks them sent. The e-mail carries the
    title and a link, never the body (a comment's or a reason's text): mail travels and stays outside the app."""
    notes = list(
        Notification.objects.filter(pk__in=notification_ids, emailed_at__isnull=True).select_related("recipient")
    )
    prefs = _preferences(n.recipient_id for n in notes)
    messages, sent = [], []
    for note in notes:
        if not prefs[note.recipient_id].email_urgent:
            continue
        # The title and a link only: the body may quote a comment or a reason, which stays behind the login.
        body = f"{note.title}.\n\nPour le lire dans Amiable : {_site_url(note.url)}\n\n— Amiable{FOOTER}"
        messages.append(EmailMessage(subject=f"[Amiable] {note.title}", body=body, to=[note.recipient.email]))
        sent.append(note.pk)
    if messages:
        try:
            get_connection().send_messages(messages)
        except OSError:
            logger.exception("Envoi des notifications urgentes impossible")
            return 0
        Notification.objects.filter(pk__in=sent).update(emailed_at=timezone.now())
    return len(messages)


def send_digest(*, now=None) -> int:
    """One e-mail per person listing what was not yet e-mailed; each notification is sent once, so the
    command can run twice a day or be re-run after a crash without sending anything twice."""
    now = now or timezone.now()
    pending = (
        Notification.objects.filter(emailed_at__isnull=True, read_at__isnull=True, created_at__lte=now)
        .select_related("recipient")
        .order_by("recipient_id", "created_at", "pk")
    )
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for note in pending:
        by_user[note.recipient_id].append(note)
    prefs = _preferences(by_user)
    count = 0
    for user_id, notes in by_user.items():
        recipient = notes[0].recipient
        if not recipient.is_active or not prefs[user_id].email_digest:
            continue
        lines = [f"- {timezone.localtime(n.created_at):%d/%m %H:%M} — {n.title}\n  {_site_url(n.url)}" for n in notes]
        message = EmailMessage(
            subject=f"[Amiable] Votre récapitulatif : {len(notes)} notification(s)",
            body="Bonjour,\n\nVoici ce qui s'est passé sur vos dossiers :\n\n" + "\n".join(lines) + "\n\n— Amiable",
            to=[recipient.email],
        )
        try:
            message.send()
        except OSError:
            logger.exception("Récapitulatif non envoyé à %s", recipient.email)
            continue
        Notification.objects.filter(pk__in=[n.pk for n in notes]).update(emailed_at=timezone.now())
        count += 1
    return count


def notification_mark_read(*, user, notification_ids: Iterable[int] | None = None) -> int:
    """Mark some (or all) of a person's notifications read."""
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=list(notification_ids))
    return qs.update(read_at=timezone.now())


def notifications_withdraw(*, subjects: Iterable[str]) -> int:
    """Withdraw the unread notices about things that were cancelled (a creditor's request on a recalled case):
    they are marked read, so that they leave the unread count and the daily digest, and nobody is asked to act
    on them; the notice stays in the history."""
    subjects = [s for s in subjects if s]
    if not subjects:
        return 0
    return Notification.objects.filter(subject__in=subjects, read_at__isnull=True).update(read_at=timezone.now())


def preference_save(*, user, email_urgent: bool, email_digest: bool) -> NotificationPreference:
    pref, _ = NotificationPreference.objects.update_or_create(
        user=user, defaults={"email_urgent": email_urgent, "email_digest": email_digest}
    )
    return pref
