"""The `sib` CLI: exit codes, one-line errors, --json shapes, and a store left unchanged by mistakes."""

from __future__ import annotations

import json
import re
from datetime import date
import os
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from store.db import describe
from tests import helpers
from tests.helpers import DATA

PEOPLE = "participant_id,start,school_year,sex\n" + "".join(
    f"P{i:03d},2020-{1 + i % 12:02d}-01,{4 + i % 6},{'female' if i % 2 else 'male'}\n" for i in range(30))
MEASUREMENTS = "participant_id,metric,date,value\n" + "".join(
    f"P{i:03d},attendance,2020-{1 + i % 12:02d}-20,{0.8 + (i % 5) * 0.05:.2f}\n" for i in range(30))


def snapshot(_tmp_path: Path) -> dict[str, list[tuple]]:
    """Every row of the store the `sib` fixture uses (SQLite or PostgreSQL): equal snapshots, unchanged store."""
    return helpers.snapshot(os.environ["DATABASE_URL"])


@pytest.fixture
def loaded(sib, tmp_path: Path):
    assert sib("init").code == 0
    assert sib("keys", "init").code == 0
    assert sib("contract", "load", DATA / "minimal.yaml").code == 0
    (tmp_path / "people.csv").write_text(PEOPLE)
    (tmp_path / "m.csv").write_text(MEASUREMENTS)
    return sib


def test_validate_good_and_broken_files(sib, tmp_path: Path) -> None:
    ok = sib("contract", "validate", DATA / "minimal.yaml")
    assert ok.code == 0 and "valid contract 'test-contract', version(s) 1 (from 2020-01-01), 2 (from 2021-06-01)" in ok.out
    bad = tmp_path / "bad.yaml"
    bad.write_text((DATA / "minimal.yaml").read_text().replace("kind: rate", "kind: ratio").replace("currency: SEK", "currency: X"))
    result = sib("contract", "validate", bad)
    assert result.code == 1
    assert result.err.splitlines() == [
        f"{bad}:4: currency: 'X' is not an ISO 4217 currency code; expected three capital letters such as SEK",
        f"{bad}:25: metrics[0].kind: 'ratio' is not allowed; expected one of: "
        "binary, rate, count, continuous, ordinal, time_to_event",
    ]


def test_missing_and_malformed_files_are_one_line(sib, tmp_path: Path) -> None:
    result = sib("contract", "validate", tmp_path / "absent.yaml")
    assert (result.code, result.err) == (1, f"{tmp_path / 'absent.yaml'}:0: no such file\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\n  name: [\n")
    result = sib("contract", "validate", broken)
    assert result.code == 1 and len(result.err.splitlines()) == 1 and "YAML syntax error" in result.err


def test_commands_refuse_a_missing_store(sib, any_url: str, tmp_path: Path) -> None:
    result = sib("contract", "list")
    assert result.code == 1
    if any_url.startswith("sqlite"):
        assert result.err == f"error: no store at {describe(any_url)}; run 'sib init' first (or set DATABASE_URL)\n"
        assert not (tmp_path / "sib.db").exists()
    else:  # the database exists (the test made it) but holds no store
        assert result.err == f"error: the store {describe(any_url)} is not initialised; run 'sib init' first\n"
        import sqlalchemy as sa

        check = sa.create_engine(any_url)
        assert sa.inspect(check).get_table_names() == []  # and it created none
        check.dispose()


def test_usage_errors_exit_2(sib) -> None:
    assert sib("no-such-command").code == 2
    assert sib("contract", "show").code == 2
    assert sib("payments", "x", "--run", "abc").code == 2


def test_list_show_and_json(loaded) -> None:
    listed = json.loads(loaded("contract", "list", "--json").out)
    assert listed == {"contracts": [{"id": "test-contract", "name": "Test contract", "currency": "SEK", "versions": 2}]}
    shown = json.loads(loaded("contract", "show", "test-contract", "--json").out)
    assert shown["version"] == 2 and shown["terms"]["payments"]["mechanisms"][0]["price"] == "1200"
    v1 = json.loads(loaded("contract", "show", "test-contract", "--version", "1", "--json").out)
    assert v1["terms"]["payments"]["mechanisms"][0]["price"] == "1000"
    table = loaded("contract", "show", "test-contract")
    assert table.code == 0 and "Price raised" in table.out


