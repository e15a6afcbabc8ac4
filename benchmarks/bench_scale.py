"""One contract's work in a store of 1,000 contracts against the same work in a store that holds only it.

    .venv/bin/python benchmarks/bench_scale.py                             # 1,000 contracts (about 170M measurements)
    .venv/bin/python benchmarks/bench_scale.py --contracts 20 --repeat 1   # a quick look

The large store (PostgreSQL database ``sib_scale_<contracts>``, built once and kept; ``--rebuild`` starts it
again) holds ``--contracts`` contracts of 10,000 pupils each, every one with what a contract in use has: its
version, participants, enrolments, four delivered and verified batches (about 110,000 attendance measurements
and 60,000 survey answers, linked to pupils), an evaluation run with its per-participant outcomes, a sealed
ledger's entries and steps, audit events.  The first contract goes through the engine (``ingest_file``,
``verify_batch``, ``evaluate``, ``calculate``); the others are copies of it made in SQL, each under its own
contract id with its own row ids, written one contract after another as deliveries would be.

The work, timed step by step in a fresh process on each store, for a new contract of 10,000 pupils (the
Hässelby example, synthetic data; the same files each time):

- **deliver**: its participants, attendance and survey files ingested (every check) and verified;
- **evaluate**: ``evaluate`` as of 2025-07-31 (inputs read, estimates, the run and its outcomes stored);
- **pay**: ``calculate`` (the ledger's entries appended and sealed);
- **serve**: an investor's first status (computed) and dashboard page, then 100 more of each (the median).

The small store is a fresh database with nothing else in it.  The stores alternate, ``--repeat`` times, and
medians are reported: ``large ÷ small`` per step, the aim being at most 1.2.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN = os.environ.get("SIB_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TEMPLATE = "scale-0000"
AS_OF = "2025-07-31"

# Tables copied per contract; each integer column that names a row of a copied table is moved with that table.
# (table, how its rows of the template are found)
COPIED = [
    ("contracts", "id = :t"),
    ("contract_versions", "contract_id = :t"),
    ("import_batches", "contract_id = :t"),
    ("participants", "contract_id = :t"),
    ("enrolments", "contract_id = :t"),
    ("measurements", "contract_id = :t"),
    ("survey_answers", "contract_id = :t"),
    ("evaluation_runs", "contract_id = :t"),
    ("evaluation_outcomes", "run_id IN (SELECT id FROM evaluation_runs WHERE contract_id = :t)"),
    ("ledger_entries", "contract_id = :t"),
    ("ledger_steps", "contract_id = :t"),
    ("audit_events", "contract_id = :t"),
]
REFERENCES = {"batch_id": "import_batches", "participant_id": "participants", "run_id": "evaluation_runs",
              "evaluation_run_id": "evaluation_runs", "supersedes_id": "measurements"}

WORK = r"""
import json, os, sys, time, statistics
from datetime import date
from pathlib import Path
sys.path.insert(0, {root!r})
os.environ["SIB_KEY_FILE"] = {key!r}
from fastapi.testclient import TestClient
from api.access import add_user, authenticate
from api.http.app import create_app
from api.web.session import start_session
from contracts import load_contract_text
from contracts.registry import get_contract, store_contract
from evaluation.run import evaluate
from examples.synthetic import CONTRACT_FILES
from outcomes.batches import verify_batch
from outcomes.ingest import ingest_file
from outcomes.pseudonym import load_key
from payments.calculate import calculate
from store.db import open_store

contract_id = {contract!r}
engine = open_store({url!r})
text = Path(CONTRACT_FILES["hasselby-school"]).read_text().replace("id: hasselby-school", "id: " + contract_id, 1)
store_contract(engine, load_contract_text(text))
stored = get_contract(engine, contract_id)
key = load_key(Path({key!r}))
times = {{}}
t = time.perf_counter()
for kind, path in json.loads({files!r}):
    verify_batch(engine, ingest_file(engine, stored.latest.terms, Path(path), kind, key).batch_id)
times["deliver"] = time.perf_counter() - t
t = time.perf_counter()
run = evaluate(engine, stored, date.fromisoformat({as_of!r}))
times["evaluate"] = time.perf_counter() - t
t = time.perf_counter()
calculate(engine, stored, run)
times["pay"] = time.perf_counter() - t
token = add_user(engine, "scale-investor-" + contract_id, "investor", [contract_id])
with engine.connect() as conn:
    session = start_session(engine, authenticate(conn, token).id)
client = TestClient(create_app(engine))
status_url, page_url = f"/api/v1/contracts/{{contract_id}}/status", f"/contracts/{{contract_id}}/dashboard"
auth = {{"Authorization": "Bearer " + token}}

def timed(url, **kw):
    t = time.perf_counter()
    response = client.get(url, **kw)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return time.perf_counter() - t

