"""Results of the user follow-up as Stockholm's follow-up reports them: per question, shares, not mean codes.

For each question of an instrument and each group (a unit, district administration, area of activity or
the city; optionally split by age band or sex):

* the distribution of answers over the instrument's codes, with their words;
* the favourable share (the instrument's top steps, e.g. "improved a lot" or "a little") with a Wilson
  confidence interval;
* "vet inte" (don't know) counted and shown apart, never in a share's denominator;
* a question asked only after certain answers (SKR's question 3) counted over those asked only;
* n (answered), the number asked, and the response rate from the fieldwork beside every figure.

Then primary and complementary suppression at every level and across levels (``suppress``): a group with
fewer than the contract's threshold of answers is hidden, and so is whatever would let it be worked out
(a district less its shown units, the city less its shown districts, a group less its shown age bands).

Answers coded under another version of the instrument than the one the metric asks for (the retired
version 1 of SKR's questions, whose questions 3 and 6 could not be converted) are never mixed in: they are
counted and reported apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from statsmodels.stats.proportion import proportion_confint

from evaluation.suppression import suppress_group
from contracts import instruments
from contracts.model import Contract
from contracts.organisation import LEVELS, Organisation
from store.scope import contract_batches
from store.tables import ImportBatchRow, MeasurementRow, ParticipantRow, SurveyAnswerRow

BY = ("age_band", "sex")
ALL = "all"


@dataclass(frozen=True)
class Request:
    level: str = "unit"
    by: str | None = None
    year: int | None = None
    alpha: float = 0.05


def survey_metrics(contract: Contract) -> list[Any]:
    return [m for m in contract.metrics if m.instrument]


def load_answers(engine: Engine, contract: Contract) -> pd.DataFrame:
    """Every verified answer to the contract's instrument questions: metric, value (None: don't know), year,
    unit, age band, sex, instrument and version.  Linked answers take the unit from the participant's ``unit``
    attribute and age band and sex from the birth year and legal sex the store keeps."""
    from outcomes.fieldwork import LEGAL_SEX, age_band

    metrics = [m.id for m in survey_metrics(contract)]
    verified = ImportBatchRow.verified_at.is_not(None)
    with engine.connect() as conn:
        anonymous = conn.execute(
            sa.select(SurveyAnswerRow.metric, SurveyAnswerRow.value, SurveyAnswerRow.answered_on,
                      SurveyAnswerRow.unit, SurveyAnswerRow.age_band, SurveyAnswerRow.sex,
                      SurveyAnswerRow.instrument, SurveyAnswerRow.instrument_version)
            .join(ImportBatchRow, ImportBatchRow.id == SurveyAnswerRow.batch_id)
            .where(SurveyAnswerRow.contract_id == contract.id, SurveyAnswerRow.metric.in_(metrics), verified)).all()
        linked = conn.execute(
            sa.select(MeasurementRow.metric, MeasurementRow.value, MeasurementRow.observed_on,
                      ParticipantRow.attributes, ParticipantRow.birth_year, ParticipantRow.legal_sex,
                      MeasurementRow.instrument, MeasurementRow.instrument_version)
            .join(ImportBatchRow, ImportBatchRow.id == MeasurementRow.batch_id)
            .join(ParticipantRow, ParticipantRow.id == MeasurementRow.participant_id)
            .where(MeasurementRow.batch_id.in_(sorted(contract_batches(conn, contract.id))),  # the batch index
                   MeasurementRow.contract_id == contract.id, MeasurementRow.metric.in_(metrics),
                   MeasurementRow.status != "rejected", MeasurementRow.supersedes_id.is_(None), verified)).all()
    columns = ["metric", "value", "answered_on", "unit", "age_band", "sex", "instrument", "instrument_version"]
    rows = [tuple(r) for r in anonymous]
    for metric, value, day, attributes, birth_year, sex, instrument, version in linked:
        year = day.year if hasattr(day, "year") else int(str(day)[:4])
        rows.append((metric, value, day, str((attributes or {}).get("unit") or "") or None, age_band(birth_year, year),
                     LEGAL_SEX.get(sex), instrument, version))
    frame = pd.DataFrame(rows, columns=columns)
    frame["year"] = pd.to_datetime(frame["answered_on"]).dt.year
    return frame


def _share(favourable: int, n: int, alpha: float) -> tuple[float | None, float | None, float | None]:
    if n == 0:
        return None, None, None
    low, high = proportion_confint(favourable, n, alpha=alpha, method="wilson")
    return favourable / n, float(low), float(high)


def results(contract: Contract, answers: pd.DataFrame, request: Request, organisation: Organisation | None,
            response: pd.DataFrame | None = None, language: str = "sv") -> dict[str, Any]:
    """Per question and group, as the module docstring says; suppressed with the contract's threshold."""
    if request.level not in LEVELS:
        raise ValueError(request.level)
    threshold = contract.suppression_threshold
    frame = answers if request.year is None else answers[answers["year"] == request.year]
    frame = frame.assign(group=_groups(frame, request.level, organisation))
    unplaced = int(frame["group"].isna().sum())
    frame = frame[frame["group"].notna()]
    if request.by is not None:
        frame = frame.assign(part=frame[request.by].fillna("unknown").astype(str))
    questions = []
    for metric in survey_metrics(contract):
        instrument = instruments.get(metric.instrument, metric.instrument_version)
        if instrument is None:
            continue
        question = instrument.question(metric.question or "")
        if question is None:
            continue
        mine = frame[frame["metric"] == metric.id]
        same = (mine["instrument"].fillna(instrument.id) == instrument.id) & \
               (mine["instrument_version"].fillna(instrument.version).astype(int) == instrument.version)
        other_version = int((~same).sum())
        mine = mine[same]
        cells = []
        for keys, part in _partitions(mine, request.by):
            values = part["value"]
            asked = len(values)
            dont_know = int(values.isna().sum())
            answered = asked - dont_know
            codes = values.dropna().astype(int)
            favourable = int(codes.isin(question.favourable).sum())
            share, low, high = _share(favourable, answered, request.alpha)
            cells.append({
                "group": keys[0], "part": keys[1], "asked": asked, "answered": answered, "dont_know": dont_know,
                "favourable": favourable, "favourable_share": share, "ci_low": low, "ci_high": high,
                "distribution": [{"code": a.code, "label": a.label(language), "n": int((codes == a.code).sum()),
                                  "share": (int((codes == a.code).sum()) / answered) if answered else None}
                                 for a in question.answers],
            })
        hidden = suppress(cells, request.level, request.by is not None, organisation, threshold,
                          request.year)
        for cell in cells:
            cell["suppressed"] = (cell["group"], cell["part"]) in hidden
            if cell["suppressed"]:
                for k in ("asked", "answered", "dont_know", "favourable", "favourable_share", "ci_low", "ci_high"):
                    cell[k] = None
                cell["distribution"] = None
            cell["name"] = organisation.name_of(request.level, cell["group"]) if organisation else cell["group"]
            cell["response"] = _response_of(response, request.level, organisation, request.year, cell["group"],
                                            threshold)
        questions.append({
            "metric": metric.id, "question": question.id, "number": question.number,
            "text": question.text.get(language), "instrument": instrument.key,
            "favourable_codes": question.favourable,
            "favourable_words": [question.answer(c).label(language) for c in question.favourable if question.answer(c)],
            "asked_only_after": None if question.asked_if is None else question.asked_if.model_dump(),
            "other_version": other_version, "cells": cells,
        })
    return {"contract": contract.id, "level": request.level, "by": request.by, "year": request.year,
            "confidence": 1 - request.alpha, "threshold": threshold, "unplaced_answers": unplaced,
            "questions": questions}


