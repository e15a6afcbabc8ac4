"""Survey answers: one row per answer sheet, with the instrument's rules; anonymous answers kept apart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from contracts import instruments
from contracts.instruments import REFERENCE_PERIODS, Question
from contracts.model import Metric
from outcomes.checks import ID, Context, FileCheck, Prepared, RowError, date_text, errors_where, metric_days, not_a_date
from outcomes.messages import TEXTS as O
from outcomes.measurements import value_errors, window_errors
from outcomes.values import free_text, number_problem, parse_dates, parse_numbers


class SurveyCheck(FileCheck):
    """One row per answer sheet, one column per survey metric (by metric id); blank means not answered."""

    kind = "survey"

    def __init__(self, ctx: Context, columns: list[str]):
        super().__init__(ctx)
        self.survey = [m for m in ctx.contract.metrics if m.instrument is not None or m.kind == "ordinal"]
        self.answered = [m for m in self.survey if m.id in columns]
        self.anonymous = bool(self.answered) and all(m.anonymous for m in self.answered)
        self.changes = [m for m in self.answered if m.instrument and _question(m).asks_about_change]
        self.required = ("date",) if self.anonymous else (ID, "date")
        self.optional = tuple(m.id for m in self.survey) + ("refers_to", "source") + (
            ("unit", "age_band", "sex") if self.anonymous else ())
        self.first_row: dict[tuple[str, int], int] = {}

    def header_errors(self, columns: list[str]) -> list[RowError]:
        if not self.answered:
            expected = ", ".join(m.id for m in self.survey)
            return [RowError(1, "", O("no_answer_columns", expected=expected) if expected else O("no_survey_questions"))]
        mixed = {m.anonymous for m in self.answered}
        if len(mixed) > 1:
            return [RowError(1, "", O("mixed_anonymous"))]
        errors = super().header_errors(columns)
        if self.anonymous and ID in columns:
            errors.append(RowError(1, ID, O("anonymous_linked")))
        if self.changes and "refers_to" not in columns:
            errors.append(RowError(1, "refers_to", O("refers_to_missing", periods=" or ".join(REFERENCE_PERIODS))))
        return [e for e in errors if not (e.column == ID and e.message.code == "outcomes.unknown_column" and self.anonymous)]

    def check(self, frame: pd.DataFrame) -> tuple[Prepared, list[RowError]]:
        frame, errors = self._cells(frame)
        fmt = self.ctx.mapping.date_format
        answered_on, bad_dates = parse_dates(frame["date"], fmt)
        errors += errors_where(bad_dates | (frame["date"] == ""), "date",
                               lambda r: not_a_date(frame["date"][r], fmt), frame["date"])
        errors += errors_where(answered_on > pd.Timestamp(self.ctx.today), "date",
                               lambda r: O("in_future", date=date_text(answered_on[r])))
        refers_to = frame["refers_to"].str.lower() if "refers_to" in frame.columns else pd.Series("", index=frame.index)
        if self.changes:
            errors += errors_where(~refers_to.isin(REFERENCE_PERIODS), "refers_to", lambda r: O(
                "not_allowed", value=frame["refers_to"][r], allowed=", ".join(REFERENCE_PERIODS)),
                frame["refers_to"])
        participant = pd.Series(np.nan, index=frame.index)
        if not self.anonymous:
            identity, participant, unknown = self._registered(frame[ID])
            errors += unknown
            errors += self._repeated(identity.pseudonyms, answered_on)
        answers: dict[str, pd.Series] = {}
        parts, dont_know = [], 0
        for metric in self.answered:
            text = frame[metric.id]
            recode = self.ctx.mapping.recode.get(metric.id)
            if recode:  # the supplier's codes to the instrument's (the batch records the mapping)
                text = text.map(lambda v, r=recode: str(r[v]) if v in r else v)
            decimal, thousands = self.ctx.mapping.decimal, self.ctx.mapping.thousands
            values, bad = parse_numbers(text, decimal, thousands)
            errors += errors_where(bad, metric.id, lambda r, t=text: number_problem(t[r], decimal, thousands), text)
            checked, found = value_errors(values, text, metric, metric.id)
            errors += found
            answers[metric.id] = values
            given = text != ""
            dont_know += int((given & checked.isna() & ~bad).sum())
            qualifier = refers_to.where(refers_to != "", None) if metric in self.changes else None
            instrument = instruments.get(metric.instrument, metric.instrument_version) if metric.instrument else None
            parts.append(pd.DataFrame({
                "participant_id": participant[given], "metric": metric.id, "observed_on": answered_on[given],
                "value": checked[given], "qualifier": qualifier[given] if qualifier is not None else None,
                "instrument": instrument.id if instrument else None,
                "instrument_version": instrument.version if instrument else None,
            }))
        errors += self._conditional(answers)
        if not self.anonymous:
            for part in parts:
                errors += window_errors(self.ctx, self.answered, part["participant_id"], part["observed_on"], part["metric"])
        rows = pd.concat(parts) if parts else pd.DataFrame()
        self.counts["answers"] = self.counts.get("answers", 0) + len(rows)
        self.counts["dont_know"] = self.counts.get("dont_know", 0) + dont_know
        if self.anonymous:
            unit = frame["unit"] if "unit" in frame.columns else pd.Series("", index=frame.index)
            rows = rows.drop(columns=["participant_id"]).rename(columns={"observed_on": "answered_on"})
            rows["unit"] = free_text(unit.reindex(rows.index))
            org = self.ctx.store.organisation
            if org is not None and "unit" in frame.columns:
                years = answered_on.dt.year
                placed = pd.Series([u == "" or pd.isna(y) or org.placement(u.strip(), int(y)) is not None
                                    for u, y in zip(unit, years)], index=frame.index)
                errors += errors_where(~placed, "unit", lambda r: O(
                    "frame_unknown_unit", unit=unit[r], organisation=org.id, year=str(int(years[r]))), unit)
            bands, sexes, found = _age_and_sex(frame)
            errors += found
            rows["age_band"], rows["sex"] = bands.reindex(rows.index), sexes.reindex(rows.index)
            return Prepared(answers=rows), errors
        return Prepared(measurements=rows.assign(source="survey", supersedes_id=None)), errors

    def _repeated(self, pseudonyms: pd.Series, answered_on: pd.Series) -> list[RowError]:
        errors = []
        days = metric_days(answered_on.fillna(pd.Timestamp("1900-01-01")))
        for row, key in zip(pseudonyms.index, zip(pseudonyms, days)):
            if not key[0]:
                continue
            if key in self.first_row:
                errors.append(RowError(int(row), ID, O("answered_twice", row=int(self.first_row[key]))))
            else:
                self.first_row[key] = int(row)
        return errors

    def _conditional(self, answers: dict[str, pd.Series]) -> list[RowError]:
        """A question asked only after improvement must be blank unless an earlier answer shows improvement."""
        errors: list[RowError] = []
        by_question = {_question(m).id: (m, answers[m.id]) for m in self.answered if m.instrument}
        for metric, values in by_question.values():
            condition = _question(metric).asked_if
            if condition is None:
                continue
            triggers = [(q, by_question[q]) for q in condition.questions if q in by_question]
            if not triggers:
                continue
            improved = pd.Series(False, index=values.index)
            for q, (m, v) in triggers:
                improved |= v.isin(condition.codes)
            shown = " or ".join(m.id for _, (m, _) in triggers)
            codes = " or ".join(str(c) for c in sorted(condition.codes))
            errors += errors_where(values.notna() & ~improved, metric.id, lambda r, m=metric.id, s=shown, c=codes: O(
                "asked_when_improved", metric=m, shown=s, codes=c))
        return errors


AGE_BAND = r"^\d{1,3}-\d{1,3}$|^\d{1,3}\+$"
SEXES = {"k": "k", "kvinna": "k", "f": "k", "female": "k", "woman": "k", "m": "m", "man": "m", "male": "m"}


def _age_and_sex(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series, list[RowError]]:
    """An anonymous answer's age band (e.g. 18-24, 65+) and sex (k or m), each optional and never more."""
    empty = pd.Series(None, index=frame.index, dtype=object)
    bands = frame["age_band"].str.strip() if "age_band" in frame.columns else empty
    sexes = frame["sex"].str.strip().str.lower() if "sex" in frame.columns else empty
    errors: list[RowError] = []
    if "age_band" in frame.columns:
        bad = (bands != "") & ~bands.str.match(AGE_BAND)
        errors += errors_where(bad, "age_band", lambda r: O("age_band", value=frame["age_band"][r]), frame["age_band"])
    if "sex" in frame.columns:
        bad = (sexes != "") & ~sexes.isin(list(SEXES))
        errors += errors_where(bad, "sex", lambda r: O("survey_sex", value=frame["sex"][r]), frame["sex"])
    bands = bands.where(bands.fillna("") != "", None)
    sexes = sexes.map(SEXES).where(sexes.fillna("") != "", None)
    return bands.astype(object), sexes.astype(object), errors


def _question(metric: Metric) -> Question:
    return instruments.question_of(metric)
