"""The HTTP API: an authorization matrix, privacy, error shapes, limits, concurrency, and schemathesis."""

from __future__ import annotations

import json
import re
import threading
from typing import Any, Iterator

import pytest

from payments.evidence import FLAGS as ALL_FLAGS
from store.seal import key_file
import schemathesis
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.access import add_user
from api.http import create_app
from evaluation.run import evaluate
from outcomes.batches import verify_batch
from outcomes.ingest import ingest_file
from outcomes.pseudonym import init_key, load_key
from payments.calculate import calculate
from payments.ledger import take_step, verify_chain
from store.db import init_store, open_store
from store.tables import AuditEventRow, ImportBatchRow, LedgerStepRow
from tests.helpers import MINIMAL, stored_minimal

TWO_PAYERS = (MINIMAL.replace("  - {id: fund, name: Fund, role: investor}",
                              "  - {id: fund, name: Fund, role: investor}\n  - {id: region, name: Region, role: payer}")
              .replace("    - {party: city, share: 1}", "    - {party: city, share: 0.5}\n    - {party: region, share: 0.5}")
              .replace("    - {id: card, type: rate_card, metric: attendance, price: 1000, cap: 50000}",
                       "    - {id: card, type: rate_card, metric: attendance, price: 1000, cap: 50000}\n"
                       "    - {id: bonus, type: milestone, metric: exclusion, amount: 100}")
              .replace("    total: 60000", "    total: 100000"))
OTHER = TWO_PAYERS.replace("id: test-contract", "id: other-contract", 1)
ROLES = ("intermediary", "investor", "payer", "provider")


def _start(i: int) -> str:
    return f"2020-{1 + i % 11:02d}-01" if i % 2 == 0 else f"2021-{1 + i % 5:02d}-01"


def people(prefix: str, n: int, start: int = 0) -> str:
    return "participant_id,start,school_year,sex\n" + "".join(
        f"{prefix}{i:03d},{_start(i)},{4 + i % 6},{'female' if i % 2 else 'male'}\n" for i in range(start, start + n))


def measurements(prefix: str, n: int) -> str:
    rows = [f"{prefix}{i:03d},attendance,{_start(i)[:8]}20,{0.85 + (i % 4) * 0.05:.2f}" for i in range(n)]
    rows += [f"{prefix}{i:03d},exclusion,{_start(i)[:8]}21,{i % 3 == 0:d}" for i in range(n)]
    return "participant_id,metric,date,value\n" + "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def world(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A store with two contracts, data, a run, a ledger with entries in every status, and a user per role."""
    folder = tmp_path_factory.mktemp("api")
    url = module_url  # SQLite, then PostgreSQL
    init_store(url)
    engine = open_store(url)
    key_path = init_key(folder / "sib.key")
    key = load_key(key_path)
    sealing = key_file(key_path)  # one key, as in a real store: it pseudonymises and seals
    sealing.__enter__()
    stored = stored_minimal(engine, TWO_PAYERS)
    stored_minimal(engine, OTHER)
    contract = stored.latest.terms
    for kind, name, text in (("participants", "p.csv", people("A", 40)), ("measurements", "m.csv", measurements("A", 40))):
        (folder / name).write_text(text)
        # delivered by the contract's provider (its user sees these batches and participants)
        verify_batch(engine, ingest_file(engine, contract, folder / name, kind, key, provider="provider").batch_id)
    (folder / "late.csv").write_text(people("B", 3))
    unverified = ingest_file(engine, contract, folder / "late.csv", "participants", key).batch_id
    run = evaluate(engine, stored, __import__("datetime").date(2022, 6, 30))
    entries = [e["seq"] for e in calculate(engine, stored, run)]
    take_step(engine, "test-contract", entries[2:8], "approved", "setup", "evidence read", acknowledged=ALL_FLAGS)
    take_step(engine, "test-contract", entries[6:8], "invoiced", "setup")
    tokens = {role: add_user(engine, f"{role}-1", role, ["test-contract"], party={"payer": "city", "provider": "provider"}.get(role))
              for role in ROLES}
    tokens["intermediary-all"] = add_user(engine, "everything", "intermediary", [], all_contracts=True)
    app = create_app(engine)
    yield {"engine": engine, "app": app, "client": TestClient(app), "tokens": tokens, "entries": entries,
           "unverified": unverified, "run": run.id, "folder": folder, "key_path": key_path}
    sealing.__exit__(None, None, None)
    engine.dispose()


