"""Values every page needs: the agency's name for the header and the user's role flags."""

from django.conf import settings


def amiable(request):
    return {"AMIABLE_PRODUCT": "Amiable", "DEBUG": settings.DEBUG}
