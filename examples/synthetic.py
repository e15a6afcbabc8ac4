"""Deterministic SYNTHETIC data for the four example contracts.

Nothing here is real data about real people.  Each generator draws from a
fixed seed, so the same call writes byte-identical files, and writes them in
the shapes a provider or a registry would deliver (CSV, one row per record,
case numbers as participant references).  The distributions are chosen to be
plausible, not to reproduce any real evaluation.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

EXAMPLES = Path(__file__).parent
CONTRACT_FILES = {
    "norrkoping-foster-care": EXAMPLES / "norrkoping_foster_care.yaml",
    "hasselby-school": EXAMPLES / "hasselby_school.yaml",
    "peterborough-reconviction": EXAMPLES / "peterborough_reconviction.yaml",
    "gotland-family-team": EXAMPLES / "gotland_family_team.yaml",
}
# The cost files the examples' valuations name: loaded (``sib costs load``) before their contracts.
COST_FILES = {
    "norrkoping-costs": EXAMPLES / "costs" / "norrkoping_costs.yaml",
    "gotland-costs": EXAMPLES / "costs" / "gotland_costs.yaml",
}
Files = list[tuple[str, Path]]  # (kind, path) in the order they must be ingested


def _dates_between(rng: np.random.Generator, start: date, end: date, n: int) -> list[date]:
    days = (end - start).days
    return [start + timedelta(days=int(d)) for d in rng.integers(0, days + 1, n)]


def _plus_months(day: date, months: int) -> date:
    return (pd.Timestamp(day) + pd.DateOffset(months=months)).date()


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def norrkoping(out: Path, n: int = 1000, seed: int = 2016) -> Files:
    """Children in foster care: residential-care days per quarter, and school eligibility.

    Care days are calibrated so that the cohort averages 118.7 days in 36
    months against the contracted 120: savings that repay about 6.5 MSEK of a
    10 MSEK investment, as in the reference case's net loss of 3.5 MSEK.
    """
    rng = np.random.default_rng(seed)
    refs = [f"NKP-{i:05d}" for i in range(1, n + 1)]
    starts = _dates_between(rng, date(2016, 1, 1), date(2016, 12, 31), n)
    people = pd.DataFrame({
        "participant_id": refs, "start": starts,
        "age": rng.integers(6, 18, n), "sex": rng.choice(["female", "male"], n),
        "placement": rng.choice(["foster_family", "kinship"], n, p=[0.7, 0.3]),
    })
    in_care = rng.random(n) < 0.4
    totals = np.where(in_care, rng.gamma(3.0, 100.0, n), 0.0)
    target_total, most = round(118.7 * n), 12 * 91  # at most 91 days in each of 12 quarters
    scaled = np.minimum(totals * target_total / totals.sum(), most)
    totals = np.floor(scaled).astype(int)
    while totals.sum() < target_total:  # hand out the remaining days, largest remainders first
        room = np.flatnonzero(in_care & (totals < most))
        order = room[np.argsort(-(scaled[room] - totals[room]), kind="stable")]
        totals[order[: target_total - totals.sum()]] += 1
    rows = []
    for ref, start, total in zip(refs, starts, totals):
        spell_quarters = -(-int(total) // 91)
        quarter = int(rng.integers(0, 12 - spell_quarters + 1)) if total else 0
        remaining = int(total)
        while remaining > 0:  # one contiguous spell, at most 91 days a quarter, dated at the quarter's end
            days = min(remaining, 91)
            rows.append((ref, "residential-care-days", _plus_months(start, 3 * quarter + 3) - timedelta(days=1), days))
            remaining -= days
            quarter += 1
    eligible = (rng.random(n) < 0.52).astype(int)
    rows += [(ref, "school-eligibility", _plus_months(start, 20), int(v)) for ref, start, v in zip(refs, starts, eligible)]
    measurements = pd.DataFrame(rows, columns=["participant_id", "metric", "date", "value"])
    measurements = measurements.groupby(["participant_id", "metric", "date"], as_index=False)["value"].sum()
    measurements["source"] = "social-services register (synthetic)"
    return [
        ("participants", _write(people, out / "norrkoping-participants.csv")),
        ("measurements", _write(measurements, out / "norrkoping-measurements.csv")),
    ]


def hasselby(out: Path, n: int = 1000, seed: int = 2021) -> Files:
    """Pupils in years 4-9: monthly attendance for a year, and the six SKR questions at 12 months."""
    rng = np.random.default_rng(seed)
    half = n // 2
    refs = [f"HV-{i:05d}" for i in range(1, n + 1)]
    starts = (_dates_between(rng, date(2021, 8, 15), date(2022, 6, 15), half)
              + _dates_between(rng, date(2022, 8, 15), date(2023, 6, 15), n - half))
    people = pd.DataFrame({
        "participant_id": refs, "start": starts,
        "school_year": rng.integers(4, 10, n), "sex": rng.choice(["female", "male"], n),
        "risk_level": rng.choice(["elevated", "high"], n, p=[0.65, 0.35]),
    })
    level = np.clip(rng.beta(17.0, 2.6, n), 0.3, 1.0)  # each pupil's usual attendance, mean about 0.87
    rows = []
    for ref, start, mean in zip(refs, starts, level):
        for k in range(12):
            day = _plus_months(start, k) + timedelta(days=27)
            if day.month == 7:  # summer holiday: no school days
                continue
            rows.append((ref, "attendance", day, float(np.clip(mean + rng.normal(0, 0.05), 0, 1))))
    attendance = pd.DataFrame(rows, columns=["participant_id", "metric", "date", "value"]).round({"value": 4})
    attendance["source"] = "school attendance system (synthetic)"

    questions = ["situation-change", "quality-of-life-change", "importance-of-support",
                 "overall-satisfaction", "treatment", "influence"]
    survey = pd.DataFrame({"participant_id": refs, "date": [_plus_months(s, 12) for s in starts],
                           "refers_to": "since_start"})
    # Coded as SKR's questions are in Stockholm's appendix: 1 is the best answer; five steps and "vet inte" 6,
    # except questions 3 and 6: four steps and "vet inte" 5.
    for q, shift in zip(questions, [0.3, 0.1, 0.5, 0.4, 0.6, -0.2]):
        steps = 4 if q in ("importance-of-support", "influence") else 5
        answers = np.clip(np.round(rng.normal(steps - 1.4 - shift, 0.9, n)), 1, steps).astype(int).astype(str)
        answers = np.where(rng.random(n) < 0.05, str(steps + 1), answers)  # "vet inte"
        answers = np.where(rng.random(n) < 0.08, "", answers)  # not answered
        survey[q] = answers
    # The third question is asked only when the first or the second shows improvement (1 or 2).
    improved = survey["situation-change"].isin(["1", "2"]) | survey["quality-of-life-change"].isin(["1", "2"])
    survey.loc[~improved, "importance-of-support"] = ""
    responded = survey[questions].ne("").any(axis=1)
    return [
        ("participants", _write(people, out / "hasselby-participants.csv")),
        ("measurements", _write(attendance, out / "hasselby-attendance.csv")),
        ("survey", _write(survey[responded], out / "hasselby-survey.csv")),
    ]


def peterborough(out: Path, per_cohort: int = 1000, pool: int = 10000, seed: int = 2010) -> Files:
    """Released prisoners in three cohorts and a national comparison pool; reconviction events.

    The treated differ from the pool (younger, more prior convictions), so an
    unmatched comparison is biased; the true reductions in the rate of
    reconviction events are 6 %, 14 % and 10 % in cohorts 1 to 3.
    """
    rng = np.random.default_rng(seed)
    windows = [(date(2010, 9, 9), date(2012, 6, 30)), (date(2012, 7, 1), date(2014, 6, 30)),
               (date(2014, 7, 1), date(2015, 6, 30))]
    reductions = [0.06, 0.14, 0.10]
    offences = ["violence", "theft", "drugs", "other"]

    def people(prefix: str, count: int, young: float, priors: float, released: list[date]) -> pd.DataFrame:
        return pd.DataFrame({
            "participant_id": [f"{prefix}-{i:05d}" for i in range(1, count + 1)],
            "start": released,
            "age": np.clip(np.round(18 + rng.gamma(2.0, young, count)), 18, 75).astype(int),
            "prior_convictions": rng.negative_binomial(2, 2 / (2 + priors), count),
            "sentence_months": np.round(rng.uniform(0.5, 12, count), 1),
            "offence": rng.choice(offences, count, p=[0.25, 0.4, 0.2, 0.15]),
        })

    treated = pd.concat([
        people(f"PB{c + 1}", per_cohort, 6.0, 9.0, _dates_between(rng, lo, hi, per_cohort)).assign(
            cohort=f"cohort-{c + 1}", reduction=reductions[c])
        for c, (lo, hi) in enumerate(windows)
    ], ignore_index=True)
    treated["participant_id"] = [f"PB-{i:05d}" for i in range(1, len(treated) + 1)]
    comparison = people("NC", pool, 8.0, 6.0, _dates_between(rng, windows[0][0], windows[-1][1], pool)).assign(reduction=0.0)

    def events(frame: pd.DataFrame) -> pd.DataFrame:
        offence_effect = frame["offence"].map({"violence": 0.0, "theft": 0.25, "drugs": 0.15, "other": -0.1})
        log_rate = -1.0 + 0.06 * frame["prior_convictions"] - 0.02 * (frame["age"] - 30) + offence_effect
        rate = np.exp(log_rate) * (1 - frame["reduction"])
        counts = rng.poisson(rate.to_numpy())
        rows = []
        for ref, start, k in zip(frame["participant_id"], frame["start"], counts):
            for offset in sorted(rng.integers(1, 365, k)):
                rows.append((ref, "reconviction-events", start + timedelta(days=int(offset)), 1))
        out_frame = pd.DataFrame(rows, columns=["participant_id", "metric", "date", "value"])
        return out_frame.groupby(["participant_id", "metric", "date"], as_index=False)["value"].sum()

    measurements = pd.concat([events(treated), events(comparison)], ignore_index=True)
    measurements["source"] = "national offender records (synthetic)"
    columns = ["participant_id", "start", "age", "prior_convictions", "sentence_months", "offence"]
    return [
        ("participants", _write(treated[columns + ["cohort"]], out / "peterborough-participants.csv")),
        ("comparison", _write(comparison[columns], out / "peterborough-comparison-pool.csv")),
        ("measurements", _write(measurements, out / "peterborough-reconvictions.csv")),
    ]


def gotland(out: Path, per_cohort: int = 20, seed: int = 2019) -> Files:
    """Families with a young person at risk of placement: placement days in the year before and the year after
    enrolment (pre-post), and whether the family avoided placement in the year after.

    About one family in five is placed in the year after, as in Gotland's 65 of about 80; placement days fall
    from about 75 a family in the year before to about 35 in the year after."""
    rng = np.random.default_rng(seed)
    n = 2 * per_cohort
    refs = [f"GTL-{i:04d}" for i in range(1, n + 1)]
    starts = (_dates_between(rng, date(2020, 1, 15), date(2020, 12, 15), per_cohort)
              + _dates_between(rng, date(2021, 1, 15), date(2021, 12, 15), per_cohort))
    people = pd.DataFrame({"participant_id": refs, "start": starts, "age": rng.integers(12, 18, n),
                           "sex": rng.choice(["female", "male"], n)})
    # who works with the family (enrolments record it): every third family is the northern team's
    people["provider"] = ["family-team-north" if i % 3 == 2 else "family-team" for i in range(n)]
    before = np.where(rng.random(n) < 0.6, np.minimum(rng.gamma(2.0, 60.0, n).round(), 330), 0).astype(int)
    placed = rng.random(n) < 0.2
    after = np.where(placed, np.minimum(rng.gamma(2.5, 70.0, n).round() + 1, 330), 0).astype(int)
    rows = []
    for ref, start, pre, post, was_placed in zip(refs, starts, before, after, placed):
        # The case register reports every family's days in each year, none as 0: nothing is left to the missing rule
        rows.append((ref, "placement-days", _plus_months(start, -6), int(pre)))
        rows.append((ref, "placement-days", _plus_months(start, 6), int(post)))
        rows.append((ref, "no-placement", _plus_months(start, 11), int(not was_placed)))
    measurements = pd.DataFrame(rows, columns=["participant_id", "metric", "date", "value"])
    measurements["source"] = "social-services case register (synthetic)"
    return [
        ("participants", _write(people, out / "gotland-families.csv")),
        ("measurements", _write(measurements, out / "gotland-placements.csv")),
    ]


GENERATORS: dict[str, Callable[[Path], Files]] = {
    "norrkoping-foster-care": norrkoping,
    "hasselby-school": hasselby,
    "peterborough-reconviction": peterborough,
    "gotland-family-team": gotland,
}


def generate(contract_id: str, out: Path) -> Files:
    """Write the synthetic files of one example contract into ``out``; return (kind, path) in ingest order."""
    out.mkdir(parents=True, exist_ok=True)
    return GENERATORS[contract_id](out)