@pytest.fixture(autouse=True)
def key_env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIB_KEY_FILE", str(world["key_path"]))


def call(world: dict[str, Any], method: str, path: str, role: str | None, **kwargs: Any) -> Any:
    headers = dict(kwargs.pop("headers", {}))
    if role:
        headers["Authorization"] = f"Bearer {world['tokens'][role]}"
    return world["client"].request(method, path, headers=headers, **kwargs)


# -- the matrix -----------------------------------------------------------------------------------------------------

def _routes(world: dict[str, Any]) -> list[tuple[str, str, str, int, dict[str, Any], set[str]]]:
    """(name, method, path with {c}, success status, request arguments, roles allowed)."""
    e = world["entries"]
    run = world["run"]
    upload = {"data": {"kind": "participants"}}
    return [
        ("contract", "GET", "/api/v1/contracts/{c}", 200, {}, set(ROLES)),
        ("versions", "GET", "/api/v1/contracts/{c}/versions", 200, {}, set(ROLES)),
        ("batches", "GET", "/api/v1/contracts/{c}/batches", 200, {}, {"intermediary", "provider"}),
        ("batch", "GET", "/api/v1/contracts/{c}/batches/1", 200, {}, {"intermediary", "provider"}),
        ("upload", "POST", "/api/v1/contracts/{c}/batches", 201, upload, {"intermediary", "provider"}),
        ("verify", "POST", f"/api/v1/contracts/{{c}}/batches/{world['unverified']}/verify", 200, {}, {"intermediary"}),
        ("participants", "GET", "/api/v1/contracts/{c}/participants", 200, {}, {"intermediary", "provider"}),
        ("evaluate", "POST", "/api/v1/contracts/{c}/evaluations", 201, {"json": {"as_of": "2022-06-30"}},
         {"intermediary"}),
        ("evaluations", "GET", "/api/v1/contracts/{c}/evaluations", 200, {}, set(ROLES)),
        ("evaluation", "GET", f"/api/v1/contracts/{{c}}/evaluations/{run}", 200, {}, set(ROLES)),
        ("diff", "GET", f"/api/v1/contracts/{{c}}/evaluations/{run}/diff/{run}", 200, {}, set(ROLES)),
        ("calculate", "POST", "/api/v1/contracts/{c}/payments", 201, {"json": {}}, {"intermediary"}),
        ("ledger", "GET", "/api/v1/contracts/{c}/ledger", 200, {}, {"intermediary", "payer"}),
        ("approve", "POST", f"/api/v1/contracts/{{c}}/ledger/{e[0]}/approve", 200, {}, {"payer"}),
        ("reject", "POST", f"/api/v1/contracts/{{c}}/ledger/{e[0]}/reject", 200, {"json": {"reason": "disputed"}},
         {"payer"}),
        ("invoice", "POST", "/api/v1/contracts/{c}/ledger/{invoice}/invoice", 200, {}, {"intermediary", "provider"}),
        ("pay", "POST", f"/api/v1/contracts/{{c}}/ledger/{e[6]}/pay", 200, {}, {"payer"}),
        ("schedule", "GET", "/api/v1/contracts/{c}/schedule", 200, {}, {"intermediary", "payer"}),
        ("csv", "GET", "/api/v1/contracts/{c}/exports/schedule.csv", 200, {}, {"intermediary", "payer"}),
        ("xlsx", "GET", "/api/v1/contracts/{c}/exports/schedule.xlsx", 200, {}, {"intermediary", "payer"}),
        ("status", "GET", "/api/v1/contracts/{c}/status", 200, {}, {"intermediary", "investor", "payer"}),
        ("audit", "GET", "/api/v1/contracts/{c}/audit", 200, {}, {"intermediary"}),
        ("indigo", "GET", "/api/v1/contracts/{c}/indigo/compare", 200, {}, {"intermediary"}),
    ]


