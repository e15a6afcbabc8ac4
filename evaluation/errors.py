"""Errors of the evaluation package that a user can act on (kept light: the CLI imports this at start-up)."""

from language import MessageError


class UnknownRun(MessageError, LookupError):
    """No evaluation run with that id."""
