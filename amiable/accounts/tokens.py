"""One-time invitation links. Like password-reset links, the token covers the password hash, so it dies as
soon as the invitee chooses a password (or an invitation is sent again); its own salt keeps a reset link
from being accepted as an invitation and the reverse; it expires after AMIABLE_INVITATION_DAYS."""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "amiable.accounts.tokens.InvitationTokenGenerator"

    def timeout_seconds(self) -> int:
        return settings.AMIABLE_INVITATION_DAYS * 24 * 60 * 60

    def _make_hash_value(self, user, timestamp) -> str:
        return f"{super()._make_hash_value(user, timestamp)}{user.is_active}"

    def check_token(self, user, token) -> bool:
        # Django's check reads PASSWORD_RESET_TIMEOUT (two hours); an invitation lives for days.
        if not (user and token):
            return False
        try:
            ts_b36, _ = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return False
        return (self._num_seconds(self._now()) - ts) <= self.timeout_seconds()


invitation_token_generator = InvitationTokenGenerator()
