"""Fieldwork of the user follow-up: a sampling frame, a seeded draw per unit, and the contact log.

As Stockholm's inquiry proposes (``../shared/sources/004_5d7f34580de5711e.txt``): the frame is the year's
decisions (or a contract's enrolments) per unit, decisions shorter than a month excluded; about 20 people
per unit and year are drawn at random, with reserves; each sampled person is contacted at most three times
by phone; the response rate is reported per unit and level, with a non-response analysis by age band and
sex against the frame.

Everything here is pseudonymous: a delivered reference (a personal identity number or a case number) is
replaced by its keyed hash at once; age band and sex are derived from a personal identity number and the
number is then dropped.  No contact details are ever read or stored: the contact log holds the pseudonym,
the attempt, the channel, the outcome and the date.

Each file is checked whole before anything is stored: every bad row gets one clear line, and a file with any
is refused with nothing stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contracts.organisation import Organisation
from language import MessageError
from outcomes.checks import RowError, errors_where
from outcomes.messages import TEXTS as O
from outcomes.personnummer import InvalidNumber, parse as parse_number
from outcomes.pseudonym import pseudonymise
from outcomes.readers import open_table
from outcomes.surveys import SEXES
from outcomes.values import parse_dates
from store.db import actor, record_audit
from store.tables import (EnrolmentRow, ParticipantRow, SurveyContactRow, SurveyDrawMemberRow, SurveyDrawRow,
                          SurveyFrameMemberRow, SurveyFrameRow)

# Age bands as the follow-up reports them; an answer or frame member outside every band has none.
AGE_BANDS = ((0, 17), (18, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, 74), (75, 84), (85, None))
MIN_DECISION_DAYS = "1 month"  # decisions shorter than a month are not drawn (the source's proposal)
LEGAL_SEX = {"F": "k", "M": "m"}  # a personal number's legal sex as the follow-up reports it (k, m)
TARGET_PER_UNIT = 20  # the source: about 20 answers per unit and year
MAX_PHONE_ATTEMPTS = 3  # the source: at most three phone attempts
CHANNELS = ("phone", "letter", "visit", "digital")
OUTCOMES = ("answered", "declined", "no_answer", "unreachable")


class FieldworkError(MessageError):
    """A request that cannot be carried out (no such frame or draw); one line."""


class FieldworkRefused(MessageError):
    """A file refused with every bad row: nothing was stored."""

    def __init__(self, file: str, errors: list[RowError]):
        super().__init__(O("refused" if len(errors) == 1 else "refused_many", file=file, n=len(errors)))
        self.errors = sorted(set(errors), key=lambda e: e.sort_key)


def age_band(birth_year: int | None, year: int) -> str | None:
    if birth_year is None:
        return None
    age = year - birth_year
    for low, high in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return f"{low}+" if high is None else f"{low}-{high}"
    return None


@dataclass
class FrameReport:
    frame_id: int
    year: int
    members: int
    excluded: dict[str, int] = field(default_factory=dict)
    by_unit: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"frame": self.frame_id, "year": self.year, "members": self.members, "excluded": self.excluded,
                "drawable_by_unit": self.by_unit}


def _read(path: Path, required: tuple[str, ...], optional: tuple[str, ...]) -> tuple[pd.DataFrame, list[RowError]]:
    table = open_table(Path(path))
    errors = [RowError(1, c, O("required_column", columns=", ".join(table.columns))) for c in required
              if c not in table.columns]
    allowed = (*required, *optional)
    errors += [RowError(1, c, O("unknown_column", expected=", ".join(allowed))) for c in table.columns
               if c not in allowed]
    parts = []
    for frame, problems in table.chunks:
        errors += [RowError(p.row, p.column, p.message) for p in problems]
        parts.append(frame)
    frame = pd.concat(parts) if parts else pd.DataFrame(columns=table.columns)
    if errors:
        return frame, errors
    for column in optional:
        if column not in frame.columns:
            frame[column] = ""
    return frame, errors


def _people(frame: pd.DataFrame, key: bytes, contract_id: str, year: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Pseudonyms, and age band and sex where the reference is a personal identity number (then forgotten)."""
    pseudonyms, bands, sexes = [], [], []
    blank = pd.Series("", index=frame.index)
    for reference, band, sex in zip(frame["participant_id"], frame.get("age_band", blank), frame.get("sex", blank)):
        try:
            number = parse_number(reference)
        except InvalidNumber:
            number = None
        pseudonyms.append(pseudonymise(key, contract_id, number.normalised if number else reference.strip()))
        bands.append(age_band(number.birth_year, year) if number else (band or None))
        sexes.append(LEGAL_SEX[number.legal_sex] if number else SEXES.get((sex or "").strip().lower()))
    index = frame.index
    return pd.Series(pseudonyms, index=index), pd.Series(bands, index=index), pd.Series(sexes, index=index)


