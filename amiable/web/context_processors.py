"""Values every page needs: the agency's name for the header and the user's role flags."""

from django.conf import settings


def amiable(request):
    context = {"AMIABLE_PRODUCT": "Amiable", "DEBUG": settings.DEBUG}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        from amiable.notifications.selectors import unread_count

        context["unread_notifications"] = unread_count(user=user)
    return context
