"""Participants, comparison pools and enrolments: register people and enrol them in a cohort and arm."""

from __future__ import annotations

import numpy as np
import pandas as pd

from contracts.model import EligibilityRule
from language import Message
from outcomes.checks import ID, TRUE_WORDS, Context, FileCheck, Prepared, RowError, date_text, errors_where, not_a_date
from outcomes.messages import TEXTS as O
from outcomes.values import number_problem, parse_dates, parse_numbers


def _rule_text(rule: EligibilityRule) -> Message:
    if rule.op == "between":
        return O("rule_between", attribute=rule.attribute, low=str(rule.value[0]), high=str(rule.value[1]))
    if rule.op == "in":
        return O("rule_in", attribute=rule.attribute, values=", ".join(map(str, rule.value)))
    return O("rule_op", attribute=rule.attribute, op=rule.op.replace("_", " "), value=str(rule.value))


def _plain(value: object) -> object:
    """A typed attribute value as JSON can hold it (numpy scalars to Python)."""
    return value.item() if hasattr(value, "item") else value


def _passes(values: pd.Series, rule: EligibilityRule) -> pd.Series:
    present = values.notna()
    if rule.op == "in":
        return present & values.astype(str).isin([str(v) for v in rule.value])
    if rule.op == "equals":
        return present & (values.astype(str) == str(rule.value))
    numbers = pd.to_numeric(values, errors="coerce")
    if rule.op == "between":
        low, high = (float(v) for v in rule.value)
        return (numbers >= low) & (numbers <= high)
    if rule.op == "at_least":
        return numbers >= float(rule.value)
    return numbers <= float(rule.value)


class EnrolmentColumns:
    """start, exit, arm and cohort (derived from the start date when not given)."""

    def __init__(self, ctx: Context, default_arm: str, arms: tuple[str, ...], cohort_required: bool):
        self.ctx, self.default_arm, self.arms, self.cohort_required = ctx, default_arm, arms, cohort_required

    def parse(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[RowError]]:
        contract, fmt = self.ctx.contract, self.ctx.mapping.date_format
        errors: list[RowError] = []
        start, bad_start = parse_dates(frame["start"], fmt)
        errors += errors_where(frame["start"] == "", "start", O("start_empty"))
        errors += errors_where(bad_start, "start", lambda r: not_a_date(frame["start"][r], fmt), frame["start"])
        term = contract.term
        outside = start.notna() & ((start < pd.Timestamp(term.start)) | (start > pd.Timestamp(term.end)))
        errors += errors_where(outside, "start",
                               lambda r: O("outside_term", date=date_text(start[r]), start=str(term.start),
                                           end=str(term.end)))
        ahead = start.notna() & ~outside & (start > pd.Timestamp(self.ctx.today))
        errors += errors_where(ahead, "start", lambda r: O("in_future", date=date_text(start[r])))

        exit_text = frame["exit"] if "exit" in frame.columns else pd.Series("", index=frame.index)
        exit_, bad_exit = parse_dates(exit_text, fmt)
        errors += errors_where(bad_exit, "exit", lambda r: not_a_date(exit_text[r], fmt),
                               exit_text)
        errors += errors_where(exit_ < start, "exit",
                               lambda r: O("exit_before_start", date=date_text(exit_[r]), start=date_text(start[r])))

        arm = frame["arm"].str.lower() if "arm" in frame.columns else pd.Series(self.default_arm, index=frame.index)
        arm = arm.where(arm != "", self.default_arm)
        errors += errors_where(~arm.isin(self.arms), "arm",
                               lambda r: O("not_allowed", value=arm[r], allowed=", ".join(self.arms)), arm)

        derived = pd.Series(None, index=frame.index, dtype=object)
        for c in contract.cohorts:
            derived[(start >= pd.Timestamp(c.enrolment_start)) & (start <= pd.Timestamp(c.enrolment_end))] = c.id
        cohort_ids = [c.id for c in contract.cohorts]
        if "cohort" in frame.columns:
            given = frame["cohort"]
            unknown = (given != "") & ~given.isin(cohort_ids)
            errors += errors_where(unknown, "cohort", lambda r: O("not_a_cohort", value=given[r],
                                                                   cohorts=", ".join(cohort_ids)),
                                   given)
            mismatch = (given != "") & given.isin(cohort_ids) & start.notna() & (derived != given)
            errors += errors_where(mismatch, "cohort", lambda r: O(
                "outside_cohort_window", date=date_text(start[r]), cohort=given[r],
                start=str(contract.cohort(given[r]).enrolment_start), end=str(contract.cohort(given[r]).enrolment_end)))
            cohort = pd.Series(np.where(given != "", given, derived), index=frame.index, dtype=object)
        else:
            cohort = derived
        if self.cohort_required:
            no_cohort = start.notna() & ~outside & cohort.isna()
            errors += errors_where(no_cohort, "start",
                                   lambda r: O("outside_every_window", date=date_text(start[r])))
        cohort = cohort.where(cohort.notna(), None)
        provider, provider_errors = self._provider(frame)
        errors += provider_errors
        return pd.DataFrame({"cohort": cohort, "arm": arm, "start": start, "exit": exit_, "provider": provider}), errors

    def _provider(self, frame: pd.DataFrame) -> tuple[pd.Series, list[RowError]]:
        """Who delivers the intervention to each person: the file's ``provider`` column (a provider party of the
        contract), or the delivering provider; a provider cannot enrol people with another provider."""
        own = self.ctx.provider
        given = frame["provider"] if "provider" in frame.columns else pd.Series("", index=frame.index)
        providers = [p.id for p in self.ctx.contract.parties if p.role == "provider"]
        errors = errors_where((given != "") & ~given.isin(providers), "provider",
                              lambda r: O("not_a_provider", value=given[r], providers=", ".join(providers) or "—"),
                              given)
        if own is not None:
            errors += errors_where((given != "") & (given != own) & given.isin(providers), "provider",
                                   lambda r: O("another_provider", value=given[r], provider=own), given)
        chosen = given.where(given != "", own if own is not None else "")
        return chosen.where(chosen != "", None), errors


