"""`sib ledger show|approve|reject|invoice|pay|verify|checkpoint`: the steps people take on the ledger, and its seal.

A step is a person's decision, so it is taken by an authenticated user: the CLI takes the user's token
(``--token`` or ``SIB_TOKEN``, from ``sib users add``), checks its role, contract and paying party as the
API does, and records that user on the step.  ``SIB_ACTOR`` names who runs other commands, never an approver.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, out, print_json, w
from api.cli.payments import _names, ledger_app, ledger_entries_json

ENTRIES = typer.Argument(..., metavar="ENTRY...", help="Ledger entry numbers (sib ledger show).")
TOKEN = typer.Option(None, "--token", help="Your user token (default: SIB_TOKEN); steps are taken by users.",
                     show_default=False)
ACTION = {"approved": "ledger.approve", "rejected": "ledger.approve", "invoiced": "ledger.invoice",
          "paid": "ledger.pay"}


@ledger_app.command("show")
def ledger_show(contract_id: str, as_json: bool = JSON_OPTION) -> None:
    """Every ledger entry with its status, the evidence it rests on (and its flags), and the steps taken on it."""
    from contracts.evaluation_only import payments_of
    from contracts.registry import get_contract
    from payments.evidence import entries_evidence
    from payments.ledger import read_ledger, read_steps
    from payments.schedule import step_trail
    from store.db import open_store

    said = w()
    engine = open_store()
    stored = get_contract(engine, contract_id)
    payments_of(stored)  # an evaluation-only contract has no ledger
    ledger, steps = read_ledger(engine, contract_id), read_steps(engine, contract_id)
    names = _names(stored)
    evidences = entries_evidence(engine, stored.latest.terms, ledger.to_dict(orient="records"))
    entries = ledger_entries_json(ledger, names, evidences)
    history = step_trail(steps)
    for entry in entries:
        entry["steps"] = history.get(entry["seq"], [])
        entry["status"] = entry["steps"][-1]["status"] if entry["steps"] else "calculated"
    if as_json:
        print_json({"contract": contract_id, "entries": entries})
        return
    table = Table("#", said._("period"), said._("mechanism"), said._("cohort"), said._("outcome payer"),
                  said._("entry"), said._("amount"), said._("status"), said._("steps"), said._("evidence"))
    for e in entries:
        trail = "\n".join(said._("{status}: {at} by {who}", status=said.label("status", s["status"]),
                                 at=s["at"][:16].replace("T", " "), who=s["by"])
                          + (f" — {s['note']}" if s["note"] else "") for s in e["steps"])
        proof = e["evidence"] or {}
        shown = "\n".join(proof.get("described", []))
        if proof.get("flags"):
            shown += "\n" + "\n".join("⚑ " + f["text"] for f in proof["flags"])
        table.add_row(str(e["seq"]), e["period"], names.mechanism(e["mechanism"]), names.cohort(e["cohort"]),
                      names.party(e["payer"]), said.label("entry", e["kind"]),
                      said.money(e["amount"], stored.currency), said.label("status", e["status"]), trail, shown)
    out.print(table)


def _signer(engine: Any, token: str | None, contract_id: str, status: str) -> Any:
    """The user a token belongs to, if it may take this step on this contract; a one-line refusal otherwise."""
    from api.access import authenticate

    said = w()
    token = token or os.environ.get("SIB_TOKEN")
    if not token:
        raise UserError(said._("a ledger step is taken by a user: give your token with --token or SIB_TOKEN "
                               "('sib users add' creates one)"))
    with engine.connect() as conn:
        who = authenticate(conn, token)
    if who is None:
        raise UserError(said._("the token is not a current user's token (unknown or revoked)"))
    if not who.sees(contract_id):
        raise UserError(said._("{name} may not act on contract '{contract}'", name=who.name, contract=contract_id))
    if not who.may(ACTION[status]):
        raise UserError(said._("{name} is {role}; that role may not mark entries {status}", name=who.name,
                               role=said.label("role", who.role), status=said.label("status", status)))
    return who


def _step(contract_id: str, entries: list[int], status: str, reason: str | None, token: str | None,
          acknowledge: list[str] | None = None) -> None:
    from contracts.evaluation_only import payments_of
    from contracts.registry import get_contract
    from payments.ledger import StepRefused, take_step
    from store.db import open_store

    said = w()
    engine = open_store()
    stored = get_contract(engine, contract_id)
    payments_of(stored)  # an evaluation-only contract has no entries to step
    who = _signer(engine, token, contract_id, status)
    try:
        taken = take_step(engine, contract_id, entries, status, who.signer, reason, acknowledged=acknowledge or [])
    except StepRefused as exc:
        raise UserError(said._("nothing was changed: {reason}", reason=_names(stored).message(exc.message))) from None
    for state in dict.fromkeys(t["status"] for t in taken):
        done = [t for t in taken if t["status"] == state]
        out.print(said.ngettext("{n} entry of '{contract}' {status} by {who}: {entries}",
                                "{n} entries of '{contract}' {status} by {who}: {entries}", len(done),
                                contract=contract_id, status=said.label("status", state), who=who.name,
                                entries=", ".join(str(t["entry_seq"]) for t in done)))
    if status == "approved":  # what was signed: the evidence each approved amount rests on
        _show_evidence(stored, [t["entry_seq"] for t in taken])


def _show_evidence(stored: Any, seqs: list[int]) -> None:
    from payments.evidence import entries_evidence
    from payments.ledger import read_ledger
    from store.db import open_store

    said, names = w(), _names(stored)
    engine = open_store()
    rows = [e for e in read_ledger(engine, stored.id).to_dict(orient="records") if e["seq"] in seqs]
    for seq, proof in sorted(entries_evidence(engine, stored.latest.terms, rows).items()):
        for result in proof.get("results", []):
            out.print(said._("Entry {entry} rests on: {evidence}", entry=seq, evidence=names.evidence(result)))
        for flag in proof.get("flags", []):
            out.print(said._("Entry {entry} acknowledged flag: {flag}", entry=seq, flag=names.message(flag)))


@ledger_app.command("approve")
def ledger_approve(contract_id: str, entries: list[int] = ENTRIES, token: Optional[str] = TOKEN,
                   acknowledge: Optional[list[str]] = typer.Option(
                       None, "--acknowledge", help="A flag of the evidence you approve despite (repeat for each; "
                       "'sib ledger show' lists them)."),
                   reason: Optional[str] = typer.Option(None, "--reason", help="Why (kept with the step; needed "
                                                        "to approve a flagged entry).")) -> None:
    """Approve calculated entries (the paying party's finance officer); above the contract's limit, the first
    approval attests and a second person approves."""
    _step(contract_id, entries, "approved", reason, token, acknowledge)


@ledger_app.command("reject")
def ledger_reject(contract_id: str, entries: list[int] = ENTRIES,
                  reason: str = typer.Option(..., "--reason", help="Why (kept with the step)."),
                  token: Optional[str] = TOKEN) -> None:
    """Reject calculated or approved entries, with a reason; only a new evaluation reopens the amount."""
    _step(contract_id, entries, "rejected", reason, token)


@ledger_app.command("invoice")
def ledger_invoice(contract_id: str, entries: list[int] = ENTRIES, token: Optional[str] = TOKEN,
                   note: Optional[str] = typer.Option(None, "--note", help="A comment kept with the step.")) -> None:
    """Mark approved entries invoiced."""
    _step(contract_id, entries, "invoiced", note, token)


@ledger_app.command("pay")
def ledger_pay(contract_id: str, entries: list[int] = ENTRIES, token: Optional[str] = TOKEN,
               note: Optional[str] = typer.Option(None, "--note", help="A comment kept with the step.")) -> None:
    """Mark invoiced entries paid (someone other than who approved them)."""
    _step(contract_id, entries, "paid", note, token)


@ledger_app.command("verify")
def ledger_verify(contract_id: str,
                  checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="A checkpoint file written "
                                                            "by 'sib ledger checkpoint', to check against."),
                  as_json: bool = JSON_OPTION) -> None:
    """Check the ledger's hash chains and seals, and its audit events; with --checkpoint, that nothing the
    checkpoint saw has gone or changed."""
    from contracts.registry import get_contract
    from payments.ledger import verify_chain
    from store.db import open_store

    said = w()
    engine = open_store()
    get_contract(engine, contract_id)
    seen = _read_checkpoint(checkpoint) if checkpoint is not None else None
    check = verify_chain(engine, contract_id, seen)
    reason = said.message(check.reason) if check.reason else None
    if as_json:
        print_json({"contract": contract_id, "entries": check.entries, "steps": check.steps,
                    "audit_events": check.audit_events, "ok": check.ok,
                    "broken_at": check.broken_at, "reason": reason, "reason_code": (check.reason or {}).get("code"),
                    "checkpoint": None if seen is None else {"at": seen.get("at"), "file": str(checkpoint)}})
    if not check.ok:
        raise UserError(said._("the ledger of '{contract}' does not verify: {reason}", contract=contract_id,
                               reason=reason))
    if not as_json:
        out.print(said._("The ledger of '{contract}' verifies: {entries} entries, {steps} steps and {events} audit "
                         "events, chains intact and sealed.", contract=contract_id, entries=check.entries,
                         steps=check.steps, events=check.audit_events))
        if seen is not None:
            out.print(said._("Everything the checkpoint of {at} saw is there, unchanged.", at=seen.get("at", "")))


def _read_checkpoint(path: Path) -> dict[str, Any]:
    said = w()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(said._("cannot read the checkpoint {path}: {reason}", path=path,
                               reason=exc.strerror or type(exc).__name__)) from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UserError(said._("{path} is not a checkpoint file (not JSON)", path=path)) from None
    if not isinstance(data, dict):
        raise UserError(said._("{path} is not a checkpoint file (not JSON)", path=path))
    return data


@ledger_app.command("seal-legacy")
def ledger_seal_legacy(contract_id: str) -> None:
    """Seal the rows written before sealing began (schema 0007), or audit events written before the store had a
    key, after checking their hash chains: the key's holder vouches for them once; the act is audited."""
    from contracts.registry import get_contract
    from payments.ledger import StepRefused, seal_legacy
    from store.db import actor, open_store

    said = w()
    engine = open_store()
    stored = get_contract(engine, contract_id)
    try:
        counts = seal_legacy(engine, contract_id, actor())
    except StepRefused as exc:
        raise UserError(said._("nothing was sealed: {reason}", reason=_names(stored).message(exc.message))) from None
    out.print(said._("Sealed in '{contract}': {entries} entries, {steps} steps and {events} audit events that had no "
                     "seal.", contract=contract_id, entries=counts["entry"], steps=counts["step"],
                     events=counts["audit"]))


@ledger_app.command("checkpoint")
def ledger_checkpoint(contract_id: str,
                      to: Optional[Path] = typer.Option(None, "--out", help="The file to write (default: "
                                                        "CONTRACT-checkpoint-TIME.json here)."),
                      as_json: bool = JSON_OPTION) -> None:
    """Write a sealed checkpoint of the ledger's end (its last entry and step, and its audit events) to a file
    the finance office keeps outside the database; 'sib ledger verify --checkpoint FILE' checks against it."""
    from contracts.registry import get_contract
    from payments.ledger import checkpoint
    from store.db import open_store

    said = w()
    engine = open_store()
    get_contract(engine, contract_id)
    data = checkpoint(engine, contract_id)
    target = to or Path(f"{contract_id}-checkpoint-{data['at'][:19].replace(':', '').replace('-', '')}.json")
    if not target.parent.exists():
        raise UserError(said._("cannot write {path}: folder {folder} does not exist", path=target,
                               folder=target.parent))
    if target.exists():
        raise UserError(said._("{path} exists already; a checkpoint is never overwritten", path=target))
    target.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if as_json:
        print_json({"file": str(target), **data})
        return
    out.print(said._("Checkpoint of '{contract}' written to {path}: {entries} entries, {steps} steps, {events} audit "
                     "events. Keep it outside the database.", contract=contract_id, path=target,
                     entries=data["entries"]["count"], steps=data["steps"]["count"], events=data["audit"]["count"]))