client.cookies.set("sib_session", session)
times["status_first"] = timed(status_url, headers=auth)
times["status"] = statistics.median(timed(status_url, headers=auth) for _ in range(100))
times["dashboard_first"] = timed(page_url)
times["dashboard"] = statistics.median(timed(page_url) for _ in range(100))
print(json.dumps(times))
"""


def admin_engine() -> sa.Engine:
    return sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")


def database_url(name: str) -> str:
    return make_url(ADMIN).set(database=name).render_as_string(hide_password=False)


def exists(admin: sa.Engine, name: str) -> bool:
    with admin.connect() as conn:
        return conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is not None


def create(admin: sa.Engine, name: str) -> str:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = database_url(name)
    subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                    f"from store.db import init_store; init_store({url!r})"], check=True)
    return url


def template_contract(url: str, files: list[tuple[str, str]], key: Path) -> None:
    """The first contract of the large store, through the engine, in a process of its own."""
    script = WORK.format(root=str(ROOT), key=str(key), url=url, contract=TEMPLATE, files=json.dumps(files),
                         as_of=AS_OF)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)


def copy_statements(conn: sa.Connection) -> tuple[list[sa.TextClause], dict[str, int]]:
    """One INSERT ... SELECT per copied table, parameterised by the copy's number ``:n``; and each table's id
    stride (its largest id before any copy, so that copy n's ids are the template's plus n times the stride)."""
    strides = {}
    for table, where in COPIED:
        if table != "contracts":
            strides[table] = conn.execute(sa.text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
    statements = []
    new_id = "'scale-' || lpad(CAST(:n AS text), 4, '0')"
    for table, where in COPIED:
        columns = conn.execute(sa.text(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = :t "
            "ORDER BY ordinal_position"), {"t": table}).all()
        values = []
        for name, kind in columns:
            if table == "contracts" and name == "id" or name == "contract_id":
                values.append(new_id)
            elif name == "id":
                values.append(f"id + :n * {strides[table]}")
            elif name in REFERENCES and REFERENCES[name] in strides:
                values.append(f"{name} + :n * {strides[REFERENCES[name]]}")
            elif table == "contract_versions" and name == "terms":
                values.append(f"CAST(jsonb_set(CAST(terms AS jsonb), '{{id}}', to_jsonb({new_id})) AS json)")
            else:
                values.append(name)
        names = ", ".join(f'"{name}"' for name, _ in columns)
        # The template's rows are set aside once: found in the growing tables for every copy, they would be
        # looked for through the whole of measurements, which has no index on the contract.
        conn.execute(sa.text(f"CREATE TABLE template_{table} AS SELECT * FROM {table} WHERE {where}"), {"t": TEMPLATE})
        statements.append(sa.text(f"INSERT INTO {table} ({names}) SELECT {', '.join(values)} FROM template_{table} "
                                  f"ORDER BY id"))
    return statements, strides


def build(admin: sa.Engine, contracts: int, files: list[tuple[str, str]], key: Path) -> str:
    name = f"sib_scale_{contracts}"
    url = create(admin, name)
    template_contract(url, files, key)
    engine = sa.create_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        statements, _ = copy_statements(conn)
    for n in range(1, contracts):
        with engine.begin() as conn:  # one contract after another, as their deliveries would have come
            for statement in statements:
                conn.execute(statement, {"n": n})
        if n % 50 == 0 or n == contracts - 1:
            print(f"  {n + 1} contracts, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    with engine.begin() as conn:  # sequences past the copies' ids, so that new rows get new ids
        for table, _ in COPIED:
            conn.execute(sa.text(f"DROP TABLE template_{table}"))
            if table != "contracts":
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))
    engine.dispose()
    vacuum = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with vacuum.connect() as conn:  # settled statistics and visibility, as a store in use has
        conn.execute(sa.text("VACUUM ANALYZE"))
    vacuum.dispose()
    return url


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = {table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                 for table in ("contracts", "participants", "measurements", "evaluation_outcomes")}
        found["database_mib"] = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one() >> 20
    engine.dispose()
    return found


def work(url: str, files: list[tuple[str, str]], key: Path) -> dict[str, float]:
    contract = f"target-{uuid.uuid4().hex[:8]}"
    script = WORK.format(root=str(ROOT), key=str(key), url=url, contract=contract, files=json.dumps(files),
                         as_of=AS_OF)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the measured work failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="build the large store again")
    args = parser.parse_args()
    from examples.synthetic import hasselby
    from outcomes.pseudonym import init_key

    admin = admin_engine()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        key = folder / "sib.key"
        keep = Path(tempfile.gettempdir()) / "sib-scale.key"  # the large store's key, kept with it
        if not keep.exists():
            init_key(keep)
        key.write_bytes(keep.read_bytes())
        files = [(kind, str(path)) for kind, path in hasselby(folder, n=10_000)]
        large = f"sib_scale_{args.contracts}"
        if args.rebuild or not exists(admin, large):
            print(f"building {large} ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            build(admin, args.contracts, files, key)
            print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        large_url = database_url(large)
        result: dict[str, object] = {"contracts": args.contracts, "repeat": args.repeat, "large_store": counts(large_url)}
        small_runs, large_runs = [], []
        for _ in range(args.repeat):
            small = f"sib_scale_small_{uuid.uuid4().hex[:8]}"
            try:
                small_runs.append(work(create(admin, small), files, key))
            finally:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{small}" WITH (FORCE)'))
            large_runs.append(work(large_url, files, key))
    admin.dispose()
    steps = list(small_runs[0])
    small_median = {s: statistics.median(r[s] for r in small_runs) for s in steps}
    large_median = {s: statistics.median(r[s] for r in large_runs) for s in steps}
    result["seconds_small"] = {s: round(v, 4) for s, v in small_median.items()}
    result["seconds_large"] = {s: round(v, 4) for s, v in large_median.items()}
    result["large_to_small"] = {s: round(large_median[s] / small_median[s], 2) for s in steps}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