def _groups(frame: pd.DataFrame, level: str, organisation: Organisation | None) -> pd.Series:
    """Each answer's group at ``level`` in its year (its unit as given when there is no organisation file)."""
    if level == "unit":
        return frame["unit"].where(frame["unit"].notna() & (frame["unit"] != ""), None)
    if organisation is None:
        return pd.Series(ALL if level == "city" else None, index=frame.index, dtype=object)
    return pd.Series([organisation.group_of(u, int(y), level) if u else None
                      for u, y in zip(frame["unit"], frame["year"])], index=frame.index, dtype=object)


def _partitions(frame: pd.DataFrame, by: str | None):
    if frame.empty:
        return []
    keys = ["group", "part"] if by else ["group"]
    found = []
    for key, part in frame.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        found.append(((str(key[0]), str(key[1]) if by else ALL), part))
    if by:  # the group's total beside its parts
        for group, part in frame.groupby("group", sort=True):
            found.append(((str(group), ALL), part))
    return sorted(found, key=lambda item: item[0])


def suppress(cells: list[dict[str, Any]], level: str, split: bool, organisation: Organisation | None,
             threshold: int, year: int | None) -> set[tuple[str, str]]:
    """Cells (group, part) to hide: primary (fewer than ``threshold`` answered) and complementary, so that no
    hidden cell can be worked out from a total less its shown parts — within each group over its parts (age
    bands or sexes), and, at the unit level, within each district, each area and the city over their units
    (at the district or area level, within the city over its districts or areas), repeated until nothing
    more needs hiding."""
    counts = {(c["group"], c["part"]): c["answered"] for c in cells}
    hidden = {k for k, n in counts.items() if 0 < n < threshold}
    relations: list[list[tuple[str, str]]] = []
    parts = sorted({p for _, p in counts})
    groups = sorted({g for g, _ in counts})
    if split:
        for g in groups:
            relations.append([(g, p) for p in parts if p != ALL and (g, p) in counts])
    parents: dict[str, list[str]] = {}
    if level == "unit" and organisation is not None:
        for g in groups:
            placement = organisation.placement(g, year) if year is not None else next(
                (p for p in organisation.units if p.id == g), None)
            if placement is not None:
                parents.setdefault(f"district:{placement.district}", []).append(g)
                parents.setdefault(f"area:{placement.area}", []).append(g)
    parents["city"] = groups
    for members in parents.values():
        for p in parts:
            relations.append([(g, p) for g in members if (g, p) in counts])
    changed = True
    while changed:
        changed = False
        for relation in relations:
            group_counts = {k: counts[k] for k in relation}
            more = suppress_group(group_counts, threshold, hidden=hidden & set(relation)) - hidden
            if more:
                hidden |= more
                changed = True
    return hidden


