"""The kinds of delivered file and the checker for each: the registry, kept apart from the shared base.

``outcomes.checks`` holds what every kind shares; ``outcomes.people``, ``outcomes.measurements`` and
``outcomes.surveys`` build on it; this module names the kinds and picks a checker, so no module of the
three needs to import back the one that chooses among them.
"""

from __future__ import annotations

from outcomes import KINDS
from outcomes.checks import Context, FileCheck
from outcomes.measurements import MeasurementCheck
from outcomes.people import EnrolmentCheck, PeopleCheck
from outcomes.surveys import SurveyCheck

__all__ = ["KINDS", "checker"]


def checker(kind: str, ctx: Context, columns: list[str]) -> FileCheck:
    """The checker for a kind of file."""
    if kind in ("participants", "comparison"):
        return PeopleCheck(ctx, kind)
    if kind == "enrolments":
        return EnrolmentCheck(ctx)
    if kind == "measurements":
        return MeasurementCheck(ctx)
    return SurveyCheck(ctx, columns)