def build_frame(engine: Engine, contract_id: str, year: int, key: bytes, organisation: Organisation | None,
                decisions: Path | None = None, actor_name: str | None = None,
                exclude_types: tuple[str, ...] = ()) -> FrameReport:
    """The year's sampling frame from a decisions file (participant_id, decision_type, unit, start, end) or, with
    no file, from the contract's enrolments (unit: the participants' ``unit`` attribute).  One member per person
    and unit; decisions shorter than a month, or not in force in the year, are kept as excluded, with the reason."""
    if decisions is not None:
        frame, errors = _read(decisions, ("participant_id", "unit", "start"), ("decision_type", "end", "age_band", "sex"))
        name = Path(decisions).name
        if errors:
            raise FieldworkRefused(name, errors)
        start, bad_start = parse_dates(frame["start"])
        end, bad_end = parse_dates(frame["end"])
        bad_end &= frame["end"] != ""
        errors += errors_where(bad_start | (frame["start"] == ""), "start", O("frame_date"), frame["start"])
        errors += errors_where(bad_end, "end", O("frame_date"), frame["end"])
        errors += errors_where(frame["participant_id"].str.strip() == "", "participant_id", O("frame_no_person"))
        errors += errors_where(~bad_end & ~bad_start & end.notna() & (end < start), "end", O("frame_end_before"))
        pseudonyms, bands, sexes = _people(frame, key, contract_id, year)
        units, types = frame["unit"].str.strip(), frame["decision_type"].str.strip().replace("", None)
        built_from = "decisions"
    else:
        name = "enrolments"
        with engine.connect() as conn:
            rows = conn.execute(sa.select(ParticipantRow.pseudonym, ParticipantRow.birth_year, ParticipantRow.legal_sex,
                                          ParticipantRow.attributes, EnrolmentRow.start, EnrolmentRow.exit)
                                .join(EnrolmentRow, EnrolmentRow.participant_id == ParticipantRow.id)
                                .where(EnrolmentRow.contract_id == contract_id, EnrolmentRow.arm == "treatment")).all()
        frame = pd.DataFrame(rows, columns=["pseudonym", "birth_year", "legal_sex", "attributes", "start", "end"])
        frame.index = np.arange(2, len(frame) + 2)
        errors = []
        pseudonyms = frame["pseudonym"]
        units = frame["attributes"].map(lambda a: str((a or {}).get("unit", "")).strip())
        errors += errors_where(units == "", "unit", O("frame_no_unit"))
        bands = frame["birth_year"].map(lambda y: age_band(None if pd.isna(y) else int(y), year))
        sexes = frame["legal_sex"].map(LEGAL_SEX.get)
        start, end = pd.to_datetime(frame["start"]), pd.to_datetime(frame["end"])
        types = pd.Series(None, index=frame.index, dtype=object)
        built_from = "enrolments"
    if organisation is not None:
        known = units.map(lambda u: organisation.placement(u, year) is not None)
        errors += errors_where(~known & (units != ""), "unit", lambda r: O(
            "frame_unknown_unit", unit=units[r], organisation=organisation.id, year=str(year)), units)
    if errors:
        raise FieldworkRefused(name, errors)

    first, last = pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
    excluded = pd.Series(None, index=frame.index, dtype=object)
    excluded[(start > last) | (end.notna() & (end < first))] = "not_in_year"
    short = end.notna() & (end < start + pd.DateOffset(months=1))
    excluded[short & excluded.isna()] = "shorter_than_a_month"
    if exclude_types:  # further exclusions the follow-up plan states, by decision type
        excluded[types.isin(exclude_types) & excluded.isna()] = "decision_type_excluded"
    members = pd.DataFrame({"pseudonym": pseudonyms, "unit": units, "decision_type": types, "start": start,
                            "end": end, "age_band": bands, "sex": sexes, "excluded": excluded})
    # One member per person and unit: the earliest decision in force, else the earliest excluded one.
    members = members.assign(_drawable=members["excluded"].isna()).sort_values(
        ["pseudonym", "unit", "_drawable", "start"], ascending=[True, True, False, True], kind="stable")
    members = members.drop_duplicates(["pseudonym", "unit"]).drop(columns="_drawable")
    with engine.begin() as conn:
        frame_id = conn.execute(sa.insert(SurveyFrameRow).returning(SurveyFrameRow.id), {
            "contract_id": contract_id, "year": year, "built_from": built_from,
            "rules": {"shortest_decision": MIN_DECISION_DAYS, "in_force_during": year, "one_per_person_and_unit": True,
                      "excluded_decision_types": sorted(exclude_types)},
            "created_by": actor_name or actor()}).scalar_one()
        records = [{"frame_id": frame_id, "pseudonym": p, "unit": u, "decision_type": _text(t), "start": s.date(),
                    "end": None if pd.isna(e) else e.date(), "age_band": _text(b), "sex": _text(x),
                    "excluded": _text(ex)}
                   for p, u, t, s, e, b, x, ex in members[["pseudonym", "unit", "decision_type", "start", "end",
                                                          "age_band", "sex", "excluded"]].itertuples(index=False)]
        if records:
            conn.execute(sa.insert(SurveyFrameMemberRow), records)
        record_audit(conn, "survey.frame", contract_id, {"frame": frame_id, "year": year, "members": len(records),
                                                         "from": built_from}, actor_name)
    drawable = members[members["excluded"].isna()]
    return FrameReport(frame_id, year, len(members),
                       {str(k): int(v) for k, v in members["excluded"].value_counts().sort_index().items()},
                       {str(k): int(v) for k, v in drawable["unit"].value_counts().sort_index().items()})