def test_unknown_contract_and_bad_date_leave_the_store_unchanged(loaded, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    result = loaded("evaluate", "nope")
    assert (result.code, result.err) == (1, "error: no contract 'nope' in the store; 'sib contract list' shows the loaded ones\n")
    result = loaded("evaluate", "test-contract", "--as-of", "2020-13-01")
    assert (result.code, result.err) == (1, "error: --as-of '2020-13-01' is not a date; expected YYYY-MM-DD\n")
    result = loaded("contract", "show", "test-contract", "--version", "7")
    assert (result.code, result.err) == (1, "error: contract 'test-contract' has no version 7; versions: 1, 2\n")
    result = loaded("payments", "test-contract")
    assert result.code == 1 and result.err == (
        "error: no evaluation run for 'test-contract'; run 'sib evaluate test-contract' first\n")
    result = loaded("payments", "test-contract", "--run", str(2**31))
    assert result.code == 1 and result.err == (
        f"error: no evaluation run {2**31} for 'test-contract'; run 'sib evaluate test-contract' first\n")
    assert snapshot(tmp_path) == before


def test_ingest_needs_a_key(sib, tmp_path: Path) -> None:
    sib("init")
    sib("contract", "load", DATA / "minimal.yaml")
    (tmp_path / "people.csv").write_text(PEOPLE)
    result = sib("ingest", "test-contract", tmp_path / "people.csv", "--kind", "participants")
    assert result.code == 1
    assert result.err == (f"error: no pseudonymisation key at {tmp_path / 'sib.key'}; create one with 'sib keys init' "
                          "(or set SIB_KEY_FILE)\n")


def test_refused_ingest_lists_errors_and_changes_nothing(loaded, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(PEOPLE.replace("P003,2020-04-01,7", "P003,2020-04-01,12"))
    result = loaded("ingest", "test-contract", bad, "--kind", "participants")
    assert result.code == 1
    assert result.err.splitlines() == [
        "bad.csv: row 5, column school_year: not eligible: 12 fails the rule 'school_year between 4 and 9'",
        "error: bad.csv refused: 1 error; nothing was stored",
    ]
    assert loaded("ingest", "test-contract", bad, "--kind", "pupils").code == 2  # a value the option does not take
    after = snapshot(tmp_path)
    added = [row for row in after["audit_events"] if row not in before["audit_events"]]
    assert len(added) == 1 and added[0][3] == "ingest.refused"  # only the refusal, in the audit log
    assert {k: v for k, v in after.items() if k != "audit_events"} == {
        k: v for k, v in before.items() if k != "audit_events"}


def test_whole_chain_with_json_outputs(loaded, tmp_path: Path) -> None:
    stored = loaded("ingest", "test-contract", tmp_path / "people.csv", "--kind", "participants", "--json")
    batch = json.loads(stored.out)
    assert (batch["status"], batch["rows"], batch["errors"]) == ("accepted", 30, [])
    again = json.loads(loaded("ingest", "test-contract", tmp_path / "people.csv", "--kind", "participants", "--json").out)
    assert again["status"] == "already_imported" and again["batch"] == batch["batch"]
    m = json.loads(loaded("ingest", "test-contract", tmp_path / "m.csv", "--kind", "measurements", "--json").out)
    assert loaded("verify", str(batch["batch"])).code == 0
    assert loaded("verify", str(m["batch"])).code == 0
    assert loaded("verify", str(m["batch"])).err.startswith(f"error: batch {m['batch']} is already verified")
    batches = json.loads(loaded("batches", "test-contract", "--json").out)["batches"]
    assert [b["verified_by"] for b in batches] == ["test:intermediary", "test:intermediary"]

    evaluation = json.loads(loaded("evaluate", "test-contract", "--as-of", "2022-06-30", "--json").out)
    assert {"metric", "cohort", "design", "n_treated", "n_comparison", "estimate", "ci_low", "ci_high", "p_value",
            "warnings"} <= set(evaluation["results"][0])
    attendance = next(r for r in evaluation["results"] if r["metric"] == "attendance" and r["cohort"] == "all")
    values = [0.8 + (i % 5) * 0.05 for i in range(30)]
    assert attendance["n_treated"] == 30
    assert attendance["estimate"] == pytest.approx(sum(values) / 30 - 0.85)
    achieved = sum(1 for v in values if v >= 0.9 - 1e-9)
    assert attendance["n_achieved"] == achieved

    paid = json.loads(loaded("payments", "test-contract", "--json").out)
    assert paid["total"] == str(sum(Decimal(e["amount"]) for e in paid["entries"]))
    assert Decimal(paid["total"]) == min(Decimal(1200) * achieved, Decimal(50000))  # version 2 price, mechanism cap
    entry = paid["entries"][0]
    assert {"period", "mechanism", "payer", "amount", "basis"} <= set(entry)
    assert isinstance(entry["amount"], str) and Decimal(entry["amount"]).as_tuple().exponent == -2
    assert json.loads(loaded("payments", "test-contract", "--json").out)["added"] == []

    assert loaded("ledger", "verify", "test-contract").code == 0
    html = loaded("report", "test-contract", "--out", tmp_path / "r.html", "--lang", "en")
    assert html.code == 0 and "Independent evaluation report" in (tmp_path / "r.html").read_text()
    assert loaded("report", "test-contract", "--out", tmp_path / "missing" / "r.pdf").err.startswith(
        "error: cannot write")

    import sqlalchemy as sa

    tamper = sa.create_engine(os.environ["DATABASE_URL"])
    with tamper.begin() as conn:
        conn.execute(sa.text("UPDATE ledger_entries SET amount = '0.01' WHERE seq = 1"))
    tamper.dispose()
    tampered = loaded("ledger", "verify", "test-contract")
    assert tampered.code == 1 and tampered.err == (
        "error: the ledger of 'test-contract' does not verify: the content of entry 1 does not match its hash\n")


def _evaluation_only(tmp_path: Path) -> Path:
    """minimal.yaml without payments, investment and the amendment that changes a price."""
    text = (DATA / "minimal.yaml").read_text()
    text = text[:text.index("payments:")] + "suppression_threshold: 3\n"
    path = tmp_path / "evaluation-only.yaml"
    path.write_text(text.replace("id: test-contract", "id: eval-only"))
    return path


def test_an_evaluation_only_contract_is_evaluated_and_reported_but_never_paid(sib, tmp_path: Path) -> None:
    path = _evaluation_only(tmp_path)
    checked = sib("contract", "validate", path)
    assert checked.code == 0 and checked.err == "" and "warning" not in checked.out.lower()
    assert "valid contract 'eval-only'" in checked.out
    assert sib("init").code == 0 and sib("keys", "init").code == 0
    assert sib("contract", "load", path).code == 0
    assert "Evaluation-only" in sib("contract", "show", "eval-only").out
    (tmp_path / "people.csv").write_text(PEOPLE)
    (tmp_path / "m.csv").write_text(MEASUREMENTS)
    for file, kind in (("people.csv", "participants"), ("m.csv", "measurements")):
        batch = json.loads(sib("ingest", "eval-only", tmp_path / file, "--kind", kind, "--json").out)
        assert sib("verify", str(batch["batch"])).code == 0
    run = json.loads(sib("evaluate", "eval-only", "--as-of", "2022-06-30", "--json").out)
    attendance = next(r for r in run["results"] if r["metric"] == "attendance" and r["cohort"] == "all")
    values = pd.Series([0.8 + (i % 5) * 0.05 for i in range(30)])
    assert attendance["se"] == pytest.approx(values.std() / np.sqrt(30))
    assert attendance["se_kind"]["code"] == "evaluation.se_one_sample" and attendance["se_kind"]["text"]
    table = sib("evaluate", "eval-only", "--as-of", "2022-06-30")
    assert table.code == 0 and "SE (kind)" in table.out and "one-sample" in table.out
    html = sib("report", "eval-only", "--out", tmp_path / "r.html", "--lang", "en")
    page = (tmp_path / "r.html").read_text()
    assert html.code == 0 and "Evaluation-only contract" in page and "Standard errors: one-sample" in page
    refusal = ("error: contract 'eval-only' is evaluation-only: it has no payments section, so there is nothing to "
               "calculate, schedule, forecast or approve\n")
    for command in (("payments", "eval-only"), ("schedule", "eval-only"), ("forecast", "eval-only"),
                    ("ledger", "show", "eval-only"), ("ledger", "approve", "eval-only", "1")):
        result = sib(*command)
        assert (result.code, result.err) == (1, refusal), command


def test_an_investment_without_payments_is_refused(sib, tmp_path: Path) -> None:
    path = _evaluation_only(tmp_path)
    path.write_text(path.read_text() + "investment:\n  principal: 10\n  commitments:\n    - {party: fund, amount: 10}\n")
    result = sib("contract", "validate", path)
    assert result.code == 1 and "an investment needs a payments section" in result.err


def test_init_and_keys_say_what_they_did(sib, any_url: str, tmp_path: Path) -> None:
    from store.db import head_revision

    first = sib("init")
    head = head_revision()
    assert first.code == 0 and first.out.startswith(f"The store {describe(any_url)} is at schema {head} (new).")
    assert sib("init").out.startswith(f"The store {describe(any_url)} is already at schema {head}.")
    assert sib("keys", "init").code == 0
    again = sib("keys", "init")
    assert again.code == 1 and again.err.startswith(f"error: a key already exists at {tmp_path / 'sib.key'}")


def test_ingest_with_mapping_errors_report_and_history(loaded, tmp_path: Path) -> None:
    assert loaded("ingest", "test-contract", tmp_path / "people.csv", "--kind", "participants").code == 0
    (tmp_path / "map.yaml").write_text("columns: {participant_id: Elev, value: Närvaro}\nconstants: {metric: attendance}\n"
                                       "units: {attendance: percent}\n")
    (tmp_path / "export.csv").write_text("Elev;date;Närvaro\nP000;2020-01-20;95\nP001;2020-02-20;150\n")
    refused = loaded("ingest", "test-contract", tmp_path / "export.csv", "--kind", "measurements",
                     "--mapping", tmp_path / "map.yaml", "--errors", tmp_path / "errors.csv")
    assert refused.code == 1
    assert refused.err.splitlines() == [
        "export.csv: row 3, column value: '150' is out of range for rate metric 'attendance'; "
        "expected a percentage between 0 and 100",
        f"error: export.csv refused: 1 error; nothing was stored; error report in {tmp_path / 'errors.csv'}",
    ]
    assert (tmp_path / "errors.csv").read_text(encoding="utf-8-sig").splitlines()[1].startswith("3,value,150,")
    (tmp_path / "export.csv").write_text("Elev;date;Närvaro\nP000;2020-01-20;95\n")
    ok = loaded("ingest", "test-contract", tmp_path / "export.csv", "--kind", "measurements", "--mapping", tmp_path / "map.yaml")
    assert ok.code == 0 and "1 measurements" in ok.out
    (tmp_path / "fix.csv").write_text("participant_id,metric,date,value,correction\nP000,attendance,2020-01-20,0.97,true\n")
    assert loaded("ingest", "test-contract", tmp_path / "fix.csv", "--kind", "measurements").code == 0
    history = json.loads(loaded("history", "test-contract", "--json").out)["corrections"]
    assert [(h["old_value"], h["new_value"]) for h in history] == [(0.95, 0.97)]
    bad_mapping = tmp_path / "bad-map.yaml"
    bad_mapping.write_text("columns: {participant_id: Elev}\ndecimal: komma\n")
    result = loaded("ingest", "test-contract", tmp_path / "export.csv", "--kind", "measurements", "--mapping", bad_mapping)
    assert (result.code, result.err) == (1, f"{bad_mapping}:2: decimal: 'komma' is not allowed; expected one of: auto, point, comma\n")
    assert loaded("verify", "999").err == "error: no batch 999; 'sib batches CONTRACT' lists them\n"
    big = str(2**31)  # beyond a PostgreSQL integer: still just "no such batch", never a database error
    assert loaded("verify", big).err == f"error: no batch {big}; 'sib batches CONTRACT' lists them\n"


def test_log_file_records_batches_without_references(loaded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    log = tmp_path / "sib.log"
    monkeypatch.setenv("SIB_LOG_FILE", str(log))
    logger = logging.getLogger("sib")
    try:
        assert loaded("ingest", "test-contract", tmp_path / "people.csv", "--kind", "participants").code == 0
        text = log.read_text()
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    assert "participants file people.csv accepted, 30 rows" in text
    assert "P000" not in text


def test_design_power(sib) -> None:
    mde = json.loads(sib("design", "power", "--kind", "mean", "--baseline", "0.75", "--sd", "1", "--n", "1000",
                         "--json").out)
    assert mde["effect"] == pytest.approx(0.1254, abs=1e-4) and mde["layout"] == "two_sample"
    needed = sib("design", "power", "--kind", "proportion", "--baseline", "0.3", "--effect", "0.05")
    assert needed.code == 0 and "you need 1,376 participants per group" in needed.out
    assert sib("design", "power", "--kind", "mean", "--baseline", "1", "--n", "10").err == (
        "error: a mean needs the outcome's standard deviation (--sd), greater than 0\n")
    assert sib("design", "power", "--kind", "mean", "--baseline", "1", "--sd", "1").err == (
        "error: give either --n (for the minimum detectable effect) or --effect (for the n needed)\n")


def test_design_power_of_a_proportion_follows_the_direction(sib) -> None:
    """Baseline 0.3, 200 per group: a rise needs 0.135, a fall 0.119 (Cohen's h is symmetric only on its own scale)."""
    base = ("design", "power", "--kind", "proportion", "--baseline", "0.3", "--n", "200")
    rise = json.loads(sib(*base, "--direction", "rise", "--json").out)
    fall = json.loads(sib(*base, "--direction", "lower_is_better", "--json").out)
    assert rise["effect"] == pytest.approx(0.1345, abs=1e-4) and rise["direction"] == "rise"
    assert fall["effect"] == pytest.approx(0.1190, abs=1e-4) and fall["direction"] == "fall"
    assert "minimum detectable rise is 0.135 (44.8% of 0.3)" in sib(*base, "--direction", "higher_is_better").out
    missing = sib(*base)
    assert missing.code != 0 and missing.err == (
        "error: a proportion's minimum detectable effect is not the same for a rise and a fall: give --direction rise "
        "or --direction fall\n")
    assert "expected rise or fall" in sib(*base, "--direction", "up").err


def test_validate_warns_when_a_threshold_is_below_what_cohorts_can_detect(sib) -> None:
    from examples.synthetic import CONTRACT_FILES

    path = CONTRACT_FILES["peterborough-reconviction"]
    result = sib("contract", "validate", path)
    assert result.code == 0 and result.out.strip().endswith("; 1 warning")
    assert result.err.startswith(f"warning: {path}:70: payments.mechanisms[0].cohort_threshold: the cohort threshold "
                                 "(0.075 on a planned mean of 0.75) is below the minimum detectable effect for 1,000 "
                                 "participants (0.0971, at 80 % power and alpha 0.05)")


def test_evaluate_again_says_it_reproduced_and_diff_explains(loaded, tmp_path: Path) -> None:
    for kind, name in (("participants", "people.csv"), ("measurements", "m.csv")):
        batch = json.loads(loaded("ingest", "test-contract", tmp_path / name, "--kind", kind, "--json").out)["batch"]
        loaded("verify", str(batch))
    first = json.loads(loaded("evaluate", "test-contract", "--as-of", "2022-06-30", "--json").out)
    again = loaded("evaluate", "test-contract", "--as-of", "2022-06-30")
    assert f"Evaluation run {first['run']} " in again.out
    assert "(reproduced exactly: same inputs, version and code, every number equal)" in again.out
    later = json.loads(loaded("evaluate", "test-contract", "--as-of", "2021-05-31", "--json").out)
    diff = loaded("evaluate", "diff", str(first["run"]), str(later["run"]))
    assert diff.code == 0 and "as-of date 2022-06-30 → 2021-05-31" in diff.out
    assert "contract version 2 → 1" in diff.out
    assert loaded("evaluate", "diff", str(first["run"])).err == (
        "error: sib evaluate diff needs two run ids: sib evaluate diff RUN_A RUN_B\n")
    assert loaded("evaluate", "diff", "1", "999").err == "error: no evaluation run 999\n"
    assert loaded("evaluate", "diff", "1", str(2**40)).err == f"error: no evaluation run {2**40}\n"


def test_ledger_steps_schedule_exports_returns_and_forecast(loaded, tmp_path: Path) -> None:
    import openpyxl

    for kind, name in (("participants", "people.csv"), ("measurements", "m.csv")):
        loaded("verify", str(json.loads(loaded("ingest", "test-contract", tmp_path / name, "--kind", kind, "--json").out)["batch"]))
    loaded("evaluate", "test-contract", "--as-of", "2022-06-30")
    paid = json.loads(loaded("payments", "test-contract", "--json").out)
    seqs = [str(e["seq"]) for e in paid["entries"]]
    token = {name: json.loads(loaded("users", "add", name, "--role", role, "--contract", "test-contract", *extra,
                                     "--json").out)["token"]
             for name, role, extra in (("Anna", "payer", ("--party", "city")), ("Bo", "payer", ("--party", "city")),
                                       ("Ivy", "intermediary", ()))}
    assert loaded("ledger", "approve", "test-contract", *seqs).err == (
        "error: a ledger step is taken by a user: give your token with --token or SIB_TOKEN ('sib users add' "
        "creates one)\n")
    assert loaded("ledger", "approve", "test-contract", *seqs, "--token", token["Ivy"]).err == (
        "error: Ivy is intermediary; that role may not mark entries approved\n")
    assert loaded("ledger", "approve", "test-contract", *seqs, "--token", token["Anna"]).code == 0
    refused = loaded("ledger", "pay", "test-contract", seqs[0], "--token", token["Bo"])
    assert refused.code == 1 and refused.err == (
        f"error: nothing was changed: entry {seqs[0]} is approved; it can become invoiced or rejected, not paid\n")
    assert loaded("ledger", "invoice", "test-contract", seqs[0], "--token", token["Ivy"]).code == 0
    same = loaded("ledger", "pay", "test-contract", seqs[0], "--token", token["Anna"])
    assert same.err == (f"error: nothing was changed: entry {seqs[0]} was approved by Anna, who cannot also mark it "
                        "paid; another person must\n")
    assert loaded("ledger", "pay", "test-contract", seqs[0], "--token", token["Bo"], "--note", "bank 2022-07-01").code == 0
    shown = json.loads(loaded("ledger", "show", "test-contract", "--json").out)["entries"]
    assert [(s["status"], s["by"]) for s in shown[0]["steps"]] == [("approved", "Anna"), ("invoiced", "Ivy"),
                                                                  ("paid", "Bo")]
    assert shown[0]["steps"][2]["note"] == "bank 2022-07-01" and shown[0]["steps"][0]["party"] == "city"

    rows = json.loads(loaded("schedule", "test-contract", "--json", "--csv", tmp_path / "s.csv",
                             "--xlsx", tmp_path / "s.xlsx", "--lang", "en").out)["rows"]
    assert sum(Decimal(r["paid"]) for r in rows) == Decimal(paid["entries"][0]["amount"])
    statuses = ("calculated", "approved", "invoiced", "paid", "rejected")
    assert sum(Decimal(r[k]) for r in rows for k in statuses) == Decimal(paid["total"])  # each amount once
    assert sum(Decimal(r["approved"]) for r in rows) == Decimal(paid["total"]) - Decimal(paid["entries"][0]["amount"])
    book = openpyxl.load_workbook(tmp_path / "s.xlsx")
    assert book.sheetnames == ["Schedule", "Entries", "Approval trail"]
    entries = list(book["Entries"].values)
    assert entries[0][:2] == ("Entry", "Period") and entries[1][entries[0].index("Status")] == "paid"
    assert "Evaluation run" in entries[0] and "Caps applied" in entries[0]
    trail = [dict(zip(next(iter(book["Approval trail"].values)), step)) for step in book["Approval trail"].values]
    first = [t for t in trail[1:] if t["Entry"] == int(seqs[0])]
    assert [(t["Status"], t["By"], t["Note"]) for t in first] == [("approved", "Anna", None), ("invoiced", "Ivy", None),
                                                                  ("paid", "Bo", "bank 2022-07-01")]

    returned = json.loads(loaded("returns", "test-contract", "--json").out)
    realised, projected = returned["realised"], returned["projected"]  # on what was paid; on paid and expected
    assert (realised["statuses"], projected["statuses"]) == (["paid"], ["paid", "calculated", "attested", "approved",
                                                                        "invoiced"])
    assert realised["investors"][0]["investor"] == "all" == projected["investors"][0]["investor"]
    assert Decimal(realised["investors"][0]["distributed"]) == Decimal(paid["entries"][0]["amount"])
    assert Decimal(projected["investors"][0]["distributed"]) == Decimal(paid["total"])
    first = json.loads(loaded("forecast", "test-contract", "--simulations", "50", "--json").out)
    again = json.loads(loaded("forecast", "test-contract", "--simulations", "50", "--json").out)
    assert first == again  # seeded: the same forecast
    assert Decimal(first["total"]["p10"]) <= Decimal(first["total"]["p50"]) <= Decimal(first["total"]["p90"])


def test_users_add_list_revoke(loaded, tmp_path: Path) -> None:
    added = json.loads(loaded("users", "add", "Anna", "--role", "payer", "--contract", "test-contract", "--party",
                              "city", "--json").out)
    assert added["token"].startswith("sib_") and len(added["token"]) > 40
    listed = json.loads(loaded("users", "list", "--json").out)["users"]
    assert [(u["name"], u["role"], u["party"], u["contracts"]) for u in listed] == [
        ("Anna", "payer", "city", ["test-contract"])]
    assert loaded("users", "add", "Al", "--role", "payer", "--contract", "test-contract").err == (
        "error: a payer user acts for one paying party: give --party (one of the contract's outcome payers)\n")
    assert loaded("users", "add", "Al", "--role", "payer", "--contract", "test-contract", "--party", "fund").err == (
        "error: 'fund' is not an outcome payer of 'test-contract'; its outcome payers: city\n")
    assert loaded("users", "add", "Al", "--role", "investor", "--contract", "test-contract", "--party", "city").err == (
        "error: only payer and provider users are bound to a party (--party); investor users are not\n")
    assert loaded("users", "add", "Pia", "--role", "provider", "--contract", "test-contract").err == (
        "error: a provider user acts for one provider: give --party (one of the contract's providers)\n")
    assert loaded("users", "add", "Pia", "--role", "provider", "--contract", "test-contract", "--party", "city").err == (
        "error: 'city' is not a provider of 'test-contract'; its providers: provider\n")
    assert len(json.loads(loaded("users", "list", "--json").out)["users"]) == 1  # nothing stored by a refusal
    assert added["token"] not in loaded("users", "list").out and listed[0]["token_hint"] == added["token"][:10]
    assert loaded("users", "add", "Bo", "--role", "payer", "--party", "city").err == (
        "error: name the contracts this user may see (--contract ID, repeatable); access is denied by default\n")
    assert loaded("users", "add", "Cy", "--role", "payer", "--party", "city", "--contract", "nope").err.startswith(
        "error: no contract 'nope'")
    assert loaded("users", "add", "Di", "--role", "investor", "--all-contracts").err == (
        "error: only an intermediary may be given every contract (--all-contracts)\n")
    assert loaded("users", "add", "Ed", "--role", "boss", "--contract", "test-contract").code == 1
    assert loaded("users", "revoke", str(listed[0]["id"])).out.startswith("Revoked user")
    assert loaded("users", "revoke", str(listed[0]["id"])).err.endswith("is already revoked\n")
    assert loaded("users", "revoke", str(2**31)).err == f"error: no user {2**31}; 'sib users list' shows them\n"


def test_version_json_errors_and_usage_exit_codes(sib) -> None:
    """`sib --version`; with --json an error is one JSON object on stderr; a value an option does not take is
    wrong usage (2), a mistake in what the option names is an error (1)."""
    from store.version import code_version

    shown = sib("--version")
    assert shown.code == 0 and shown.out.strip() == f"sib {code_version()}"
    missing = sib("contract", "list", "--json")  # no store here yet
    assert missing.code == 1 and missing.out == ""
    error = json.loads(missing.err)["error"]
    assert error["exit"] == 1 and error["code"].startswith("store.") and "sib init" in error["message"]
    usage = sib("board", "c", "--lang", "xx", "--json")
    assert usage.code == 2 and json.loads(usage.err)["error"]["message"] == (
        "--lang 'xx' is not available; expected sv or en")
    unknown = sib("contract", "list", "--json", "--nonsense")
    assert unknown.code == 2 and json.loads(unknown.err)["error"]["code"] == "usage"
    assert sib("contract", "list", "--nonsense").err.startswith("Usage:")


def test_json_errors_list_every_problem_of_a_file(sib, tmp_path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("id: x\nname: y\n", encoding="utf-8")
    result = sib("contract", "validate", bad, "--json")
    error = json.loads(result.err)["error"]
    assert result.code == 1 and error["code"] == "invalid_file" and len(error["problems"]) >= 3
    assert all(p.startswith(f"{bad}:") for p in error["problems"])


def test_contract_init_writes_a_commented_template_that_validates(sib, tmp_path) -> None:
    target = tmp_path / "new.yaml"
    assert sib("contract", "init", target).code == 0
    text = target.read_text(encoding="utf-8")
    assert text.count("#") >= 20 and "sib contract validate" in text  # commented, and says what to do next
    assert sib("contract", "validate", target).code == 0
    again = sib("contract", "init", target)
    assert again.code == 1 and "--force" in again.err and target.read_text(encoding="utf-8") == text
    assert sib("contract", "init", target, "--force").code == 0


def test_a_refused_file_is_summarised_per_reason(loaded, tmp_path: Path) -> None:
    """200 rows with one mistake each, of two kinds: two lines with counts and the first rows, not 200 lines."""
    rows = "".join(f"Q{i:03d},2020-03-01,{'x' if i % 2 else 5},{'female' if i % 4 else 'other'}\n" for i in range(200))
    bad = tmp_path / "many.csv"
    bad.write_text("participant_id,start,school_year,sex\n" + rows)
    result = loaded("ingest", "test-contract", bad, "--kind", "participants")
    assert result.code == 1
    assert result.err.splitlines() == [
        "many.csv: column school_year, 100 rows (3, 5, 7, ...): 'x' is not a number",
        "many.csv: column sex, 50 rows (2, 6, 10, ...): 'other' is not allowed; expected one of: female, male",
        "'--errors FILE' writes every error with its row, column and value",
        "error: many.csv refused: 150 errors; nothing was stored"]
    report = json.loads(loaded("ingest", "test-contract", bad, "--kind", "participants", "--json").out)
    assert [(g["column"], g["count"], [e["row"] for e in g["first"]]) for g in report["by_reason"]] == [
        ("school_year", 100, [3, 5, 7]), ("sex", 50, [2, 6, 10])]


def test_progress_bar_in_a_real_terminal_shows_rows_and_ends(loaded, tmp_path: Path) -> None:
    """In a terminal (a pseudo-terminal here) the bar shows rows read of the rows in the file with a percentage,
    and the command ends: the bar once redirected stderr to itself while our console wrote through stderr, and
    every command with a bar hung in a real terminal."""
    import os
    import pty
    import select
    import sys

    people = tmp_path / "many.csv"
    people.write_text("participant_id,start,school_year,sex\n" + "".join(
        f"R{i:05d},2020-03-01,{4 + i % 6},{'female' if i % 2 else 'male'}\n" for i in range(3000)))
    env = dict(os.environ, COLUMNS="150", TERM="xterm")
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI in the pseudo-terminal, on the test's store and key
        os.execvpe(sys.executable, [sys.executable, "-c", "from api.cli import run; run()", "ingest",
                                    "test-contract", str(people), "--kind", "participants", "--dry-run"], env)
    seen = b""
    while True:  # until the CLI closes the terminal; a hang would leave select waiting, and the test fails
        ready, _, _ = select.select([fd], [], [], 120)
        assert ready, "the command did not end: " + seen.decode(errors="replace")[-500:]
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        seen += data
    _, status = os.waitpid(pid, 0)
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", seen.decode(errors="replace").replace("\r", "\n"))
    assert os.WEXITSTATUS(status) == 0, text[-500:]
    assert "3000/3000 100%" in text and "3,000 rows are valid" in text


def test_evaluation_and_ingest_tell_their_progress(loaded, tmp_path: Path) -> None:
    """What the bar shows comes from the work itself: rows read of rows in the file, metrics done of metrics."""
    import os

    from contracts.registry import get_contract
    from evaluation.run import evaluate
    from outcomes.ingest import ingest_file
    from outcomes.pseudonym import load_key
    from store.db import open_store

    engine = open_store(os.environ["DATABASE_URL"])
    try:
        stored = get_contract(engine, "test-contract")
        rows: list[tuple] = []
        ingest_file(engine, stored.latest.terms, tmp_path / "people.csv", "participants", load_key(),
                    progress=lambda done, total: rows.append((done, total)))
        assert rows[-1] == (30, 30)
        told: list[tuple] = []
        evaluate(engine, stored, date(2021, 12, 31), progress=lambda *a: told.append(a))
        metrics = [m.id for m in stored.as_of(date(2021, 12, 31)).terms.metrics]
        assert told == [(i, len(metrics), m) for i, m in enumerate(metrics)] + [(len(metrics), len(metrics), None)]
    finally:
        engine.dispose()
