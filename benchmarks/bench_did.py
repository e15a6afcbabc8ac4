"""Two-way fixed-effects difference-in-differences with its event study, beside pyfixest, on the same data.

    .venv/bin/pip install pyfixest                          # the peer (a test dependency)
    .venv/bin/python benchmarks/bench_did.py [--units 100000 --periods 10 --repeat 3]

A balanced panel of ``units`` x ``periods`` (1,000,000 rows by default), half the units treated from the middle
period, a unit level, a common trend and noise.  Each repeat, in a fresh process, times alternately:

- ours: ``evaluation.did.estimate`` — the DiD coefficient with its unit-clustered (CR1) standard error, t(G-1)
  interval and p-value, cell means, and the event study (one treated-by-period term per period but the reference,
  period and unit effects) with the joint pre-trend Wald test;
- pyfixest: ``feols("value ~ effect | unit + period", vcov={"CRV1": "unit"})`` and
  ``feols("value ~ i(period, treated, ref=-1) | unit + period", vcov={"CRV1": "unit"})`` — the same two models
  (pyfixest warmed up once first, so its numba compilation is not counted).

Reports medians, the ratio pyfixest time / our time, and the largest difference in coefficients and standard errors.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def data(units: int, periods: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(units), periods)
    period = np.tile(np.arange(periods) - periods // 2, units)
    treated = (unit % 2 == 0).astype(float)
    post = (period >= 0).astype(float)
    value = (rng.normal(0, 1, units)[unit] + 0.1 * period + 0.5 * treated * post + rng.normal(0, 1, len(unit)))
    return pd.DataFrame({"unit": unit, "period": period, "value": value, "treated": treated, "post": post})


def child(which: str, units: int, periods: int) -> dict:
    frame = data(units, periods)
    if which == "ours":
        from contracts import load_contract_text
        from evaluation import did
        from tests.helpers import MINIMAL

        metric = load_contract_text(MINIMAL).contract.metrics[0].model_copy(update={"kind": "continuous"}, deep=True)
        metric.evaluation.design = "difference_in_differences"
        start = time.perf_counter()
        r = did.estimate(frame, metric, "all")
        seconds = time.perf_counter() - start
        coefficients = {k: [v["estimate"], v["se"]] for k, v in r.diagnostics["pre_trends"]["coefficients"].items()}
        return {"seconds": seconds, "effect": [r.estimate, r.se], "event": coefficients,
                "pre_trends_p": r.diagnostics["pre_trends"]["p_value"]}
    import pyfixest as pf

    frame["effect"] = frame["treated"] * frame["post"]
    small = data(200, periods)
    small["effect"] = small["treated"] * small["post"]
    pf.feols("value ~ effect | unit + period", data=small, vcov={"CRV1": "unit"})  # warm-up: numba compilation
    pf.feols("value ~ i(period, treated, ref=-1) | unit + period", data=small, vcov={"CRV1": "unit"})
    start = time.perf_counter()
    a = pf.feols("value ~ effect | unit + period", data=frame, vcov={"CRV1": "unit"})
    b = pf.feols("value ~ i(period, treated, ref=-1) | unit + period", data=frame, vcov={"CRV1": "unit"})
    seconds = time.perf_counter() - start
    event = {}
    for name, coef in b.coef().items():  # e.g. period::-5:treated
        p = int(str(name).split("::")[1].split(":")[0])
        event[f"treated_at_{p}".replace("-", "m")] = [float(coef), float(b.se()[name])]
    return {"seconds": seconds, "effect": [float(a.coef()["effect"]), float(a.se()["effect"])], "event": event}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--periods", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=["ours", "pyfixest"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.units, args.periods)))
        return
    runs: dict[str, list[dict]] = {"ours": [], "pyfixest": []}
    for _ in range(args.repeat):
        for which in ("ours", "pyfixest"):
            out = subprocess.run([sys.executable, __file__, "--child", which, "--units", str(args.units),
                                  "--periods", str(args.periods)], capture_output=True, text=True, check=True)
            runs[which].append(json.loads(out.stdout.strip().splitlines()[-1]))
    ours = float(np.median([r["seconds"] for r in runs["ours"]]))
    peer = float(np.median([r["seconds"] for r in runs["pyfixest"]]))
    a, b = runs["ours"][0], runs["pyfixest"][0]
    diff_effect = [abs(x - y) for x, y in zip(a["effect"], b["effect"])]
    shared = sorted(set(a["event"]) & set(b["event"]))
    diff_event = max(abs(a["event"][k][i] - b["event"][k][i]) / max(abs(b["event"][k][i]), 1e-12)
                     for k in shared for i in (0, 1))
    print(f"{args.units:,} units x {args.periods} periods = {args.units * args.periods:,} rows, {args.repeat} repeats")
    print(f"ours (DiD + event study):     median {ours:.2f} s   {[round(r['seconds'], 2) for r in runs['ours']]}")
    print(f"pyfixest (the same two fits): median {peer:.2f} s   {[round(r['seconds'], 2) for r in runs['pyfixest']]}")
    print(f"pyfixest time / our time: {peer / ours:.2f}")
    print(f"effect {a['effect'][0]:.6f} (SE {a['effect'][1]:.6f}); |difference| coefficient {diff_effect[0]:.2e}, "
          f"SE {diff_effect[1]:.2e}; event study: {len(shared)} terms, largest relative difference {diff_event:.2e}")


if __name__ == "__main__":
    main()
