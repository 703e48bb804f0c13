"""Business errors raised by services; views show their French message to the user."""


class ApplicationError(Exception):
    """A rule of the business refused the operation; `message` is French and shown as is."""

    def __init__(self, message: str, *, extra: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
