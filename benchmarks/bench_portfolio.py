"""Recalculating a portfolio: 1,000 contracts of 10,000 participants each, against a floor in the same run.

    .venv/bin/python benchmarks/bench_portfolio.py [--contracts 1000 --participants 10000]

Each contract has a rate card of three priced outcomes (two of them exclusive,
at most two paid per participant, capped per participant, per cohort and in
total), two cohorts and two payers sharing 60/40.  Its evidence is each
participant's achieved outcomes, as an evaluation run stores them.  Timed:
``owed_to_date`` for every contract (exclusivity, the per-participant limit,
every cap, the one rounding, the payer split, the basis of every amount) and
the comparison with what a ledger already holds, as ``sib payments`` does.
The floor, timed on the same evidence: a bare sum of price times achieved
outcome per contract, nothing else.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contracts import load_contract_text  # noqa: E402
from evaluation.run import EvaluationRun  # noqa: E402
from payments.calculate import owed_to_date  # noqa: E402

CONTRACT = """
id: portfolio-{n}
name: Portfolio contract {n}
currency: SEK
term: {{start: 2020-01-01, end: 2024-12-31}}
parties:
  - {{id: city, name: City, role: payer}}
  - {{id: region, name: Region, role: payer}}
target_group: {{description: Pupils}}
cohorts:
  - {{id: c1, name: Cohort 1, enrolment_start: 2020-01-01, enrolment_end: 2020-12-31}}
  - {{id: c2, name: Cohort 2, enrolment_start: 2021-01-01, enrolment_end: 2021-12-31}}
metrics:
{metrics}
payments:
  payers: [{{party: city, share: 0.6}}, {{party: region, share: 0.4}}]
  mechanisms:
    - id: card
      type: rate_card
      outcomes: [{{metric: attendance, price: 1000}}, {{metric: grade, price: 600.50}}, {{metric: work, price: 300}}]
      exclusive: [[grade, work]]
      max_outcomes_per_participant: 2
      cap_per_participant: 1500
      cap_per_cohort: 4000000
      cap: 7000000
  caps: {{total: 7000000}}
"""
METRIC = """  - id: {m}
    name: {m}
    kind: binary
    direction: higher_is_better
    window: {{start_months: 0, end_months: 12}}
    aggregation: last
    evaluation: {{design: fixed_baseline, baseline: 0.5}}"""
METRICS = ("attendance", "grade", "work")


def build(contracts: int, participants: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    metrics = "\n".join(METRIC.format(m=m) for m in METRICS)
    portfolio = []
    for n in range(contracts):
        contract = load_contract_text(CONTRACT.format(n=n, metrics=metrics)).contract
        frame = pd.DataFrame({
            "participant_id": np.repeat(np.arange(participants, dtype=np.int64), len(METRICS)),
            "metric": pd.Categorical(np.tile(METRICS, participants)),
            "cohort": pd.Categorical(np.repeat(np.where(np.arange(participants) < participants // 2, "c1", "c2"),
                                               len(METRICS))),
            "achieved": rng.random(participants * len(METRICS)) < rng.uniform(0.2, 0.8),
        })
        run = EvaluationRun(n + 1, contract.id, 1, pd.Timestamp("2023-06-30").date(), False, "f" * 64, "bench", [], {})
        portfolio.append((contract, run, frame))
    return portfolio


def recalculate(portfolio, booked: dict[str, dict]) -> int:
    """What ``sib payments`` computes per contract, against what is booked; returns the number of new entries."""
    new = 0
    for contract, run, frame in portfolio:
        held = booked.setdefault(contract.id, {})
        for owed in owed_to_date(contract, run, frame):
            key = (owed.mechanism, owed.cohort, owed.payer)
            if owed.amount != held.get(key, Decimal(0)):
                held[key] = owed.amount
                new += 1
    return new


def floor(portfolio) -> int:
    """Price times achieved outcome, summed per contract: no exclusivity, limits, caps, split or basis."""
    prices = np.array([100000, 60050, 30000], dtype=np.int64)  # in öre
    total = 0
    for _, _, frame in portfolio:
        total += int((prices[frame["metric"].cat.codes.to_numpy()] * frame["achieved"].to_numpy()).sum())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1000)
    parser.add_argument("--participants", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    portfolio = build(args.contracts, args.participants)
    ours, base, booked = [], [], {}
    first_new = recalculate(portfolio, booked)  # the first calculation books everything
    for _ in range(args.repeat):
        start = time.perf_counter()
        again = recalculate(portfolio, booked)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        floor(portfolio)
        base.append(time.perf_counter() - start)
    t_ours, t_floor = statistics.median(ours), statistics.median(base)
    print(json.dumps({
        "contracts": args.contracts, "participants_each": args.participants, "repeat": args.repeat,
        "entries_first_calculation": first_new, "entries_on_recalculation": again,
        "recalculate_seconds": round(t_ours, 2), "floor_seconds": round(t_floor, 3),
        "ratio_ours_to_floor": round(t_ours / t_floor, 1), "within_10_seconds": t_ours <= 10,
    }, indent=2))


if __name__ == "__main__":
    main()
