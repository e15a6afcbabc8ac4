"""Matched comparison at scale, end to end from the store, and beside PSM libraries from PyPI.

    .venv/bin/pip install psmpy scikit-learn seaborn        # the peers, not project dependencies
    .venv/bin/python benchmarks/bench_matching.py [--treated 10000 --pool 1000000] [--peer-treated 2000 --peer-pool 50000]

1. Scale: a contract with a matched design on 8 covariates; 10,000 treated
   and a pool of 1,000,000 ingested through the normal path into SQLite; then,
   in a fresh process, ``evaluate`` end to end (read from the store,
   per-participant outcomes, propensity model, matching, Abadie-Imbens
   standard error, balance table, run stored).  Wall time and peak memory.
2. Peers, on the same generated data: psmpy (scikit-learn logistic regression
   and k-d tree matching on the logit, with replacement, the same caliper) at
   full size, and causalinference (nearest-neighbour matching on the same
   propensity logit; it compares every treated unit with every pool member,
   so it runs at a smaller size, where ours is run again on the same rows).
   Time ratios (peer / ours) and the difference in the estimated effect.
3. The cost of order independence (``--ties``): ``match`` as it is (rows put
   in a data-derived order, every tied neighbour used) against ``match`` as it
   was before (first tie in file order), read from git at ``--baseline``, on
   the same rows in the same process, alternated and repeated; on the
   benchmark's 8 covariates and on the 6 integer and categorical ones alone,
   where identical people, and so ties, are common.  ``--ties-only`` skips 1
   and 2.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONTRACT = """
id: bench-matching
name: Matching benchmark (synthetic)
currency: SEK
term: {start: 2020-01-01, end: 2024-12-31}
parties:
  - {id: city, name: City, role: payer}
target_group:
  description: Synthetic participants
  attributes:
    - {name: age, type: integer}
    - {name: prior, type: integer}
    - {name: months, type: number}
    - {name: income, type: number}
    - {name: children, type: integer}
    - {name: offence, type: category, values: [a, b, c, d]}
    - {name: sex, type: category, values: [female, male]}
    - {name: region, type: category, values: [n, s, e, w, c]}
cohorts:
  - {id: c1, name: Cohort 1, enrolment_start: 2020-01-01, enrolment_end: 2021-12-31}
metrics:
  - id: events
    name: Events in a year
    kind: count
    direction: lower_is_better
    window: {start_months: 0, end_months: 12}
    aggregation: sum
    missing: zero
    evaluation:
      design: matched_comparison
      covariates: [age, prior, months, income, children, offence, sex, region]
      caliper: 0.2
      neighbours: 1
payments:
  payers: [{party: city, share: 1}]
  mechanisms:
    - {id: m, type: comparison_threshold, metric: events, cohort_threshold: 0.1, price_per_unit: 1}