def _response_of(response: pd.DataFrame | None, level: str, organisation: Organisation | None, year: int | None,
                 group: str, threshold: int) -> dict[str, Any] | None:
    """The response rate of a group from the fieldwork: answered over the sample (with the reserves called on)."""
    if response is None or response.empty:
        return None
    if level == "unit":
        mine = response[response["unit"] == group]
    elif organisation is not None and year is not None:
        mine = response[[organisation.group_of(u, year, level) == group for u in response["unit"]]]
    else:
        mine = response
    sample = int(mine["in_sample"].sum())
    answered = int(mine["answered"].sum())
    return {"sample": sample, "answered": answered, "rate": answered / sample if sample else None}


def nonresponse_of(response: pd.DataFrame, members: pd.DataFrame) -> dict[str, Any]:
    """Age band and sex of those who answered against the frame's (drawable members'): shares side by side."""
    frame = members[members["excluded"].isna()]
    answered = response[response["answered"]]
    found: dict[str, Any] = {}
    for column in BY:
        base = frame[column].fillna("unknown").value_counts()
        got = answered[column].fillna("unknown").value_counts()
        found[column] = [{"value": str(v), "frame": int(base.get(v, 0)), "frame_share": float(base.get(v, 0) / len(frame))
                          if len(frame) else None, "answered": int(got.get(v, 0)),
                          "answered_share": float(got.get(v, 0) / len(answered)) if len(answered) else None}
                         for v in sorted(set(base.index) | set(got.index), key=str)]
    return found


def as_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per question and cell, for a CSV export per level."""
    rows = []
    for q in result["questions"]:
        for c in q["cells"]:
            rows.append({"question": q["number"], "question_id": q["question"], "group": c["group"],
                         "name": c["name"], "part": c["part"], "asked": c["asked"], "answered": c["answered"],
                         "dont_know": c["dont_know"], "favourable": c["favourable"],
                         "favourable_share": c["favourable_share"], "ci_low": c["ci_low"], "ci_high": c["ci_high"],
                         "response_rate": (c["response"] or {}).get("rate"), "suppressed": c["suppressed"]})
    return rows



def results_with_fieldwork(engine: Engine, contract: Contract, request: Request, organisation: Organisation | None,
                           language: str, answers: pd.DataFrame | None = None) -> dict[str, Any]:
    """``results`` with the response rates of the year's latest draw and the non-response analysis beside them:
    what the CLI, the API and the report show."""
    from outcomes import fieldwork

    response = nonresponse = None
    found = fieldwork.latest_draw(engine, contract.id, request.year) if request.year is not None else None
    if found is not None:
        response = fieldwork.response(engine, found[0])
        nonresponse = nonresponse_of(response, fieldwork.frame_members(engine, found[1]))
    answers = load_answers(engine, contract) if answers is None else answers
    result = results(contract, answers, request, organisation, response, language)
    result["nonresponse"] = nonresponse
    return result
