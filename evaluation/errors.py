"""Errors of the evaluation package that a user can act on (kept light: the CLI imports this at start-up)."""


class UnknownRun(LookupError):
    """No evaluation run with that id."""