def _text(value: Any) -> str | None:
    """A cell as text, or None (never a NaN that a driver would store as the word)."""
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "" else str(value)


def draw(engine: Engine, frame_id: int, target: int = TARGET_PER_UNIT, reserves: int = 5, seed: int | None = None,
         actor_name: str | None = None) -> dict[str, Any]:
    """A seeded, reproducible random draw per unit: ``target`` people and ``reserves`` more, in drawn order.

    The members of a unit are first put in pseudonym order (so the draw does not depend on the order of the
    delivered file), then permuted by a generator seeded with ``seed`` (default: the frame id and year), the
    unit's own stream derived from the seed and the unit id.  The same frame and seed always draw the same people."""
    with engine.connect() as conn:
        frame = conn.execute(sa.select(SurveyFrameRow).where(SurveyFrameRow.id == frame_id)).first()
        if frame is None:
            raise FieldworkError(O("no_frame", frame=str(frame_id)))
        members = pd.DataFrame(conn.execute(sa.select(SurveyFrameMemberRow.id, SurveyFrameMemberRow.pseudonym,
                                                      SurveyFrameMemberRow.unit)
                                            .where(SurveyFrameMemberRow.frame_id == frame_id,
                                                   SurveyFrameMemberRow.excluded.is_(None))).all(),
                               columns=["id", "pseudonym", "unit"])
    seed = int(seed if seed is not None else frame.year * 100_000 + frame_id)
    chosen = []
    for unit in sorted(members["unit"].unique()):
        people = members[members["unit"] == unit].sort_values("pseudonym", kind="stable")
        stream = np.random.default_rng([seed, *unit.encode("utf-8")])
        order = stream.permutation(len(people))[:target + reserves]
        for position, row in enumerate(order, start=1):
            chosen.append({"member_id": int(people["id"].iloc[row]), "position": position,
                           "reserve": position > target, "unit": unit})
    with engine.begin() as conn:
        draw_id = conn.execute(sa.insert(SurveyDrawRow).returning(SurveyDrawRow.id), {
            "frame_id": frame_id, "seed": seed, "target": target, "reserves": reserves,
            "created_by": actor_name or actor()}).scalar_one()
        if chosen:
            conn.execute(sa.insert(SurveyDrawMemberRow), [{k: v for k, v in c.items() if k != "unit"} | {
                "draw_id": draw_id} for c in chosen])
        record_audit(conn, "survey.draw", frame.contract_id, {"draw": draw_id, "frame": frame_id, "seed": seed,
                                                              "target": target, "reserves": reserves}, actor_name)
    units: dict[str, dict[str, int]] = {}
    for c in chosen:
        counts = units.setdefault(c["unit"], {"sample": 0, "reserves": 0})
        counts["reserves" if c["reserve"] else "sample"] += 1
    return {"draw": draw_id, "frame": frame_id, "seed": seed, "target": target, "reserves": reserves, "units": units}