"""
COVARIATES = ["age", "prior", "months", "income", "children", "offence", "sex", "region"]


def generate(folder: Path, treated: int, pool: int, seed: int = 7) -> None:
    """Treated are younger with more priors than the pool; the true effect is -0.1 events."""
    rng = np.random.default_rng(seed)

    def people(prefix: str, n: int, age: float, prior: float) -> pd.DataFrame:
        start = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
        return pd.DataFrame({
            "participant_id": [f"{prefix}{i:07d}" for i in range(n)], "start": start.strftime("%Y-%m-%d"),
            "age": np.clip(rng.normal(age, 8, n).round(), 18, 80).astype(int),
            "prior": rng.poisson(prior, n), "months": rng.uniform(1, 12, n).round(1),
            "income": rng.gamma(2, 100, n).round(1), "children": rng.poisson(1, n),
            "offence": rng.choice(list("abcd"), n), "sex": rng.choice(["female", "male"], n, p=[0.2, 0.8]),
            "region": rng.choice(list("nsewc"), n),
        })

    t, c = people("T", treated, 30, 4), people("C", pool, 36, 2)
    for frame, effect in ((t, -0.1), (c, 0.0)):
        rate = np.exp(-1.2 + 0.08 * frame["prior"] - 0.01 * (frame["age"] - 30)) + effect
        frame["events"] = rng.poisson(np.clip(rate, 0.01, None))
    t.drop(columns="events").to_csv(folder / "treated.csv", index=False)
    c.drop(columns="events").to_csv(folder / "pool.csv", index=False)
    both = pd.concat([t, c])
    both[["participant_id", "events"]].assign(metric="events", date=(pd.to_datetime(both["start"])
                                              + pd.Timedelta(days=30)).dt.strftime("%Y-%m-%d")).rename(
        columns={"events": "value"})[["participant_id", "metric", "date", "value"]].to_csv(folder / "events.csv", index=False)
    pd.concat([t.assign(treated=1), c.assign(treated=0)]).to_csv(folder / "all.csv", index=False)


PREPARE = r"""
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from contracts import load_contract_text
from contracts.registry import get_contract, store_contract
from outcomes.batches import verify_batch
from outcomes.ingest import ingest_file
from store.db import init_store, open_store
folder = Path({folder!r})
url = f"sqlite:///{{folder / 'bench.db'}}"
init_store(url)
engine = open_store(url)
store_contract(engine, load_contract_text({contract!r}))
contract = get_contract(engine, "bench-matching").latest.terms
for kind, name in (("participants", "treated.csv"), ("comparison", "pool.csv"), ("measurements", "events.csv")):
    verify_batch(engine, ingest_file(engine, contract, folder / name, kind, bytes(range(32))).batch_id)
"""

# The same store, built faster for a pool of millions: the first rows of each file go through the normal ingestion
# path (batches, checks, the stored formats), the rest are appended to the same batches with plain bulk SQL in the
# formats those rows show (pseudonym, attribute JSON, dates).  Ingesting 10,000,000 pool members the normal way
# takes about 25 minutes; this takes a few.  ``--check-bulk`` builds a small store both ways and compares the
# evaluation's input fingerprint, which covers every row that evaluation reads.
PREPARE_BULK = r"""
import json, sqlite3, sys
from pathlib import Path
import pandas as pd
sys.path.insert(0, {root!r})
from contracts import load_contract_text
from contracts.registry import get_contract, store_contract
from outcomes.batches import verify_batch
from outcomes.ingest import ingest_file
from outcomes.pseudonym import pseudonymise
from store.db import init_store, open_store
folder, head, treated = Path({folder!r}), {head}, {treated}
key, contract_id = bytes(range(32)), "bench-matching"
url = f"sqlite:///{{folder / 'bench.db'}}"
init_store(url)
engine = open_store(url)
store_contract(engine, load_contract_text({contract!r}))
contract = get_contract(engine, contract_id).latest.terms
pd.read_csv(folder / "pool.csv", nrows=head).to_csv(folder / "pool_head.csv", index=False)
pd.read_csv(folder / "events.csv", nrows=treated + head).to_csv(folder / "events_head.csv", index=False)
batches = {{}}
for kind, name in (("participants", "treated.csv"), ("comparison", "pool_head.csv"), ("measurements", "events_head.csv")):
    batches[kind] = ingest_file(engine, contract, folder / name, kind, key).batch_id
    verify_batch(engine, batches[kind])
db = sqlite3.connect(folder / "bench.db")
attributes = [a for a in pd.read_csv(folder / "pool_head.csv", nrows=1).columns if a not in ("participant_id", "start")]
sample = json.loads(db.execute("SELECT attributes FROM participants WHERE batch_id = ? LIMIT 1",
                               (batches["comparison"],)).fetchone()[0])
