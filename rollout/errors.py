"""Errors services raise; views turn them into messages at the field or page."""


class ServiceError(Exception):
    """A domain rule refused the request. ``field`` names the form field it concerns."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


class NotAllowed(ServiceError):
    """A state machine refused a transition."""
