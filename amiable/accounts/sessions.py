"""Ending people's open sessions at once (a deactivated creditor's staff, a closed account): the login backend
already refuses them on their next request; deleting the sessions also leaves nothing to reuse."""

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.utils import timezone


def sessions_end(*, user_ids) -> int:
    """Delete the live sessions of these users; returns how many. Sessions carry the user only inside their
    encoded data, so the live ones are read one by one: they are few (staff only, 30 minutes idle)."""
    wanted = {str(pk) for pk in user_ids}
    if not wanted:
        return 0
    doomed = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator(chunk_size=500)
        if str(session.get_decoded().get(SESSION_KEY)) in wanted
    ]
    deleted, _ = Session.objects.filter(session_key__in=doomed).delete()
    return deleted