assert list(sample) == attributes, (list(sample), attributes)
cohorts = db.execute("SELECT DISTINCT cohort FROM enrolments WHERE batch_id = ?", (batches["comparison"],)).fetchall()
assert len(cohorts) == 1, cohorts  # every start falls in the contract's one cohort, as ingestion assigned it
events = pd.read_csv(folder / "events.csv", skiprows=range(1, treated + head + 1), chunksize=500_000)
for chunk in pd.read_csv(folder / "pool.csv", skiprows=range(1, head + 1), chunksize=500_000):
    measured = next(events)
    assert (measured["participant_id"].to_numpy() == chunk["participant_id"].to_numpy()).all()
    names = [pseudonymise(key, contract_id, ref) for ref in chunk["participant_id"]]
    records = chunk[attributes].to_dict("records")
    last = db.execute("SELECT COALESCE(MAX(id), 0) FROM participants").fetchone()[0]
    db.executemany("INSERT INTO participants (contract_id, pseudonym, birth_year, legal_sex, attributes, batch_id) "
                   "VALUES (?, ?, NULL, NULL, ?, ?)",
                   [(contract_id, n, json.dumps(r), batches["comparison"]) for n, r in zip(names, records)])
    ids = list(range(last + 1, last + 1 + len(chunk)))
    db.executemany("INSERT INTO enrolments (contract_id, participant_id, cohort, arm, start, exit, batch_id) "
                   "VALUES (?, ?, ?, 'comparison', ?, NULL, ?)",
                   [(contract_id, i, cohorts[0][0], s, batches["comparison"]) for i, s in zip(ids, chunk["start"])])
    db.executemany("INSERT INTO measurements (contract_id, participant_id, metric, observed_on, value, status, source, "
                   "qualifier, supersedes_id, batch_id) VALUES (?, ?, ?, ?, ?, 'reported', NULL, NULL, NULL, ?)",
                   [(contract_id, i, m, d, float(v), batches["measurements"]) for i, m, d, v in
                    zip(ids, measured["metric"], measured["date"], measured["value"])])
    db.commit()
"""

FINGERPRINT = r"""
import sys
from datetime import date
sys.path.insert(0, {root!r})
from evaluation.inputs import load_inputs
from store.db import open_store
print(load_inputs(open_store("sqlite:///{folder}/bench.db"), "bench-matching", date(2024, 6, 1)).fingerprint())
"""

EVALUATE = r"""
import sys, time, resource, json
from datetime import date
sys.path.insert(0, {root!r})
from contracts.registry import get_contract
from evaluation.run import evaluate
from store.db import open_store
engine = open_store("sqlite:///{folder}/bench.db")
t = time.perf_counter()
run = evaluate(engine, get_contract(engine, "bench-matching"), date(2024, 6, 1))
seconds = time.perf_counter() - t
r = run.result("events")
print(json.dumps({{"seconds": seconds, "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "estimate": r.estimate, "ci": [r.ci_low, r.ci_high], "n_treated": r.n_treated,
                  "n_comparison": r.n_comparison, "warnings": [str(w) for w in r.warnings]}}))
