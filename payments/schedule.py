"""The repayment schedule for municipal finance: per period and payer, what is committed, approved,
invoiced and paid, beside the forecast, with the basis of every amount; as CSV and Excel.

Committed is every ledger amount not rejected; approved includes what has since been invoiced or
paid; invoiced includes what has been paid.  The forecast band (P10-P90) is of all payments the
contract is expected to make for the period, booked or not.
"""

from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from contracts.model import Contract
from outcomes.report import neutralise
from payments.calculate import period_of
from payments.forecast import Forecast
from payments.money import ZERO

LEVELS = {"calculated": 0, "approved": 1, "invoiced": 2, "paid": 3}
COLUMNS = ["period", "payer", "committed", "approved", "invoiced", "paid", "rejected", "forecast_p10", "forecast_p50",
           "forecast_p90"]


def all_periods(contract: Contract) -> list[str]:
    """Every schedule period from the term's start to its end plus the payment lag."""
    schedule = contract.payments.schedule
    last = contract.term.end + timedelta(days=schedule.lag_days)
    months = pd.date_range(pd.Timestamp(contract.term.start).replace(day=1), last, freq="MS")
    return list(dict.fromkeys(period_of(month.date(), schedule.frequency) for month in months))


def schedule(contract: Contract, ledger: pd.DataFrame, statuses: dict[int, str],
             forecast: Forecast | None = None) -> list[dict[str, Any]]:
    """One row per period and payer, amounts as Decimal; forecast columns as Decimal or None."""
    payers = [p.party for p in contract.payments.payers]
    rows = {(period, payer): dict.fromkeys(COLUMNS[2:7], ZERO) for period in all_periods(contract) for payer in payers}
    for entry in ledger.to_dict(orient="records"):
        key = (entry["period"], entry["payer"])
        row = rows.setdefault(key, dict.fromkeys(COLUMNS[2:7], ZERO))
        status = statuses.get(entry["seq"], "calculated")
        if status == "rejected":
            row["rejected"] += entry["amount"]
            continue
        row["committed"] += entry["amount"]
        for column in ("approved", "invoiced", "paid"):
            if LEVELS[status] >= LEVELS[column]:
                row[column] += entry["amount"]
    out = []
    shares = {p.party: p.share for p in contract.payments.payers}
    for (period, payer), amounts in sorted(rows.items()):
        band = forecast.by_period.get(period) if forecast else None
        out.append({"period": period, "payer": payer, **amounts, **{
            f"forecast_{k}": (Decimal(v) * shares[payer] if band else None) for k, v in (band or {"p10": 0, "p50": 0, "p90": 0}).items()}})
    return out


def entry_rows(ledger: pd.DataFrame, statuses: dict[int, str]) -> list[dict[str, Any]]:
    """Every ledger entry with the basis of its amount, flattened for a spreadsheet."""
    rows = []
    for e in ledger.to_dict(orient="records"):
        basis = e["basis"] or {}
        rows.append({
            "entry": e["seq"], "period": e["period"], "payer": e["payer"], "mechanism": e["mechanism"],
            "cohort": e["cohort"], "kind": e["kind"], "status": statuses.get(e["seq"], "calculated"),
            "amount": e["amount"], "currency": e["currency"], "evaluation_run": e["evaluation_run_id"],
            "contract_version": e["contract_version"],
            # a stored message (or, before messages had codes, English text): rendered where it is shown
            "calculation": basis.get("trail") or basis.get("explanation", ""),
            "counts": ", ".join(f"{k} {v}" for k, v in (basis.get("achieved") or {}).items()) if isinstance(
                basis.get("achieved"), dict) else str(basis.get("achieved", basis.get("participants", ""))),
            "prices": ", ".join(f"{k} {v}" for k, v in (basis.get("prices") or {}).items()) or basis.get("price_per_unit", ""),
            "caps_applied": basis.get("caps", []), "owed_to_date": basis.get("owed_to_date", ""),
            "previously_booked": basis.get("previously_booked", ""), "created_at": e["created_at"],
            "created_by": e["created_by"], "hash": e["hash"],
        })
    return rows


def _cell(value: Any) -> Any:
    return "" if value is None else neutralise(str(value)) if not isinstance(value, (int, Decimal)) else value


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """CSV (UTF-8 with BOM, for spreadsheets); text cells that a spreadsheet would run are neutralised."""
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        if rows:
            writer.writerow(list(rows[0]))
            for row in rows:
                writer.writerow([_cell(v) for v in row.values()])
    return path


def write_xlsx(sheets: dict[str, list[dict[str, Any]]], path: Path, currency: str) -> Path:
    """An Excel workbook, one sheet per table; amounts as numbers written from their exact decimal text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    money_format = "#,##0" if currency in ("JPY", "KRW", "ISK") else "#,##0.00"
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        if not rows:
            continue
        sheet.append(list(rows[0]))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_cell(v) for v in row.values()])
            for cell, value in zip(sheet[sheet.max_row], row.values()):
                if isinstance(value, Decimal):
                    cell.number_format = money_format
        for column in sheet.columns:
            sheet.column_dimensions[column[0].column_letter].width = min(60, max(10, max(len(str(c.value or ""))
                                                                                            for c in column) + 2))
        sheet.freeze_panes = "A2"
    book.save(path)
    return path
