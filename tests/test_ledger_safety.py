"""Money decisions made safe: evidence flags at approval, duties kept apart, a sealed ledger with checkpoints,
amendments that cannot re-price the past silently, and due dates."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from contracts import load_contract_text
from contracts.registry import VersionConflict, get_contract, store_contract
from payments.calculate import calculate
from payments.ledger import (Signer, StepRefused, checkpoint, entry_hash, read_ledger, read_steps, step_hash,
                             take_step, verify_chain)
from payments.schedule import entry_rows, schedule
from store.seal import MissingSealKey
from tests.helpers import MINIMAL, english, row_counts, stored_minimal
from tests.test_payments import _store_run, result

ANNA = Signer("Anna", 1, "payer", "city")
BO = Signer("Bo", 2, "payer", "city")
IVY = Signer("Ivy", 3, "intermediary")
READ = ["no_result"]  # the runs below have no result for the rate card's metric: every entry carries that flag


def _ledger(engine, n: int = 2):
    stored = stored_minimal(engine)
    calculate(engine, stored, _store_run(engine, 1, 2, [(i, "c1") for i in range(1, n + 1)] + [(60, "c2")]))
    return stored


def _approved_and_paid(engine) -> None:
    take_step(engine, "test-contract", [1, 2], "approved", ANNA, "read", acknowledged=READ)
    take_step(engine, "test-contract", [1], "invoiced", IVY)
    take_step(engine, "test-contract", [1], "paid", BO)


def _verified_store(sib, tmp_path, measurements: str | None = None) -> None:
    """A store with the minimal contract and its people and measurements, ingested and verified, via the CLI."""
    from tests.test_cli import DATA, MEASUREMENTS, PEOPLE

    assert sib("init").code == 0 and sib("keys", "init").code == 0
    assert sib("contract", "load", DATA / "minimal.yaml").code == 0
    (tmp_path / "p.csv").write_text(PEOPLE)
    (tmp_path / "m.csv").write_text(measurements or MEASUREMENTS)
    for kind, name in (("participants", "p.csv"), ("measurements", "m.csv")):
        batch = json.loads(sib("ingest", "test-contract", tmp_path / name, "--kind", kind, "--json").out)["batch"]
        assert sib("verify", str(batch)).code == 0


# -- evidence at the point of approval -------------------------------------------------------------------------------

def test_a_flagged_entry_needs_each_flag_acknowledged_and_a_reason(engine) -> None:
    _ledger(engine)
    entry = read_ledger(engine, "test-contract").iloc[0]
    assert entry["basis"]["evidence"]["flag_codes"] == ["no_result"]  # stored with the entry, under its hash
    before = row_counts(engine)
    for acknowledged, note in (([], "read"), (["no_result"], None), (["no_result"], "  "), (["wrong_sign"], "x")):
        with pytest.raises(StepRefused) as refused:
            take_step(engine, "test-contract", [1], "approved", ANNA, note, acknowledged=acknowledged)
        assert english([refused.value.message]) == [
            "entry 1 is flagged: no result for attendance (c1) in evaluation run 1; to approve it anyway, "
            "acknowledge no_result and give the reason"]
    assert row_counts(engine) == before  # nothing stored by a refusal
    taken = take_step(engine, "test-contract", [1], "approved", ANNA, "data arrives next month", acknowledged=READ)
    assert (taken[0]["acknowledged"], taken[0]["note"], taken[0]["party"]) == (
        ["no_result"], "data arrives next month", "city")
    assert read_steps(engine, "test-contract").iloc[0]["acknowledged"] == ["no_result"]


@pytest.mark.parametrize("fields, flags", [
    (dict(estimate=-1.3, ci_low=-12.98, ci_high=10.38, p_value=0.83), ["ci_includes_zero"]),  # Norrköping's case
    (dict(estimate=2.0, ci_low=0.5, ci_high=3.5, p_value=0.01), ["wrong_sign"]),  # lower is better: worse
    (dict(estimate=-2.0, ci_low=-3.5, ci_high=-0.5, p_value=0.01), []),
    (dict(estimate=None, is_effect=False, design="monitoring"), ["no_counterfactual"]),
    (dict(estimate=-2.0, ci_low=-3.5, ci_high=-0.5, p_value=0.01,
          diagnostics={"counted_by_missing_rule": 612}), ["missing_rule_share"]),
    (dict(estimate=-2.0, ci_low=-3.5, ci_high=-0.5, p_value=0.01,
          diagnostics={"counted_by_missing_rule": 200}), []),  # 20 % is the contract's default limit: not above it
])
def test_flags_follow_the_evidence_in_either_direction(fields, flags) -> None:
    from payments.evidence import evidence

    contract = load_contract_text(MINIMAL).contract
    found = evidence(contract, [result("attendance", "c1", **fields)], 7, "card", "c1")
    assert found["flag_codes"] == sorted(flags)
    assert found["results"][0]["n"] == 1000 and found["run"] == 7
    higher = evidence(contract, [result("attendance", "c1", **dict(fields, direction="higher_is_better"))], 7, "card",
                      "c1")
    if fields.get("estimate") is not None and fields.get("ci_low", 0) < 0 < fields.get("ci_high", 0):
        assert "ci_includes_zero" in higher["flag_codes"]
    if fields.get("estimate") == -2.0:  # a fall where higher is better is the wrong way
        assert "wrong_sign" in higher["flag_codes"]


def test_the_missing_rule_share_is_measured_by_the_evaluation(sib, tmp_path) -> None:
    """A participant with no measurement whose outcome the rule supplied is counted, not hidden."""
    from tests.test_cli import MEASUREMENTS

    # Exclusion (binary, missing: not_achieved) is measured for 5 of the 30; attendance (missing: exclude) for all.
    measured = MEASUREMENTS + "".join(f"P{i:03d},exclusion,2020-{1 + i % 12:02d}-25,0\n" for i in range(5))
    _verified_store(sib, tmp_path, measured)
    run = json.loads(sib("evaluate", "test-contract", "--as-of", "2022-06-30", "--json").out)
    pooled = {r["metric"]: r for r in run["results"] if r["cohort"] == "all" and r.get("subgroup") is None}
    assert (pooled["exclusion"]["n_treated"], pooled["exclusion"]["diagnostics"]["counted_by_missing_rule"]) == (30, 25)
    assert pooled["attendance"]["diagnostics"]["counted_by_missing_rule"] == 0  # excluded, not counted by a rule
    sib("payments", "test-contract")
    shown = json.loads(sib("ledger", "show", "test-contract", "--json").out)["entries"]
    assert all(r["missing_rule_share"] is not None for e in shown for r in e["evidence"]["results"])


# -- duties kept apart -----------------------------------------------------------------------------------------------

def test_a_payer_acts_only_for_its_own_party(engine) -> None:
    _ledger(engine)
    region = Signer("Rut", 9, "payer", "region")
    with pytest.raises(StepRefused) as refused:
        take_step(engine, "test-contract", [1], "approved", region, "read", acknowledged=READ)
    assert english([refused.value.message]) == ["entry 1 is owed by city; Rut acts for region only"]
    with pytest.raises(StepRefused, match="bound to no paying party"):
        take_step(engine, "test-contract", [1], "approved", Signer("Unbound", 8, "payer"), "read", acknowledged=READ)
    assert len(read_steps(engine, "test-contract")) == 0


def test_whoever_approved_cannot_mark_it_paid(engine) -> None:
    _ledger(engine)
    take_step(engine, "test-contract", [1], "approved", ANNA, "read", acknowledged=READ)
    take_step(engine, "test-contract", [1], "invoiced", IVY)
    with pytest.raises(StepRefused, match="entry 1 was approved by Anna, who cannot also mark it paid"):  # by id
        take_step(engine, "test-contract", [1], "paid", Signer("Anna again", 1, "payer", "city"))  # same user id
    assert take_step(engine, "test-contract", [1], "paid", BO)[0]["by"] == "Bo"


def test_two_approvers_above_the_contract_s_limit(engine) -> None:
    text = MINIMAL.replace("  caps:\n    total: 60000\n", "  caps:\n    total: 60000\n  approval:\n"
                           "    two_approvers_above: 5000\n")
    stored_minimal(engine, text)
    calculate(engine, get_contract(engine, "test-contract"),
              _store_run(engine, 1, 2, [(i, "c1") for i in range(1, 11)] + [(60, "c2")]))  # 12,000 and 1,200
    first = take_step(engine, "test-contract", [1, 2], "approved", ANNA, "read", acknowledged=READ)
    assert [(t["entry_seq"], t["status"]) for t in first] == [(1, "attested"), (2, "approved")]
    with pytest.raises(StepRefused, match="entry 1 .* needs a second approver; Anna attested it already"):
        take_step(engine, "test-contract", [1], "approved", ANNA, "read", acknowledged=READ)
    with pytest.raises(StepRefused, match="entry 1 is attested \\(1 of 2\\); it can become approved or rejected, "
                                          "not invoiced"):
        take_step(engine, "test-contract", [1], "invoiced", IVY)
    assert take_step(engine, "test-contract", [1], "approved", BO, "read", acknowledged=READ)[0]["status"] == "approved"
    rows = schedule(stored_minimal.__globals__["get_contract"](engine, "test-contract").latest.terms,
                    read_ledger(engine, "test-contract"), {1: "approved", 2: "approved"})
    assert sum(r["approved"] for r in rows) == D("13200.00")


# -- a sealed ledger and its checkpoint ------------------------------------------------------------------------------

def _tamper(engine, sql: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def _recompute_steps_from(engine, first: int) -> None:
    """What a database writer without the key does: recompute every step hash after a change."""
    steps = read_steps(engine, "test-contract").to_dict(orient="records")
    prev = steps[first - 2]["hash"] if first > 1 else "0" * 64
    for s in steps[first - 1:]:
        s["prev_hash"] = prev
        s["hash"] = prev = step_hash(s)
        _tamper(engine, "UPDATE ledger_steps SET prev_hash = :p, hash = :h WHERE contract_id = 'test-contract' "
                        "AND seq = :s", p=s["prev_hash"], h=s["hash"], s=s["seq"])


def test_a_recomputed_chain_is_found_without_a_checkpoint(engine) -> None:
    _ledger(engine)
    _approved_and_paid(engine)
    entries = read_ledger(engine, "test-contract").to_dict(orient="records")
    entries[0]["amount"] = D("99999.00")
    prev = "0" * 64
    for e in entries:  # change an amount and recompute every hash after it
        e["prev_hash"] = prev
        e["hash"] = prev = entry_hash(e)
        _tamper(engine, "UPDATE ledger_entries SET amount = :a, prev_hash = :p, hash = :h WHERE seq = :s",
                a=str(e["amount"]), p=e["prev_hash"], h=e["hash"], s=e["seq"])
    check = verify_chain(engine, "test-contract")
    assert (check.ok, check.broken_at, english([check.reason])) == (False, 1, [
        "entry 1 does not carry the ledger's seal: it was written or changed without the key"])


def test_a_forged_paid_step_is_found(engine) -> None:
    _ledger(engine)
    take_step(engine, "test-contract", [1], "approved", ANNA, "read", acknowledged=READ)
    take_step(engine, "test-contract", [1], "invoiced", IVY)
    steps = read_steps(engine, "test-contract").to_dict(orient="records")
    forged = {"contract_id": "test-contract", "seq": 3, "entry_seq": 1, "status": "paid", "note": None,
              "at": "2022-07-01T00:00:00.000000Z", "by": "Bo", "prev_hash": steps[-1]["hash"]}
    forged["hash"] = step_hash(forged)
    _tamper(engine, "INSERT INTO ledger_steps (contract_id, seq, entry_seq, status, note, at, by, prev_hash, hash) "
                    "VALUES (:contract_id, :seq, :entry_seq, :status, :note, :at, :by, :prev_hash, :hash)", **forged)
    check = verify_chain(engine, "test-contract")
    assert (check.ok, english([check.reason])) == (False, [
        "step 3 carries no seal: it was written without the key, or before sealing began (schema 0007); once "
        "checked, 'sib ledger seal-legacy' seals rows from before"])
    forged["mac"] = "f" * 64
    _tamper(engine, "UPDATE ledger_steps SET mac = :m WHERE seq = 3", m=forged["mac"])
    assert english([verify_chain(engine, "test-contract").reason]) == [
        "step 3 does not carry the ledger's seal: it was written or changed without the key"]


def test_the_checkpoint_finds_a_deleted_tail_and_deleted_audit_events(engine, tmp_path) -> None:
    _ledger(engine)
    _approved_and_paid(engine)
    seen = checkpoint(engine, "test-contract")
    assert verify_chain(engine, "test-contract", seen).ok
    # more work after the checkpoint is fine: the checkpoint only vouches for what it saw
    take_step(engine, "test-contract", [2], "invoiced", IVY)
    assert verify_chain(engine, "test-contract", seen).ok

    _tamper(engine, "DELETE FROM ledger_steps WHERE contract_id = 'test-contract' AND seq >= 4")  # the paid step too
    assert verify_chain(engine, "test-contract").ok  # a deleted tail leaves a consistent chain ...
    check = verify_chain(engine, "test-contract", seen)  # ... that the checkpoint does not recognise
    assert english([check.reason]) == ["the checkpoint saw 4 steps up to step 4; step 4 is gone (the ledger now has 3)"]


@pytest.mark.parametrize("attack, expected", [
    ("DELETE FROM ledger_entries WHERE contract_id = 'test-contract' AND seq = 2",
     "the checkpoint saw 2 entries up to entry 2; entry 2 is gone (the ledger now has 1)"),
    ("DELETE FROM audit_events WHERE action = 'ledger.paid'",
     "the audit events up to event {last} are not those the checkpoint saw ({count} then, {now} now): events were "
     "deleted, changed or moved"),
    ("UPDATE audit_events SET contract_id = 'elsewhere' WHERE action = 'ledger.paid'",
     "the audit events up to event {last} are not those the checkpoint saw ({count} then, {now} now): events were "
     "deleted, changed or moved"),
])
def test_the_checkpoint_finds_each_attack(engine, attack: str, expected: str) -> None:
    _ledger(engine)
    _approved_and_paid(engine)
    seen = checkpoint(engine, "test-contract")
    _tamper(engine, attack)
    check = verify_chain(engine, "test-contract", seen)
    audit = seen["audit"]
    assert not check.ok
    assert english([check.reason]) == [expected.format(last=audit["last_id"], count=audit["count"],
                                                       now=audit["count"] - 1)]


def test_an_entry_moved_to_another_contract_is_found(engine) -> None:
    _ledger(engine)
    stored_minimal(engine, MINIMAL.replace("id: test-contract", "id: other", 1))
    _tamper(engine, "UPDATE ledger_entries SET contract_id = 'other' WHERE contract_id = 'test-contract' AND seq = 1")
    assert english([verify_chain(engine, "test-contract").reason]) == ["expected entry 1 here, found entry 2"]
    assert english([verify_chain(engine, "other").reason]) == ["the content of entry 1 does not match its hash"]


def test_a_changed_or_foreign_checkpoint_file_is_refused(engine) -> None:
    _ledger(engine)
    seen = checkpoint(engine, "test-contract")
    changed = json.loads(json.dumps(seen))
    changed["entries"]["count"] = 1
    assert english([verify_chain(engine, "test-contract", changed).reason]) == [
        "the checkpoint file does not carry a valid seal: it was changed, is not a checkpoint, or was sealed with "
        "another key"]
    stored_minimal(engine, MINIMAL.replace("id: test-contract", "id: other", 1))
    assert english([verify_chain(engine, "other", seen).reason]) == [
        "the checkpoint is of contract 'test-contract', not 'other'"]
    assert not verify_chain(engine, "test-contract", {"format": "something else"}).ok


def test_no_key_no_ledger_writes(engine, monkeypatch, tmp_path) -> None:
    stored = stored_minimal(engine)
    monkeypatch.setenv("SIB_KEY_FILE", str(tmp_path / "missing.key"))
    before = row_counts(engine)
    with pytest.raises(MissingSealKey, match="no key at .*missing.key to seal the ledger with"):
        calculate(engine, stored, _store_run(engine, 1, 2, [(1, "c1")]))
    assert row_counts(engine)["ledger_entries"] == before["ledger_entries"] == 0


def test_checkpoint_and_verify_through_the_cli(sib, tmp_path) -> None:
    _verified_store(sib, tmp_path)
    sib("evaluate", "test-contract", "--as-of", "2022-06-30")
    sib("payments", "test-contract")
    made = sib("ledger", "checkpoint", "test-contract", "--out", tmp_path / "cp.json")
    assert made.code == 0 and "Keep it outside the database." in made.out
    assert sib("ledger", "checkpoint", "test-contract", "--out", tmp_path / "cp.json").err == (
        f"error: {tmp_path / 'cp.json'} exists already; a checkpoint is never overwritten\n")
    ok = sib("ledger", "verify", "test-contract", "--checkpoint", tmp_path / "cp.json")
    assert ok.code == 0 and "Everything the checkpoint of" in ok.out
    from store.db import open_store

    engine = open_store()
    _tamper(engine, "DELETE FROM ledger_entries WHERE seq = (SELECT MAX(seq) FROM ledger_entries)")
    broken = sib("ledger", "verify", "test-contract", "--checkpoint", tmp_path / "cp.json", "--json")
    assert broken.code == 1 and json.loads(broken.out)["reason_code"] == "payments.checkpoint_entry_missing"
    (tmp_path / "junk.json").write_text("not json")
    assert sib("ledger", "verify", "test-contract", "--checkpoint", tmp_path / "junk.json").err == (
        f"error: {tmp_path / 'junk.json'} is not a checkpoint file (not JSON)\n")


# -- amendments cannot re-price the past silently --------------------------------------------------------------------

AMENDED = MINIMAL.rstrip("\n") + """
  - version: 3
    effective: 2022-07-15
    reason: Price raised again{retro}
    set:
      payments.mechanisms.card.price: 2000
