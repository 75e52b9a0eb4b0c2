"""Errors services raise; views turn them into messages at the field or page."""


class ServiceError(Exception):
    """A domain rule refused the request. ``field`` names the form field it concerns.

    ``message`` is the text in the current language; ``given`` is the message as raised, which for a
    lazy string still knows its message id, so an import can keep it and show it in each reader's language.
    """

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.given = message
        self.field = field


class NotAllowed(ServiceError):
    """A state machine refused a transition."""