def test_authorization_matrix(world: dict[str, Any]) -> None:
    """Every route × every role × own and other contract, with the exact status."""
    e = world["entries"]
    invoice_entry = {"intermediary": e[2], "provider": e[3]}  # each invoicing role its own approved entry
    wrong = []
    for name, method, template, success, kwargs, allowed in _routes(world):
        for role in ROLES:
            for contract, expected in (("other-contract", 404), ("test-contract", success if role in allowed else 403)):
                path = template.format(c=contract, invoice=invoice_entry.get(role, e[2]))
                args = dict(kwargs)
                if name == "upload":
                    args["files"] = {"file": (f"{role}.csv", people(role[:2].upper(), 2, start=500).encode(), "text/csv")}
                got = call(world, method, path, role, **args)
                if got.status_code != expected:
                    wrong.append(f"{name} {role} {contract}: {got.status_code} (expected {expected}) {got.text[:160]}")
            missing = call(world, method, template.format(c="test-contract", invoice=e[2]), None, **kwargs)
            if missing.status_code != 401:
                wrong.append(f"{name} without a token: {missing.status_code}")
    assert wrong == []


def test_tokens_bad_revoked_and_the_contract_list(world: dict[str, Any]) -> None:
    from api.access import revoke_user

    client = world["client"]
    bad = client.get("/api/v1/contracts", headers={"Authorization": "Bearer sib_not-a-token"})
    assert bad.status_code == 401
    assert bad.json() == {"error": {"status": 401, "code": "unauthenticated", "details": None,
                                    "message": "a valid API token is needed: Authorization: Bearer <token>"}}
    assert [c["id"] for c in call(world, "GET", "/api/v1/contracts", "payer").json()["items"]] == ["test-contract"]
    assert [c["id"] for c in call(world, "GET", "/api/v1/contracts", "intermediary-all").json()["items"]] == [
        "other-contract", "test-contract"]
    token = add_user(world["engine"], "leaver", "investor", ["test-contract"])
    assert client.get("/api/v1/contracts", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    revoke_user(world["engine"], max(u["id"] for u in __import__("api.access", fromlist=["list_users"]).list_users(world["engine"])))
    assert client.get("/api/v1/contracts", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_only_hashes_of_tokens_are_stored(world: dict[str, Any]) -> None:
    stored = b"".join(p.read_bytes() for p in world["folder"].glob("sib.db*"))
    for token in world["tokens"].values():
        assert token.encode() not in stored


# -- privacy --------------------------------------------------------------------------------------------------------

def test_investors_and_payers_see_no_small_cells(world: dict[str, Any]) -> None:
    run = world["run"]
    full = call(world, "GET", f"/api/v1/contracts/test-contract/evaluations/{run}", "intermediary").json()
    seen = call(world, "GET", f"/api/v1/contracts/test-contract/evaluations/{run}", "investor").json()
    assert seen["suppression"].startswith("cells counting fewer than 5 people")
    assert seen["coverage"] == {} and all(r["diagnostics"] == {} for r in seen["results"])
    for shown, real in zip(seen["results"], full["results"]):
        if real["n_treated"] is not None and 0 < real["n_treated"] < 5:
            assert shown["n_treated"] is None and shown["treated_mean"] is None
    ledger = call(world, "GET", "/api/v1/contracts/test-contract/ledger", "payer").json()["items"]
    assert all(not isinstance(e["basis"].get("achieved"), int) or e["basis"]["achieved"] >= 5 or e["basis"]["achieved"] == 0
               for e in ledger)


def test_complementary_suppression() -> None:
    from api.privacy import suppress_group, suppress_results

    assert suppress_group({"c1": 3, "c2": 40, "c3": 12}, 5) == {"c1", "c3"}  # 3 alone could be derived from the total
    assert suppress_group({"c1": 3, "c2": 2, "c3": 12}, 5) == {"c1", "c2"}
    assert suppress_group({"c1": 0, "c2": 40}, 5) == set()
    results = [{"metric": "m", "cohort": c, "subgroup": None, "n_treated": n, "treated_mean": 1.0, "diagnostics": {"x": 1}}
               for c, n in (("c1", 3), ("c2", 40), ("c3", 12), ("all", 55))]
    shown = suppress_results(results, 5)
    assert [r["n_treated"] for r in shown] == [None, 40, None, 55]
    assert [r["treated_mean"] for r in shown] == [None, 1.0, None, 1.0]


def test_participant_reads_and_writes_leave_audit_events(world: dict[str, Any]) -> None:
    engine = world["engine"]
    with engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(AuditEventRow)).scalar_one()
    page = call(world, "GET", "/api/v1/contracts/test-contract/participants?limit=5", "provider").json()
    assert len(page["items"]) == 5 and page["total"] >= 40 and len(page["items"][0]["participant"]) == 12
    with engine.connect() as conn:
        last = conn.execute(sa.select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(1)).first()
        after = conn.execute(sa.select(sa.func.count()).select_from(AuditEventRow)).scalar_one()
    assert after == before + 1 and (last.action, last.actor, last.contract_id) == (
        "participants.read", "api:provider-1", "test-contract")


# -- errors and limits ----------------------------------------------------------------------------------------------

def test_errors_have_one_shape(world: dict[str, Any]) -> None:
    bad_json = call(world, "POST", "/api/v1/contracts/test-contract/evaluations", "intermediary",
                    content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 422 and set(bad_json.json()["error"]) == {"status", "code", "message", "details"}
    refused = call(world, "POST", "/api/v1/contracts/test-contract/batches", "provider", data={"kind": "measurements"},
                   files={"file": ("bad.csv", b"participant_id,metric,date,value\nA000,attendance,2020-02-20,7\n")})
    body = refused.json()["error"]
    assert refused.status_code == 422 and body["code"] == "refused"
    assert body["details"]["errors"][0]["reason"].startswith("'7' is out of range for rate metric 'attendance'")
    beyond = call(world, "POST", "/api/v1/contracts/test-contract/payments", "intermediary", json={"run": 2**31})
    assert beyond.status_code == 422 and beyond.json()["error"]["code"] == "invalid"  # not a database error
    nothing = call(world, "GET", "/api/v1/nowhere", "payer")
    assert nothing.status_code == 404 and nothing.json()["error"]["code"] == "not_found"


def test_request_size_limit(world: dict[str, Any]) -> None:
    small = TestClient(create_app(world["engine"], max_body=1000))
    response = small.post("/api/v1/contracts/test-contract/batches", data={"kind": "participants"},
                          files={"file": ("big.csv", b"x" * 5000)},
                          headers={"Authorization": f"Bearer {world['tokens']['provider']}"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_pagination(world: dict[str, Any]) -> None:
    first = call(world, "GET", "/api/v1/contracts/test-contract/audit?limit=2&offset=0", "intermediary").json()
    second = call(world, "GET", "/api/v1/contracts/test-contract/audit?limit=2&offset=2", "intermediary").json()
    assert first["total"] == second["total"] >= 4 and first["items"] != second["items"] and len(first["items"]) == 2
    assert call(world, "GET", "/api/v1/contracts/test-contract/audit?limit=0", "intermediary").status_code == 422


# -- concurrency ----------------------------------------------------------------------------------------------------

def _in_parallel(work: list) -> list:
    results: list = [None] * len(work)

    def run(i: int) -> None:
        results[i] = work[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_twenty_concurrent_uploads_and_approvals(world: dict[str, Any]) -> None:
    engine, app = world["engine"], world["app"]
    headers = {"Authorization": f"Bearer {world['tokens']['provider']}"}
    with engine.connect() as conn:
        batches_before = conn.execute(sa.select(sa.func.count()).select_from(ImportBatchRow)).scalar_one()

    def upload(i: int, same: bool):
        text = people("S", 1, start=900) if same else people(f"U{i:02d}", 2, start=700)
        return lambda: TestClient(app).post("/api/v1/contracts/test-contract/batches", headers=headers,
                                            data={"kind": "participants"},
                                            files={"file": (f"f{i}.csv", text.encode())}).json()

    distinct = _in_parallel([upload(i, False) for i in range(20)])
    assert sorted(r["status"] for r in distinct) == ["accepted"] * 20 and len({r["batch"] for r in distinct}) == 20
    same = _in_parallel([upload(i, True) for i in range(20)])
    assert len({r["batch"] for r in same}) == 1
    assert sorted(r["status"] for r in same) == ["accepted"] + ["already_imported"] * 19
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ImportBatchRow)).scalar_one() == batches_before + 21

    # Twenty more entries to approve: a second contract-wide calculation after new verified data.
    run = evaluate(engine, __import__("contracts.registry", fromlist=["get_contract"]).get_contract(engine, "test-contract"),
                   __import__("datetime").date(2022, 7, 31))
    stored = __import__("contracts.registry", fromlist=["get_contract"]).get_contract(engine, "test-contract")
    calculate(engine, stored, run)
    payer = {"Authorization": f"Bearer {world['tokens']['payer']}"}
    ledger = TestClient(app).get("/api/v1/contracts/test-contract/ledger?limit=500", headers=payer).json()["items"]
    open_entries = [e["seq"] for e in ledger if e["status"] == "calculated" and e["payer"] == "city"][:20]
    read = {"acknowledge": list(ALL_FLAGS), "reason": "evidence read"}  # whatever the new run's flags are
    approvals = _in_parallel([lambda s=s: TestClient(app).post(f"/api/v1/contracts/test-contract/ledger/{s}/approve",
                                                             headers=payer, json=read).status_code
                              for s in open_entries])
    assert approvals == [200] * len(open_entries)
    target = e_seq = world["entries"][4]  # approved in setup: one invoice of it succeeds, nineteen are refused
    inv = {"Authorization": f"Bearer {world['tokens']['intermediary']}"}
    invoices = _in_parallel([lambda: TestClient(app).post(f"/api/v1/contracts/test-contract/ledger/{target}/invoice",
                                                          headers=inv).status_code for _ in range(20)])
    assert sorted(invoices) == [200] + [409] * 19
    with engine.connect() as conn:
        steps = conn.execute(sa.select(sa.func.count()).select_from(LedgerStepRow).where(
            LedgerStepRow.entry_seq == e_seq, LedgerStepRow.status == "invoiced")).scalar_one()
    assert steps == 1 and verify_chain(engine, "test-contract").ok


# -- schemathesis ---------------------------------------------------------------------------------------------------

def test_schemathesis_finds_no_server_error_and_no_schema_violation(world: dict[str, Any]) -> None:
    """Generated requests for every operation of the app's own OpenAPI (as the all-contracts intermediary,
    a bounded number each), valid and invalid ones, under every check schemathesis has: no 5xx, every response
    status, type, header and body as documented, valid requests accepted and invalid ones refused."""
    from hypothesis import given
    from hypothesis import strategies as st

    schema = schemathesis.openapi.from_asgi("/openapi.json", world["app"])
    headers = {"Authorization": f"Bearer {world['tokens']['intermediary-all']}"}
    # The token as the schema's own header (as the CLI's -H gives it): schemathesis then knows the request is
    # authenticated on purpose, and does not take a negative case it stripped of the bearer scheme for one we
    # sent with our token.
    schema.config.update(headers=headers)
    load_all_checks()
    checks = CHECKS.get_all()
    assert len(checks) >= 14, [c.__name__ for c in checks]
    failures, tested, statuses = [], 0, []
    for found in schema.get_all_operations():
        operation = found.ok()
        # As schemathesis.toml says: an upload's bytes are judged only once they arrive (422 when unreadable).
        upload = operation.method.upper() == "POST" and operation.path.endswith("/batches")
        skip = [positive_data_acceptance] if upload else []

        @given(case=st.sampled_from(list(GenerationMode)).flatmap(operation.as_strategy), real=st.booleans())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any, real: bool) -> None:
            valid = case.meta is None or case.meta.generation.mode.is_positive  # an invalid case stays invalid
            if real and valid and "contract_id" in (case.path_parameters or {}):  # half the time, one that exists
                case.path_parameters["contract_id"] = "test-contract"
            statuses.append(case.call_and_validate(checks=[c for c in checks if c not in skip]).status_code)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:400]}")
        tested += 1
    assert tested >= 20, tested
    assert failures == [], "\n".join(failures)
    assert sum(200 <= status < 300 for status in statuses) >= 20  # the token went with them: answers, not 401s


