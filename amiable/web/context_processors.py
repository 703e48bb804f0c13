"""Values every page needs: the unread-notification badge of the navigation."""

from amiable.notifications.selectors import unread_count


def amiable(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": unread_count(user=user)}