class PeopleCheck(FileCheck):
    """participants (treatment or control arm) and comparison (pool) files: register and enrol."""

    def __init__(self, ctx: Context, kind: str):
        super().__init__(ctx)
        self.kind = kind
        self.attributes = [a.name for a in ctx.contract.target_group.attributes]
        self.required = (ID, "start", *self.attributes)
        self.optional = ("cohort", "exit") if kind == "comparison" else ("cohort", "arm", "exit", "provider")
        pool = kind == "comparison"
        self.enrol = EnrolmentColumns(ctx, "comparison" if pool else "treatment",
                                      ("comparison",) if pool else ("treatment", "control"), cohort_required=not pool)
        self.first_row: dict[str, int] = {}

    def _attributes(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[RowError], set[int]]:
        errors: list[RowError] = []
        typed = pd.DataFrame(index=frame.index)
        for spec in self.contract.target_group.attributes:
            text = frame[spec.name]
            if spec.type in ("integer", "number"):
                decimal, thousands = self.ctx.mapping.decimal, self.ctx.mapping.thousands
                values, bad = parse_numbers(text, decimal, thousands)
                errors += errors_where(bad, spec.name, lambda r, t=text: number_problem(t[r], decimal, thousands), text)
                if spec.type == "integer":
                    fractional = values.notna() & (values != values.round())
                    errors += errors_where(fractional, spec.name, lambda r, t=text: O("not_whole", value=t[r]), text)
                as_python = int if spec.type == "integer" else float
                typed[spec.name] = pd.Series([as_python(v) if v == v else None for v in values.tolist()],
                                             index=text.index, dtype=object)
            elif spec.type == "category":
                allowed = spec.values or []
                bad = (text != "") & ~text.isin(allowed)
                errors += errors_where(bad, spec.name, lambda r, t=text, a=allowed: O("not_allowed", value=t[r],
                                                                                    allowed=", ".join(a)), text)
                typed[spec.name] = pd.Series([v if v else None for v in text.tolist()], index=text.index, dtype=object)
            elif spec.type == "boolean":
                lowered = text.str.lower()
                bad = (text != "") & ~lowered.isin(list(TRUE_WORDS))
                errors += errors_where(bad, spec.name, lambda r, t=text: O("not_boolean", value=t[r]),
                                       text)
                typed[spec.name] = pd.Series([TRUE_WORDS.get(v) for v in lowered.tolist()], index=text.index, dtype=object)
            else:
                values, bad = parse_dates(text, self.ctx.mapping.date_format)
                errors += errors_where(bad, spec.name, lambda r, t=text: not_a_date(t[r], self.ctx.mapping.date_format),
                                       text)
                typed[spec.name] = pd.Series([None if pd.isna(v) else v.date().isoformat() for v in values],
                                             index=text.index, dtype=object)
        return typed, errors, {e.row for e in errors}

    def check(self, frame: pd.DataFrame) -> tuple[Prepared, list[RowError]]:
        frame, errors = self._cells(frame)
        identity = self._identify(frame[ID])
        pseudonyms, derived = identity.pseudonyms, identity.derived
        errors += identity.errors
        present = pseudonyms != ""
        again = present & pseudonyms.isin(list(self.first_row))
        errors += errors_where(again, ID, lambda r: O("duplicate_participant", row=int(self.first_row[pseudonyms[r]])))
        within = present & ~again & pseudonyms.duplicated(keep="first")
        first_here = pseudonyms[present & ~again & ~within]
        self.first_row.update(zip(first_here, first_here.index.astype(int)))
        errors += errors_where(within, ID, lambda r: O("duplicate_participant", row=int(self.first_row[pseudonyms[r]])))
        known = present & identity.participants(self.ctx.store).notna()
        errors += errors_where(known, ID, O("already_registered"))
        typed, attribute_errors, bad_rows = self._attributes(frame)
        errors += attribute_errors
        enrol, enrol_errors = self.enrol.parse(frame)
        errors += enrol_errors
        for rule in self.contract.target_group.eligibility:
            values = typed[rule.attribute]
            fails = ~_passes(values, rule) & ~typed.index.isin(list(bad_rows))
            text = _rule_text(rule).as_dict()
            errors += errors_where(fails, rule.attribute, lambda r, v=values, t=text: (
                O("not_eligible_missing", rule=t) if v[r] is None else O("not_eligible", value=_plain(v[r]), rule=t)))
        participants = pd.concat([pd.DataFrame({"pseudonym": pseudonyms}), derived], axis=1).assign(
            attributes=typed.to_dict(orient="records"))
        self.counts["participants"] = self.counts.get("participants", 0) + len(frame)
        self.counts["enrolments"] = self.counts.get("enrolments", 0) + len(frame)
        return Prepared(participants=participants, enrolments=enrol.assign(pseudonym=pseudonyms)), errors


class EnrolmentCheck(FileCheck):
    """Enrolments of participants registered earlier."""

    kind = "enrolments"
    required = (ID, "start")
    optional = ("cohort", "arm", "exit", "provider")

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.enrol = EnrolmentColumns(ctx, "treatment", ("treatment", "control", "comparison"), cohort_required=False)
        self.seen: dict[str, int] = {}

    def check(self, frame: pd.DataFrame) -> tuple[Prepared, list[RowError]]:
        frame, errors = self._cells(frame)
        _, participant, unknown = self._registered(frame[ID])
        errors += unknown
        enrol, enrol_errors = self.enrol.parse(frame)
        errors += enrol_errors
        self.counts["enrolments"] = self.counts.get("enrolments", 0) + len(frame)
        return Prepared(enrolments=enrol.assign(participant_id=participant)), errors