def test_schemathesis_run_with_all_checks_passes_clean(world: dict[str, Any], tmp_path: Any) -> None:
    """The CLI as CI and the issue run it, `schemathesis run --checks all` with the repository's
    schemathesis.toml, against the app served over HTTP: every phase (examples, coverage with undeclared methods,
    fuzzing, stateful) and every check, on a contract that exists; no failure on either store."""
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    import uvicorn

    root = Path(__file__).resolve().parent.parent
    config = tmp_path / "schemathesis.toml"  # the same, and valid requests on a contract that exists
    config.write_text((root / "schemathesis.toml").read_text()
                      + '\n[parameters]\n"path.contract_id" = "test-contract"\n')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(world["app"], host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(600):  # at most a minute: the server starts in well under a second
        if server.started:
            break
        time.sleep(0.1)
    cli = Path(sys.executable).parent / "schemathesis"
    runs = []
    try:
        for file, extra in ((root / "schemathesis.toml", []), (config, ["--mode", "positive"])):
            runs.append(subprocess.run([str(cli), "--config-file", str(file), "run",
                                        f"http://127.0.0.1:{port}/openapi.json", "--checks", "all", *extra,
                                        "--max-examples", "5", "--seed", "1", "--no-color", "-H",
                                        f"Authorization: Bearer {world['tokens']['intermediary-all']}"],
                                       capture_output=True, text=True, timeout=600, cwd=tmp_path))  # its cache
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    for done in runs:
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
        assert "failure" not in done.stdout.splitlines()[-1] and "passed" in done.stdout, done.stdout[-2000:]


def test_undeclared_methods_get_405_with_every_allowed_method(world: dict[str, Any]) -> None:
    """A method a path does not have: 405 and an Allow header naming every method it has (not only the first
    route's), on the API and on the pages."""
    for path, allowed in (("/api/v1/contracts/test-contract/batches", "GET, POST"), ("/api/v1/health", "GET"),
                          ("/api/v1/contracts/test-contract/ledger/1/approve", "POST"), ("/login", "GET, POST")):
        for method in ("PUT", "DELETE", "TRACE", "OPTIONS"):
            got = call(world, method, path, "intermediary")
            assert (got.status_code, got.headers.get("allow")) == (405, allowed), (method, path)
    assert call(world, "PUT", "/api/v1/health", None).json()["error"]["code"] == "method_not_allowed"


def test_every_status_the_api_answers_is_documented(world: dict[str, Any]) -> None:
    """A body that cannot be parsed is a 400, documented on every route with a body; 422 is documented too."""
    spec = call(world, "GET", "/openapi.json", None).json()["paths"]
    for path, operations in spec.items():
        for method, operation in operations.items():
            if path != "/api/v1/health":
                assert {"400", "401", "403", "404", "422"} <= set(operation["responses"]), (method, path)
    broken = call(world, "POST", "/api/v1/contracts/test-contract/payments", "intermediary", content=b"\x8dF\x00",
                  headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]["status"] == 400
    zero = call(world, "POST", "/api/v1/contracts/test-contract/evaluations", "intermediary",
                json={"as_of": "2022-06-30", "include_unverified": 0})
    assert zero.status_code == 422  # a boolean is true or false, as documented, not 0


def test_openapi_and_docs_are_published(world: dict[str, Any]) -> None:
    assert world["client"].get("/docs").status_code == 200
    paths = world["client"].get("/openapi.json").json()["paths"]
    assert len(paths) >= 20 and "/api/v1/contracts/{contract_id}/status" in paths



def test_schedule_exports_in_the_language_s_conventions_or_plain(world: dict[str, Any]) -> None:
    """CSV: Swedish conventions by default for a contract in SEK, English with Accept-Language: en, plain on
    request (the stable machine names, exact amounts); Excel in the same language."""
    import csv
    import io
    from decimal import Decimal

    path = "/api/v1/contracts/test-contract/exports/schedule.csv"
    swedish = call(world, "GET", path, "payer")
    assert swedish.status_code == 200 and swedish.headers["content-language"] == "sv"
    assert swedish.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(swedish.content.decode("utf-8-sig")), delimiter=";"))
    english = call(world, "GET", path, "payer", headers={"Accept-Language": "en"})
    assert english.headers["content-language"] == "en" and english.content.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(english.content.decode("utf-8-sig"))))[0][0] == "Period"
    plain = call(world, "GET", path + "?style=plain", "payer")
    assert not plain.content.startswith(b"\xef\xbb\xbf")
    machine = list(csv.DictReader(io.StringIO(plain.content.decode("utf-8"))))
    assert list(machine[0])[:2] == ["period", "payer"] and len(machine) == len(rows) - 1
    ledger = call(world, "GET", "/api/v1/contracts/test-contract/ledger?limit=500", "intermediary").json()["items"]
    for status in ("approved", "invoiced"):
        booked = sum((Decimal(e["amount"]) for e in ledger if e["status"] == status), Decimal(0))
        assert sum((Decimal(r[status]) for r in machine), Decimal(0)) == booked
        column = rows[0].index({"approved": "Godkänt", "invoiced": "Fakturerat"}[status])  # Swedish headers
        assert sum((Decimal(r[column].replace(",", ".")) for r in rows[1:]), Decimal(0)) == booked
    assert call(world, "GET", path + "?style=xml", "payer").status_code == 422
    workbook = call(world, "GET", "/api/v1/contracts/test-contract/exports/schedule.xlsx", "intermediary",
                    headers={"Accept-Language": "en"})
    assert workbook.headers["content-language"] == "en" and workbook.content[:2] == b"PK"


