"""`sib ledger export CONTRACT --sie FILE`: the ledger's steps as vouchers for the outcome payer's finance system.

The file is SIE type 4 (an import file, "4I"; see ``payments/sie.py`` for the booking rule and the points of
the specification it follows).  The accounts come from an explicit mapping file (``--accounts``): there is
no default chart, because municipalities detail Kommun-Bas each in their own way.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any, Optional

import typer

from api.cli.common import JSON_OPTION, UserError, out, parse_day, print_json, w
from api.cli.payments import ledger_app


def _period(said: Any, start: date | None, end: date | None) -> str:
    if start and end:
        return said._("{start} to {end}", start=start.isoformat(), end=end.isoformat())
    if start:
        return said._("from {start}", start=start.isoformat())
    if end:
        return said._("up to {end}", end=end.isoformat())
    return said._("all dates")


def _write(target: Path, data: bytes) -> None:
    """Write the whole file or nothing: a temporary file beside it, renamed into place."""
    said = w()
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UserError(said._("cannot write {path}: {reason}", path=target, reason=exc.strerror or str(exc))) from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise UserError(said._("cannot write {path}: {reason}", path=target, reason=exc.strerror or str(exc))) from None


@ledger_app.command("export")
def ledger_export(contract_id: str,
                  sie_file: Path = typer.Option(..., "--sie", help="The SIE 4 file to write (e.g. LEVR.SI)."),
                  start_text: Optional[str] = typer.Option(None, "--from", metavar="YYYY-MM-DD",
                                                           help="First step date to book (inclusive)."),
                  end_text: Optional[str] = typer.Option(None, "--to", metavar="YYYY-MM-DD",
                                                         help="Last step date to book (inclusive)."),
                  accounts_file: Optional[Path] = typer.Option(
                      None, "--accounts", metavar="MAPPING.yaml",
                      help="Expense, liability and bank accounts of the payer's chart (see docs/payments.md)."),
                  payer: Optional[str] = typer.Option(None, "--payer",
                                                      help="The outcome payer whose books the file is for "
                                                           "(needed when the contract has several)."),
                  as_json: bool = JSON_OPTION) -> None:
    """Book approvals, payments and reversed approvals as SIE 4 vouchers for the payer's finance system."""
    from contracts.evaluation_only import payments_of
    from contracts.registry import get_contract
    from payments.ledger import read_ledger, read_steps
    from payments.sie import load_accounts, vouchers, write_sie
    from store.db import actor, open_store
    from store.version import code_version

    said = w()
    start = parse_day(start_text, "--from") if start_text is not None else None
    end = parse_day(end_text, "--to") if end_text is not None else None
    if start and end and start > end:
        raise UserError(said._("--from {start} is after --to {end}; nothing was written", start=start.isoformat(),
                               end=end.isoformat()))
    if accounts_file is None:
        raise UserError(said._("give the accounts to book on with --accounts FILE (expense, liability and bank; "
                               "see docs/payments.md); nothing was written"))
    if not sie_file.parent.exists():
        raise UserError(said._("cannot write {path}: folder {folder} does not exist", path=sie_file,
                               folder=sie_file.parent))
    if sie_file.is_dir():
        raise UserError(said._("cannot write {path}: it is a folder", path=sie_file))
    accounts = load_accounts(accounts_file)

    engine = open_store()
    stored = get_contract(engine, contract_id)
    contract = stored.latest.terms
    payments_of(contract)  # an evaluation-only contract has no books to write
    ledger = read_ledger(engine, contract_id).to_dict(orient="records")
    payers = list(dict.fromkeys([p.party for p in contract.payments.payers] + [e["payer"] for e in ledger]))
    if payer is None:
        if len(payers) > 1:
            raise UserError(said._("contract '{contract}' has several outcome payers ({payers}); choose whose books "
                                   "with --payer", contract=contract_id, payers=", ".join(payers)))
        payer = payers[0]
    elif payer not in payers:
        raise UserError(said._("'{payer}' is not an outcome payer of '{contract}'; its outcome payers: {payers}",
                               payer=payer, contract=contract_id, payers=", ".join(payers)))
    mechanisms = [m.id for m in contract.payments.mechanisms] + [e["mechanism"] for e in ledger]
    unknown = sorted(set(accounts.by_mechanism) - set(mechanisms))
    if unknown:
        raise UserError(said._("{path} names mechanism {mechanism}, which '{contract}' does not have; its "
                               "mechanisms: {mechanisms}", path=accounts_file, mechanism=", ".join(unknown),
                               contract=contract_id, mechanisms=", ".join(dict.fromkeys(mechanisms))))
    mine = [e for e in ledger if e["payer"] == payer]
    booked = vouchers(mine, read_steps(engine, contract_id), accounts, start=start, end=end)
    company = next((p.name for p in contract.parties if p.id == payer), payer)
    data = write_sie(booked, company_name=company, contract_id=contract_id, currency=contract.currency,
                     accounts=accounts, generated=date.today(), program_version=code_version(), signature=actor())
    _write(sie_file, data)

    used = sorted({t.account for v in booked for t in v.transactions}, key=lambda a: (len(a), a))
    if as_json:
        print_json({"contract": contract_id, "payer": payer, "company_name": company, "file": str(sie_file),
                    "format": "SIE 4 (PC8)", "from": start.isoformat() if start else None,
                    "to": end.isoformat() if end else None, "currency": contract.currency,
                    "accounts": accounts.as_dict(), "accounts_used": {a: accounts.name_of(a) for a in used},
                    "count": len(booked), "vouchers": [v.as_dict() for v in booked]})
        return
    period = _period(said, start, end)
    if booked:
        out.print(said.ngettext("Wrote {path}: {n} voucher for '{contract}', outcome payer {payer} (period: {period}; "
                                "vouchers dated {first} to {last}).",
                                "Wrote {path}: {n} vouchers for '{contract}', outcome payer {payer} (period: {period}; "
                                "vouchers dated {first} to {last}).", len(booked), path=sie_file,
                                contract=contract_id, payer=company, period=period,
                                first=min(v.day for v in booked).isoformat(),
                                last=max(v.day for v in booked).isoformat()))
    else:
        out.print(said._("Wrote {path}: no vouchers for '{contract}', outcome payer {payer}: no approval, payment or "
                         "reversed approval in the period ({period}).", path=sie_file, contract=contract_id,
                         payer=company, period=period))
    by_mechanism = "; ".join(f"{m} {a}" for m, a in sorted(accounts.by_mechanism.items()))
    out.print(said._("Accounts: expense {expense}, liability {liability}, bank {bank}; voucher series {series}.",
                     expense=accounts.expense, liability=accounts.liability, bank=accounts.bank,
                     series=accounts.series))
    if by_mechanism:
        out.print(said._("Expense accounts by mechanism: {accounts}", accounts=by_mechanism))