"""


def test_a_retroactive_amendment_is_refused_unless_marked_and_then_named(engine) -> None:
    stored = _ledger(engine)  # entries in period 2022-Q3 (as of 2022-06-01 plus a 30-day lag)
    before = row_counts(engine)
    with pytest.raises(VersionConflict) as refused:
        store_contract(engine, load_contract_text(AMENDED.replace("{retro}", "")))
    assert str(refused.value) == (
        "contract version 3 (Price raised again) takes effect on 2022-07-15, before the end of period 2022-Q3, which "
        "already has ledger entries; mark the amendment 'retroactive: true' to settle the difference as adjustments "
        "in the current period")
    assert row_counts(engine) == before
    store_contract(engine, load_contract_text(AMENDED.replace("{retro}", "\n    retroactive: true")))
    stored = get_contract(engine, "test-contract")
    assert stored.latest.version == 3 and stored.latest.retroactive
    new = calculate(engine, stored, _store_run(engine, 2, 3, [(i, "c1") for i in range(1, 3)] + [(60, "c2")],
                                               as_of="2022-08-01"))
    assert [(e["kind"], e["amount"]) for e in new] == [("adjustment", D("1600.00")), ("adjustment", D("800.00"))]
    assert all(english([e["basis"]["settlement"]]) == [
        "retroactive settlement of contract version 3 (Price raised again), effective 2022-07-15"] for e in new)


def test_an_amendment_after_the_booked_periods_needs_no_mark(engine) -> None:
    _ledger(engine)
    later = AMENDED.replace("{retro}", "").replace("2022-07-15", "2022-10-01")
    assert store_contract(engine, load_contract_text(later)).added_versions == (3,)


# -- due dates -------------------------------------------------------------------------------------------------------

def test_due_dates_follow_approval_and_the_lag_and_overdue_is_marked(engine) -> None:
    stored = _ledger(engine)
    take_step(engine, "test-contract", [1, 2], "approved", ANNA, "read", acknowledged=READ)
    take_step(engine, "test-contract", [1], "invoiced", IVY)
    take_step(engine, "test-contract", [1], "paid", BO)
    ledger, steps = read_ledger(engine, "test-contract"), read_steps(engine, "test-contract")
    statuses = dict(zip(steps["entry_seq"], steps["status"]))
    approved_on = date.fromisoformat(steps.iloc[0]["at"][:10])
    due = approved_on + timedelta(days=30)  # the contract's lag_days
    contract = stored.latest.terms
    late = entry_rows(ledger, statuses, steps, contract, today=due + timedelta(days=1))
    assert [(r["entry"], r["due_date"], r["overdue"]) for r in late] == [(1, due, False), (2, due, True)]
    assert [(r["entry"], r["overdue"]) for r in entry_rows(ledger, statuses, steps, contract, today=due)] == [
        (1, False), (2, False)]
    take_step(engine, "test-contract", [2], "rejected", ANNA, "disputed")
    steps = read_steps(engine, "test-contract")
    statuses = dict(zip(steps["entry_seq"], steps["status"]))
    assert not entry_rows(ledger, statuses, steps, contract, today=due + timedelta(days=9))[1]["overdue"]
    rows = schedule(contract, ledger, statuses, None, steps, today=due + timedelta(days=1))
    assert sum(r["overdue"] for r in rows) == 0 and sum(r["rejected"] for r in rows) == ledger.iloc[1]["amount"]
    assert sum(r[k] for r in rows for k in ("calculated", "approved", "invoiced", "paid", "rejected")) == \
        sum(ledger["amount"])  # every amount in exactly one column
    trail = late[0]["steps"]
    assert [(s["status"], s["by"]) for s in trail] == [("approved", "Anna"), ("invoiced", "Ivy"), ("paid", "Bo")]


def test_rows_without_a_seal_fail_until_the_key_s_holder_seals_them(engine) -> None:
    """Rows written before schema 0007 (or audit events before the store had a key) carry no seal. They are
    never accepted silently, since anyone who can write to the database could strip every seal and rewrite the
    chain; the key's holder checks the chains and seals them once (audited)."""
    _ledger(engine)
    take_step(engine, "test-contract", [1], "approved", ANNA, "read", acknowledged=READ)
    _tamper(engine, "UPDATE ledger_entries SET mac = NULL")  # as an upgraded store holds them
    _tamper(engine, "UPDATE ledger_steps SET mac = NULL")
    check = verify_chain(engine, "test-contract")
    assert (check.ok, check.broken_at) == (False, 1) and english([check.reason]) == [
        "entry 1 carries no seal: it was written without the key, or before sealing began (schema 0007); once "
        "checked, 'sib ledger seal-legacy' seals rows from before"]
    from payments.ledger import seal_legacy

    assert seal_legacy(engine, "test-contract", "cli:ekonom") == {"entry": 2, "step": 1, "audit": 0}
    assert verify_chain(engine, "test-contract").ok
    take_step(engine, "test-contract", [1], "invoiced", IVY)
    _tamper(engine, "UPDATE ledger_steps SET mac = NULL")  # strip every seal: still found
    assert english([verify_chain(engine, "test-contract").reason])[0].startswith("step 1 carries no seal")
    _tamper(engine, "UPDATE ledger_steps SET note = 'x' WHERE seq = 1")
    with pytest.raises(StepRefused, match="the content of step 1 does not match its hash"):
        seal_legacy(engine, "test-contract", "cli:ekonom")  # a broken chain is never sealed


def test_seal_legacy_through_the_cli(sib, tmp_path) -> None:
    from store.db import open_store

    _verified_store(sib, tmp_path)
    sib("evaluate", "test-contract", "--as-of", "2022-06-30")
    sib("payments", "test-contract")
    _tamper(open_store(), "UPDATE ledger_entries SET mac = NULL")  # as a store from before schema 0007 holds them
    refused = sib("ledger", "verify", "test-contract")
    assert refused.code == 1 and "entry 1 carries no seal" in refused.err and "seal-legacy" in refused.err
    entries = len(json.loads(sib("ledger", "show", "test-contract", "--json").out)["entries"])
    sealed = sib("ledger", "seal-legacy", "test-contract")
    assert sealed.code == 0 and sealed.out == (
        f"Sealed in 'test-contract': {entries} entries, 0 steps and 0 audit events that had no seal.\n")
    assert sib("ledger", "verify", "test-contract").code == 0
    events = sib("ledger", "verify", "test-contract", "--json")
    assert json.loads(events.out)["ok"] is True
