"""Values every page needs: the unread-notification badge of the navigation."""

from amiable.notifications.selectors import unread_count


class _Counted:
    """The count, read on first use only: the template calls it (a callable context value), so a page whose
    navigation shows no badge reads nothing, and one that shows it twice reads it once. A view may put its own
    figure under the same name (the home page already counted it for « ce qui m'attend »)."""

    def __init__(self, user):
        self.user = user
        self.value = None

    def __call__(self) -> int:
        if self.value is None:
            self.value = unread_count(user=self.user)
        return self.value


def amiable(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": _Counted(user)}