def load_contacts(engine: Engine, draw_id: int, path: Path, key: bytes, actor_name: str | None = None) -> dict[str, Any]:
    """A contact log (participant_id, attempt, channel, outcome, date) for a draw's sampled people: pseudonyms
    and outcomes only.  Refused whole, nothing stored, if any row is for someone not drawn, an attempt repeats
    or comes after an answer, a fourth phone attempt is made, or a channel, outcome or date is not one allowed."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(SurveyDrawRow, SurveyFrameRow.contract_id, SurveyFrameRow.year)
                           .join(SurveyFrameRow, SurveyFrameRow.id == SurveyDrawRow.frame_id)
                           .where(SurveyDrawRow.id == draw_id)).first()
        if row is None:
            raise FieldworkError(O("no_draw", draw=str(draw_id)))
        sampled = set(conn.execute(sa.select(SurveyFrameMemberRow.pseudonym)
                                   .join(SurveyDrawMemberRow, SurveyDrawMemberRow.member_id == SurveyFrameMemberRow.id)
                                   .where(SurveyDrawMemberRow.draw_id == draw_id)).scalars())
        earlier = pd.DataFrame(conn.execute(sa.select(SurveyContactRow.pseudonym, SurveyContactRow.attempt,
                                                      SurveyContactRow.channel, SurveyContactRow.outcome)
                                            .where(SurveyContactRow.draw_id == draw_id)).all(),
                               columns=["pseudonym", "attempt", "channel", "outcome"])
    frame, errors = _read(path, ("participant_id", "attempt", "channel", "outcome", "date"), ())
    name = Path(path).name
    if errors:
        raise FieldworkRefused(name, errors)
    pseudonyms, _, _ = _people(frame, key, row.contract_id, row.year)
    attempt = pd.to_numeric(frame["attempt"], errors="coerce")
    channel, outcome = frame["channel"].str.strip().str.lower(), frame["outcome"].str.strip().str.lower()
    when, bad_date = parse_dates(frame["date"])
    errors += errors_where(~pseudonyms.isin(sampled), "participant_id", O("contact_not_sampled", draw=str(draw_id)))
    errors += errors_where(attempt.isna() | (attempt < 1) | (attempt != attempt.round()), "attempt",
                           O("contact_attempt"), frame["attempt"])
    errors += errors_where(~channel.isin(CHANNELS), "channel", lambda r: O(
        "not_allowed", value=frame["channel"][r], allowed=", ".join(CHANNELS)), frame["channel"])
    errors += errors_where(~outcome.isin(OUTCOMES), "outcome", lambda r: O(
        "not_allowed", value=frame["outcome"][r], allowed=", ".join(OUTCOMES)), frame["outcome"])
    errors += errors_where(bad_date | (frame["date"] == ""), "date", O("frame_date"), frame["date"])
    errors += errors_where(when.dt.year != row.year, "date", O("contact_year", year=str(row.year)), frame["date"])
    log = pd.DataFrame({"pseudonym": pseudonyms, "attempt": attempt, "channel": channel, "outcome": outcome,
                        "row": frame.index})
    both = pd.concat([earlier.assign(row=0), log], ignore_index=True)
    repeated = both.duplicated(["pseudonym", "attempt"], keep="first") & (both["row"] > 0)
    errors += [RowError(int(r), "attempt", O("contact_repeated")) for r in both.loc[repeated, "row"]]
    phone = both[both["channel"] == "phone"].sort_values(["pseudonym", "attempt"], kind="stable")
    fourth = phone.groupby("pseudonym").cumcount() >= MAX_PHONE_ATTEMPTS
    errors += [RowError(int(r), "attempt", O("contact_phone_limit", n=MAX_PHONE_ATTEMPTS))
               for r in phone.loc[fourth & (phone["row"] > 0), "row"]]
    answered = both[both["outcome"] == "answered"].groupby("pseudonym")["attempt"].min()
    after = both["attempt"] > both["pseudonym"].map(answered)
    errors += [RowError(int(r), "attempt", O("contact_after_answer")) for r in both.loc[after & (both["row"] > 0), "row"]]
    if errors:
        raise FieldworkRefused(name, errors)
    with engine.begin() as conn:
        records = [{"draw_id": draw_id, "pseudonym": p, "attempt": int(a), "channel": c, "outcome": o,
                    "contacted_on": d.date(), "created_by": actor_name or actor()}
                   for p, a, c, o, d in zip(pseudonyms, attempt, channel, outcome, when)]
        if records:
            conn.execute(sa.insert(SurveyContactRow), records)
        record_audit(conn, "survey.contacts", row.contract_id, {"draw": draw_id, "rows": len(records), "file": name},
                     actor_name)
    return {"draw": draw_id, "contacts": len(records),
            "answered": int(sum(1 for r in records if r["outcome"] == "answered"))}


def response(engine: Engine, draw_id: int) -> pd.DataFrame:
    """Per sampled person of a draw: unit, age band, sex, whether reserve, contacted, answered."""
    with engine.connect() as conn:
        people = pd.DataFrame(conn.execute(
            sa.select(SurveyFrameMemberRow.pseudonym, SurveyFrameMemberRow.unit, SurveyFrameMemberRow.age_band,
                      SurveyFrameMemberRow.sex, SurveyDrawMemberRow.reserve)
            .join(SurveyDrawMemberRow, SurveyDrawMemberRow.member_id == SurveyFrameMemberRow.id)
            .where(SurveyDrawMemberRow.draw_id == draw_id)).all(),
            columns=["pseudonym", "unit", "age_band", "sex", "reserve"])
        contacts = pd.DataFrame(conn.execute(sa.select(SurveyContactRow.pseudonym, SurveyContactRow.outcome)
                                             .where(SurveyContactRow.draw_id == draw_id)).all(),
                                columns=["pseudonym", "outcome"])
    people["contacted"] = people["pseudonym"].isin(contacts["pseudonym"])
    people["answered"] = people["pseudonym"].isin(contacts.loc[contacts["outcome"] == "answered", "pseudonym"])
    # In the sample: the main sample, and the reserves actually called on (contacted).
    people["in_sample"] = ~people["reserve"].astype(bool) | people["contacted"]
    return people


def frame_members(engine: Engine, frame_id: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(sa.select(SurveyFrameMemberRow.unit, SurveyFrameMemberRow.age_band,
                                                   SurveyFrameMemberRow.sex, SurveyFrameMemberRow.excluded)
                                         .where(SurveyFrameMemberRow.frame_id == frame_id)).all(),
                            columns=["unit", "age_band", "sex", "excluded"])


def latest_draw(engine: Engine, contract_id: str, year: int) -> tuple[int, int] | None:
    """(draw id, frame id) of the latest draw for a contract's year, if any."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(SurveyDrawRow.id, SurveyDrawRow.frame_id)
                           .join(SurveyFrameRow, SurveyFrameRow.id == SurveyDrawRow.frame_id)
                           .where(SurveyFrameRow.contract_id == contract_id, SurveyFrameRow.year == year)
                           .order_by(SurveyDrawRow.id.desc()).limit(1)).first()
    return None if row is None else (row.id, row.frame_id)



def status(engine: Engine, contract_id: str) -> list[dict[str, Any]]:
    """Per year's latest draw and unit: the sample, reserves called on, answered, the response rate and how
    many answers are still due to reach the target (for the intermediary's work page)."""
    with engine.connect() as conn:
        years = conn.execute(sa.select(SurveyFrameRow.year).where(SurveyFrameRow.contract_id == contract_id)
                             .distinct().order_by(SurveyFrameRow.year.desc())).scalars().all()
    found = []
    for year in years:
        latest = latest_draw(engine, contract_id, year)
        if latest is None:
            continue
        with engine.connect() as conn:
            target = conn.execute(sa.select(SurveyDrawRow.target).where(SurveyDrawRow.id == latest[0])).scalar_one()
        people = response(engine, latest[0])
        for unit, mine in people.groupby("unit", sort=True):
            sample = int(mine["in_sample"].sum())
            answered = int(mine["answered"].sum())
            found.append({"year": year, "draw": latest[0], "unit": str(unit), "target": int(target),
                          "sample": sample, "reserves_called": int((mine["reserve"].astype(bool) & mine["contacted"]).sum()),
                          "answered": answered, "rate": answered / sample if sample else None,
                          "due": max(int(target) - answered, 0)})
    return found
