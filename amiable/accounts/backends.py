"""The login backend: Django's, with the user's creditor read in the same query and refused when inactive."""

from django.contrib.auth.backends import ModelBackend

from amiable.accounts.models import User


class AmiableBackend(ModelBackend):
    """A person of a deactivated creditor can neither log in nor go on with an open session: the user of every
    request is read here (with its creditor, in one query) and dropped when the creditor is inactive."""

    def user_can_authenticate(self, user) -> bool:
        if not super().user_can_authenticate(user):
            return False
        return user.creditor_id is None or user.creditor.is_active

    def get_user(self, user_id):
        try:
            user = User._default_manager.select_related("creditor").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