"""


def ours_in_memory(data: pd.DataFrame) -> tuple[float, float]:
    from evaluation.matching import match

    treated = data[data.treated == 1].rename(columns={"events": "value"}).reset_index(drop=True)
    pool = data[data.treated == 0].rename(columns={"events": "value"}).reset_index(drop=True)
    start = time.perf_counter()
    m = match(treated, pool, COVARIATES, [], caliper_sd=0.2, k=1, replacement=True)
    return time.perf_counter() - start, m.att


def psmpy_peer(data: pd.DataFrame) -> tuple[float, float]:
    from psmpy import PsmPy

    frame = pd.get_dummies(data[["participant_id", "treated", *COVARIATES]], columns=["offence", "sex", "region"],
                           drop_first=True, dtype=float)
    start = time.perf_counter()
    psm = PsmPy(frame, treatment="treated", indx="participant_id", exclude=[])
    psm.logistic_ps(balance=False)
    psm.kdtree_matched(matcher="propensity_logit", replacement=True, caliper=0.2)
    seconds = time.perf_counter() - start
    matched = psm.df_matched
    outcome = data.set_index("participant_id")["events"]
    treated_ids = matched[matched["treated"] == 1]["participant_id"]
    pairs = psm.matched_ids
    att = float((outcome.loc[pairs.iloc[:, 0]].to_numpy() - outcome.loc[pairs.iloc[:, 1]].to_numpy()).mean())
    del treated_ids
    return seconds, att


def causalinference_peer(data: pd.DataFrame) -> tuple[float, float]:
    from causalinference import CausalModel

    from evaluation.covariates import design_matrix
    from evaluation.matching import propensity_logit

    x = design_matrix(data, COVARIATES)
    score = propensity_logit(x, data["treated"].to_numpy().astype(bool))
    start = time.perf_counter()
    model = CausalModel(data["events"].to_numpy(dtype=float), data["treated"].to_numpy(dtype=int), score.reshape(-1, 1))
    model.est_via_matching(matches=1, bias_adj=False)
    return time.perf_counter() - start, float(model.estimates["matching"]["att"])


BASELINE = "1b4ce4c6e2dae3cbe8b43f3d88c59c7dfa899af6"  # the last commit whose matching kept the first tie


def tie_cost(data: pd.DataFrame, baseline: str, repeat: int) -> dict[str, object]:
    """Median seconds of ``match`` now and before tie handling, same rows, alternated; the ratio now / before."""
    from evaluation import matching

    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{baseline}:evaluation/matching.py"],
                            capture_output=True, text=True, check=True).stdout
    before = types.ModuleType("matching_before_ties")
    sys.modules[before.__name__] = before
    exec(compile(source, "matching_before_ties.py", "exec"), before.__dict__)
    treated = data[data.treated == 1].rename(columns={"events": "value"}).reset_index(drop=True)
    pool = data[data.treated == 0].rename(columns={"events": "value"}).reset_index(drop=True)
    out: dict[str, object] = {}
    for label, covariates in (("8 covariates", COVARIATES),
                              ("6 integer/categorical covariates", ["age", "prior", "children", "offence", "sex", "region"])):
        times: dict[str, list[float]] = {"now": [], "before": []}
        cpu: dict[str, list[float]] = {"now": [], "before": []}
        results = {}
        for n in range(repeat):
            pair = (("before", before), ("now", matching))
            for name, module in pair if n % 2 == 0 else pair[::-1]:  # alternate which goes first
                start, start_cpu = time.perf_counter(), time.process_time()
                results[name] = module.match(treated, pool, covariates, [], caliper_sd=0.2, k=1, replacement=True)
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
        now, was = statistics.median(times["now"]), statistics.median(times["before"])
        now_cpu, was_cpu = statistics.median(cpu["now"]), statistics.median(cpu["before"])
        out[label] = {"seconds_now": round(now, 2), "seconds_before": round(was, 2), "ratio_now_to_before": round(now / was, 3),
                      "cpu_seconds_now": round(now_cpu, 2), "cpu_seconds_before": round(was_cpu, 2),
                      "cpu_ratio_now_to_before": round(now_cpu / was_cpu, 3),
                      "estimate_now": results["now"].att, "estimate_before": results["before"].att,
                      "se_now": results["now"].se, "se_before": results["before"].se,
                      "treated_with_tied_matches": results["now"].diagnostics["treated_with_tied_matches"],
                      "most_matches": results["now"].diagnostics["most_matches"]}
    return out


def check_bulk(folder: Path, fill: dict[str, object]) -> bool:
    """Build the store through ingestion and in bulk from the same files; True when evaluation reads the same."""
    prints = []
    for name, script in (("ingest", PREPARE), ("bulk", PREPARE_BULK)):
        (folder / "bench.db").unlink(missing_ok=True)
        subprocess.run([sys.executable, "-c", script.format(**fill)], check=True)
        out = subprocess.run([sys.executable, "-c", FINGERPRINT.format(**fill)], capture_output=True, text=True,
                             check=True)
        prints.append(out.stdout.strip())
    return prints[0] == prints[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--treated", type=int, default=10_000)
    parser.add_argument("--pool", type=int, default=1_000_000)
    parser.add_argument("--peer-treated", type=int, default=2_000)
    parser.add_argument("--peer-pool", type=int, default=50_000)
    parser.add_argument("--ties", action="store_true", help="also time tie handling against --baseline")
    parser.add_argument("--ties-only", action="store_true", help="only time tie handling against --baseline")
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--prepare", choices=["auto", "ingest", "bulk"], default="auto",
                        help="how to build the store: the ingestion path, or bulk SQL after the first rows "
                             "(auto: bulk above a pool of 1,000,000)")
    parser.add_argument("--keep", metavar="DIR",
                        help="generate and build the store in DIR and keep it; reused when the sizes are the same")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="only the end-to-end evaluation from the store (no peers)")
    parser.add_argument("--check-bulk", action="store_true",
                        help="only build the store both ways and compare the evaluation's input fingerprints")
    args = parser.parse_args()
    result: dict[str, object] = {"treated": args.treated, "pool": args.pool, "covariates": len(COVARIATES)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        sizes = json.dumps([args.treated, args.pool])
        kept = args.keep and (folder / "bench.db").exists() and (folder / "sizes.json").exists() \
            and (folder / "sizes.json").read_text() == sizes
        if not kept:
            (folder / "sizes.json").unlink(missing_ok=True)
            (folder / "bench.db").unlink(missing_ok=True)
            generate(folder, args.treated, args.pool)
        if args.ties or args.ties_only:
            result["tie_handling"] = tie_cost(pd.read_csv(folder / "all.csv"), args.baseline, args.repeat)
        if args.ties_only:
            result["benchmark_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            print(json.dumps(result, indent=2))
            return
        fill = dict(root=str(ROOT), folder=str(folder), contract=CONTRACT, head=1000, treated=args.treated)
        if args.check_bulk:
            result["bulk_store_same_fingerprint"] = check_bulk(folder, fill)
            print(json.dumps(result, indent=2))
            return
        bulk = args.prepare == "bulk" or (args.prepare == "auto" and args.pool > 1_000_000)
        result["store_built"] = "bulk" if bulk else "ingest"
        if not kept:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", (PREPARE_BULK if bulk else PREPARE).format(**fill)], check=True)
            result["store_build_seconds"] = round(time.perf_counter() - start, 1)
            if args.keep:
                (folder / "sizes.json").write_text(sizes)
        if args.evaluate_only:
            out = subprocess.run([sys.executable, "-c", EVALUATE.format(**fill)], capture_output=True, text=True,
                                 check=True)
            scale = json.loads(out.stdout)
            result.update(end_to_end_seconds=round(scale["seconds"], 2), end_to_end_peak_rss_mib=round(scale["rss_kib"] / 1024),
                          estimate=scale["estimate"], ci=scale["ci"], matched=[scale["n_treated"], scale["n_comparison"]])
            print(json.dumps(result, indent=2))
            return
        out = subprocess.run([sys.executable, "-c", EVALUATE.format(**fill)], capture_output=True, text=True, check=True)
        scale = json.loads(out.stdout)
        result["end_to_end_seconds"] = round(scale["seconds"], 2)
        result["end_to_end_peak_rss_mib"] = round(scale["rss_kib"] / 1024)
        result["estimate"] = scale["estimate"]
        result["ci"] = scale["ci"]
        result["matched"] = [scale["n_treated"], scale["n_comparison"]]
        data = pd.read_csv(folder / "all.csv")

        ours_seconds, ours_att = ours_in_memory(data)
        result["ours_in_memory_seconds"] = round(ours_seconds, 2)
        small = pd.concat([data[data.treated == 1].head(args.peer_treated), data[data.treated == 0].head(args.peer_pool)])
        ours_small_seconds, ours_small_att = ours_in_memory(small)
        result["ours_at_peer_size"] = {"size": [args.peer_treated, args.peer_pool], "seconds": round(ours_small_seconds, 3),
                                       "estimate": ours_small_att}
        for name, peer in (("psmpy", psmpy_peer), ("causalinference", causalinference_peer)):
            entries = []
            sizes = [(data, args.treated, args.pool, ours_seconds, ours_att)] if name == "psmpy" else []
            sizes.append((small, args.peer_treated, args.peer_pool, ours_small_seconds, ours_small_att))
            for frame, n_treated, n_pool, base_seconds, base_att in sizes:
                try:
                    peer_seconds, peer_att = peer(frame)
                except Exception as exc:  # a peer that cannot cope is reported, not fatal
                    entries.append({"size": [n_treated, n_pool], "failed": f"{type(exc).__name__}: {exc}"[:200]})
                    continue
                entries.append({"size": [n_treated, n_pool], "seconds": round(peer_seconds, 2),
                                "time_ratio_peer_to_ours": round(peer_seconds / base_seconds, 1), "estimate": peer_att,
                                "estimate_difference_peer_minus_ours": peer_att - base_att})
            result[name] = entries
    result["benchmark_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