def test_evaluation_json_states_each_standard_error_and_its_kind(world: dict[str, Any]) -> None:
    run = call(world, "GET", f"/api/v1/contracts/test-contract/evaluations/{world['run']}", "intermediary").json()
    with_estimate = [r for r in run["results"] if r["estimate"] is not None and r["ci_low"] is not None]
    assert with_estimate
    for r in with_estimate:
        assert r["se"] is not None and r["se"] > 0
        assert r["se_kind"]["code"].startswith("evaluation.se_") and r["se_kind"]["text"]


# -- the API's own documentation: offline, with its security, ids, summaries, types and examples ---------------

def test_docs_work_offline_and_describe_every_operation_fully() -> None:
    """Swagger UI and ReDoc load their assets from this server; every operation has a summary, an explicit id,
    the bearer scheme (except /health) and an example for each JSON body that validates against its schema."""
    import jsonschema
    from fastapi.testclient import TestClient as Client

    app = create_app()
    client = Client(app)
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
        assert sources and all(s.startswith("/") for s in sources), (page, sources)  # nothing from a CDN
        for source in sources:
            if source.startswith("/docs-assets/"):
                assert client.get(source).status_code == 200, source
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "sib token",
        "description": "A token from `sib users add` (shown once; only its hash is kept)."}
    assert spec["components"]["schemas"]["ErrorResponse"]["examples"]
    ids = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            ids.append(op["operationId"])
            assert op.get("summary") and "api_v1" not in op["operationId"], (method, path)
            assert (op.get("security") == [{"bearer": []}]) == (path != "/api/v1/health"), (method, path)
            bodies = [c for c in (op.get("requestBody") or {}).get("content", {}).values()]
            bodies += [r["content"]["application/json"] for status, r in op["responses"].items()
                       if status.startswith("2") and "application/json" in r.get("content", {})]
            for body in bodies:
                assert "example" in body, (method, path)
                jsonschema.validate(body["example"], dict(body["schema"], components=spec["components"]))
    assert len(ids) == len(set(ids))
    typed = {op["operationId"]: op["responses"]["200"]["content"]["application/json"]["schema"]
             for operations in spec["paths"].values() for op in operations.values()
             if op["operationId"] in ("get_schedule", "diff_evaluations", "investor_status", "business_case",
                                      "board_summary")}
    assert "Loose" not in json.dumps(typed) and "additionalProperties" not in json.dumps(typed), typed
