"""Errors raised when a command breaks a funnel rule."""


class RuleViolation(Exception):
    """A refused command. ``reason`` is a full sentence for the dead-letter record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
