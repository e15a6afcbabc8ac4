"""Examples for the OpenAPI description: real requests and answers of this engine, on the demo's synthetic data.

``python -m api.http.examples`` runs the demo in a temporary folder, makes every call the API offers as the
role that may make it, and writes what was sent and answered (lists cut to their first items) to
``openapi_examples.json`` beside this module.  ``create_app`` attaches them to the OpenAPI document, so /docs
and /redoc show an example for every request and response body, and a test checks that each example still
validates against its schema: an answer that changes shape without its examples is caught.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

EXAMPLES_FILE = Path(__file__).with_name("openapi_examples.json")
CONTRACT = "hasselby-school"
KEEP = 2  # items kept of every list: enough to show the shape


def load() -> dict[str, dict[str, Any]]:
    """operation id -> {"request": body or None, "response": body}; empty when the file is missing."""
    if not EXAMPLES_FILE.exists():
        return {}
    return json.loads(EXAMPLES_FILE.read_text(encoding="utf-8"))


def attach(spec: dict[str, Any], examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The OpenAPI document with each operation's recorded request and response as its bodies' examples."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            found = examples.get(operation.get("operationId", ""))
            if not found:
                continue
            body = (operation.get("requestBody") or {}).get("content", {})
            for media, content in body.items():
                if found.get("request") is not None and media in ("application/json", "multipart/form-data"):
                    content["example"] = found["request"]
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {}).get("application/json")
                if status.startswith("2") and content is not None and "response" in found:
                    content["example"] = found["response"]
    return spec


def _short(value: Any) -> Any:
    if isinstance(value, list):
        return [_short(v) for v in value[:KEEP]]
    if isinstance(value, dict):
        return {k: _short(v) for k, v in value.items()}
    return value


def record() -> dict[str, dict[str, Any]]:  # pragma: no cover - run by hand when the API changes
    from fastapi.testclient import TestClient

    from api.access import add_user
    from api.demo import run_demo
    from api.http import create_app
    from store.db import open_store
    from store.seal import key_file

    folder = Path(tempfile.mkdtemp(prefix="sib-examples-"))
    summary = run_demo(folder)
    engine = open_store(summary["database_url"])
    tokens = {role: add_user(engine, f"example-{role}", role, [CONTRACT], party=party)
              for role, party in (("intermediary", None), ("payer", "district"), ("investor", None),
                                  ("provider", "youth-provider"))}
    tokens["payer-2"] = add_user(engine, "example-payer-2", "payer", [CONTRACT], party="district")
    client = TestClient(create_app(engine))
    base = f"/api/v1/contracts/{CONTRACT}"
    out: dict[str, dict[str, Any]] = {}

    def call(operation: str, role: str, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        answer = client.request(method, path, json=body, headers={"Authorization": f"Bearer {tokens[role]}"},
                                **kwargs)
        assert answer.status_code < 300, (operation, answer.status_code, answer.text)
        out[operation] = {"request": body, "response": _short(answer.json())}
        return answer.json()

    with key_file(folder / "sib.key"):
        call("health", "intermediary", "GET", "/api/v1/health")
        call("list_contracts", "intermediary", "GET", "/api/v1/contracts")
        call("get_contract", "intermediary", "GET", base)
        call("list_versions", "intermediary", "GET", base + "/versions")
        call("indigo_compare", "intermediary", "GET", base + "/indigo/compare")
        batches = call("list_batches", "intermediary", "GET", base + "/batches")
        call("get_batch", "intermediary", "GET", f"{base}/batches/{batches['items'][0]['id']}")
        upload = folder / "pupils.csv"
        upload.write_text("participant_id,start,school_year,sex,risk_level\nHV-90001,2022-09-01,5,female,high\n",
                          encoding="utf-8")
        with upload.open("rb") as f:
            answer = client.post(base + "/batches", data={"kind": "participants"},
                                 files={"file": ("pupils.csv", f, "text/csv")},
                                 headers={"Authorization": f"Bearer {tokens['provider']}"})
        assert answer.status_code == 201, answer.text
        out["upload_batch"] = {"request": {"kind": "participants", "file": "pupils.csv"}, "response": answer.json()}
        call("verify_batch", "intermediary", "POST", f"{base}/batches/{answer.json()['batch']}/verify")
        call("list_participants", "intermediary", "GET", base + "/participants")
        run = call("run_evaluation", "intermediary", "POST", base + "/evaluations",
                   {"as_of": "2025-07-31", "include_unverified": False})
        runs = call("list_evaluations", "intermediary", "GET", base + "/evaluations")
        call("get_evaluation", "investor", "GET", f"{base}/evaluations/{run['run']}")
        call("diff_evaluations", "intermediary", "GET",
             f"{base}/evaluations/{runs['items'][-1]['run']}/diff/{run['run']}")
        call("calculate_payments", "intermediary", "POST", base + "/payments", {"run": None})
        ledger = call("list_ledger", "payer", "GET", base + "/ledger")
        entries = [e["seq"] for e in ledger["items"] if e["payer"] == "district"]
        first = next(e for e in ledger["items"] if e["seq"] == entries[0])
        flags = (first.get("evidence") or {}).get("flag_codes", [])
        approve = {"acknowledge": flags, "reason": "Verified against the school's register."} \
            if flags else {"acknowledge": [], "reason": None}
        call("approve_entry", "payer", "POST", f"{base}/ledger/{entries[0]}/approve", approve)
        call("invoice_entry", "intermediary", "POST", f"{base}/ledger/{entries[0]}/invoice",
             {"note": "Invoice 2025-117"})
        call("pay_entry", "payer-2", "POST", f"{base}/ledger/{entries[0]}/pay", {"note": "Paid 2025-09-30"})
        if len(entries) > 1:
            call("reject_entry", "payer", "POST", f"{base}/ledger/{entries[1]}/reject",
                 {"reason": "The attendance file for the spring term is disputed."})
        call("get_schedule", "payer", "GET", base + "/schedule")
        call("investor_status", "investor", "GET", base + "/status")
        call("list_audit", "intermediary", "GET", base + "/audit")
        call("followup_results", "intermediary", "GET", base + "/followup")
        call("board_summary", "payer", "GET", base + "/board-summary?lang=en")
    gotland = "/api/v1/contracts/gotland-family-team"
    token = add_user(engine, "example-finance", "payer", ["gotland-family-team"], party="socialforvaltningen")
    answer = client.get(gotland + "/valuation", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    out["business_case"] = {"request": None, "response": _short(answer.json())}
    answer = client.get(gotland + "/board-summary?lang=en", headers={"Authorization": f"Bearer {token}"})
    out["board_summary"] = {"request": None, "response": _short(answer.json())}
    token = add_user(engine, "example-team", "intermediary", ["gotland-family-team"])
    answer = client.get(gotland + "/providers", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    out["per_provider"] = {"request": None, "response": _short(answer.json())}
    engine.dispose()
    return out


if __name__ == "__main__":  # pragma: no cover
    EXAMPLES_FILE.write_text(json.dumps(record(), ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                             encoding="utf-8")
    print(f"wrote {EXAMPLES_FILE}")
