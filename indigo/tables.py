"""The INDIGO CSV tables, read into typed records with a list of every value that could not be read.

One project's unreadable cell never stops the rest: the cell becomes empty,
its (project, table, field, value, reason) goes on the list of refusals, and
the rest of the row and of the project is kept.  Child tables link to projects
by "Project ID"; a row naming no known project is refused as a whole.

The column names are INDIGO's own ("Payments - Amount - (Value)"), so that a
refusal names the field exactly as it is written in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from indigo import values as v

# The files of a dataset, by the name we give each table (a file may also be gzipped: NAME.csv.gz).
FILES = {
    "projects": "projects.csv",
    "outcome_metrics": "projects_outcome_metrics.csv",
    "outcome_pricings": "projects_outcome_pricings.csv",
    "outcome_payments": "projects_outcome_payments.csv",
    "results": "projects_results.csv",
    "investments": "projects_investments.csv",
    "outcome_payment_commitments": "projects_outcome_payment_commitments.csv",
    "organisations": "organisations.csv",
    "delivery_locations": "projects_delivery_locations.csv",
}
REQUIRED = ("projects",)


class DatasetError(ValueError):
    """A folder that is not an INDIGO dataset; one line for the user."""


@dataclass(frozen=True)
class Refusal:
    """A value that could not be read: where it is, what it says, and why it was refused."""

    project_id: str | None
    table: str
    field: str
    value: str
    kind: str
    reason: str
    row: int | None = None  # the record's number in its table, from 1

    def as_dict(self) -> dict[str, Any]:
        return {"project_id": self.project_id, "table": self.table, "field": self.field, "value": self.value,
                "kind": self.kind, "reason": self.reason, "row": self.row}


@dataclass
class Dataset:
    """Typed records of every table, and the refusals met reading them."""

    projects: list[dict[str, Any]] = field(default_factory=list)
    outcome_metrics: list[dict[str, Any]] = field(default_factory=list)
    outcome_pricings: list[dict[str, Any]] = field(default_factory=list)
    outcome_payments: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    investments: list[dict[str, Any]] = field(default_factory=list)
    outcome_payment_commitments: list[dict[str, Any]] = field(default_factory=list)
    organisations: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in
                ("projects", "outcome_metrics", "outcome_pricings", "outcome_payments", "results", "investments",
                 "outcome_payment_commitments", "organisations")} | {"refused": len(self.refusals)}

    def refused_by_kind(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for r in self.refusals:
            kinds[r.kind] = kinds.get(r.kind, 0) + 1
        return dict(sorted(kinds.items()))


Parser = Callable[[str | None], Any]
# (our field, INDIGO column, parser) per table.  Money is parse_amount (Decimal), people parse_count (int).
Spec = list[tuple[str, str, Parser]]

P = "Overall project finance - "
PROJECTS: Spec = [
    ("name", "Impact Bond Name - (Value)", v.text),
    ("stage", "Stage of Development - (Value)", v.text),
    ("contract_signed", "Dates - Date outcomes contract signed - (Value)", v.parse_date),
    ("start_date", "Dates - Start date of service provision - (Value)", v.parse_date),
    ("anticipated_end_date", "Dates - Anticipated end date of service provision - (Value)", v.parse_date),
    ("anticipated_completion_date", "Dates - Anticipated completion date - (Value)", v.parse_date),
    ("actual_completion_date", "Dates - Actual completion date - (Value)", v.parse_date),
    ("anticipated_duration", "Dates - Anticipated duration of service provision - (Value)", v.parse_number),
    ("jurisdiction", "Jurisdiction - Jurisdiction - (Value)", v.text),
    ("investment_currency", P + "Total investment commitment - Currency - (Value)", v.parse_currency),
    ("investment_min", P + "Total investment commitment - Amount - Min - (Value)", v.parse_amount),
    ("investment", P + "Total investment commitment - Amount - Exact - (Value)", v.parse_amount),
    ("investment_max", P + "Total investment commitment - Amount - Max - (Value)", v.parse_amount),
    ("investment_usd", P + "Total investment commitment - Amount USD - Exact - (Value)", v.parse_amount),
    ("max_outcome_payment_currency", P + "Maximum potential outcome payment - Currency - (Value)", v.parse_currency),
    ("max_outcome_payment", P + "Maximum potential outcome payment - Amount - (Value)", v.parse_amount),
    ("max_outcome_payment_usd", P + "Maximum potential outcome payment - Amount USD - (Value)", v.parse_amount),
    ("outcome_payments_made_currency", P + "Total outcome payments made - Currency - (Value)", v.parse_currency),
    ("outcome_payments_made", P + "Total outcome payments made - Amount - (Value)", v.parse_amount),
    ("outcome_payments_made_usd", P + "Total outcome payments made - Amount USD - (Value)", v.parse_amount),
    ("social_challenge", "Purpose and classifications - Social challenge - (Value)", v.text),
    ("intervention", "Purpose and classifications - Intervention - (Value)", v.text),
    ("policy_sector", "Purpose and classifications - Policy sector - (Value)", v.text),
    ("target_population", "Service and beneficiaries - Target population - (Value)", v.text),
    ("targeted_number", "Service and beneficiaries - Targeted number of unique service users or beneficiaries "
                        "(total) - (Value)", v.parse_count),
    ("actual_number", "Service and beneficiaries - Actual number of unique service users or beneficiaries engaged "
                      "(total) - (Value)", v.parse_count),
]
OUTCOME_METRICS: Spec = [
    ("metric_id", "Id", v.text),
    ("definition", "Outcome Definition - (Value)", v.text),
    ("target_population", "Target Population - (Value)", v.text),
    ("targeted_number", "Targeted number of service users Or beneficiaries (total) - (Value)", v.parse_count),
    ("target", "Outcome metric target - (Value)", v.text),  # free text in INDIGO's schema
    ("validation_method", "Outcome validation Method - (Value)", v.text),
    ("policy_sector", "Policy sector - (Value)", v.text),
]
OUTCOME_PRICINGS: Spec = [
    ("metric_id", "Outcome Metric Id - (Value)", v.text),
    ("currency", "Currency - (Value)", v.parse_currency),
    ("price", "Price Per Unit - Amount - (Value)", v.parse_amount),
    ("price_usd", "Price Per Unit - Amount USD - (Value)", v.parse_amount),
    ("max_price", "Maximum Price if all targets achieved - Amount - (Value)", v.parse_amount),
    ("description", "Price Description - (Value)", v.text),
]
OUTCOME_PAYMENTS: Spec = [
    ("plan_id", "Outcome Payment Plan Id - (Value)", v.text),
    ("metric_id", "Outcome Metric Id - (Value)", v.text),
    ("period_start", "Period - Start - (Value)", v.parse_date),
    ("period_end", "Period - End - (Value)", v.parse_date),
    ("payer", "Payer Organisation ID - (Value)", v.text),
    ("type", "Type - (Value)", v.text),
    ("currency", "Payments - Currency - (Value)", v.parse_currency),
    ("amount", "Payments - Amount - (Value)", v.parse_amount),
    ("amount_usd", "Payments - Amount USD - (Value)", v.parse_amount),
]
RESULTS: Spec = [
    ("metric_id", "Outcome Metric Id - (Value)", v.text),
    ("level", "Result level - (Value)", v.text),
    ("type", "Result type - (Value)", v.text),
    ("period_start", "Period - Start - (Value)", v.parse_date),
    ("period_end", "Period - End - (Value)", v.parse_date),
    ("outcomes_achieved", "Outcomes achieved - (Value)", v.text),  # free text in INDIGO's schema
    ("number_engaged", "Number engaged In impact bond - (Value)", v.parse_count),
    ("number_positive", "Number with Positive social outcomes - (Value)", v.parse_count),
]
INVESTMENTS: Spec = [
    ("investment_id", "Id", v.text),
    ("organisation_id", "Organisation ID - (Value)", v.text),
    ("currency", "Investment Commitment - Currency - (Value)", v.parse_currency),
    ("amount_min", "Investment Commitment - Amount - Min - (Value)", v.parse_amount),
    ("amount", "Investment Commitment - Amount - Exact - (Value)", v.parse_amount),
    ("amount_max", "Investment Commitment - Amount - Max - (Value)", v.parse_amount),
    ("amount_usd", "Investment Commitment - Amount USD - Exact - (Value)", v.parse_amount),
    ("investment_type", "Investment Type - (Value)", v.text),
]
COMMITMENTS: Spec = [
    ("organisation_id", "Organisation ID - (Value)", v.text),
    ("role", "Organisation Role Category - (Value)", v.text),
    ("currency", "Maximum potential Outcome payment - Currency - (Value)", v.parse_currency),
    ("max_amount", "Maximum potential Outcome payment - Amount - (Value)", v.parse_amount),
    ("max_amount_usd", "Maximum potential Outcome payment - Amount USD - (Value)", v.parse_amount),
    ("paid_currency", "Total outcome payments made - Currency - (Value)", v.parse_currency),
    ("paid", "Total outcome payments made - Amount - (Value)", v.parse_amount),
    ("paid_usd", "Total outcome payments made - Amount USD - (Value)", v.parse_amount),
]
ORGANISATIONS: Spec = [
    ("name", "Name", v.text),
    ("type", "Type - (Value)", v.text),
    ("country", "Country", v.text),
    ("website", "Website", v.text),
]
CHILDREN: dict[str, Spec] = {
    "outcome_metrics": OUTCOME_METRICS, "outcome_pricings": OUTCOME_PRICINGS, "outcome_payments": OUTCOME_PAYMENTS,
    "results": RESULTS, "investments": INVESTMENTS, "outcome_payment_commitments": COMMITMENTS,
}


def read_cells(cells: dict[str, str], spec: Spec, table: str, project_id: str | None, row: int | None,
               refusals: list[Refusal]) -> dict[str, Any]:
    """One record from one row: each field read by its parser; an unreadable one is empty and refused."""
    record: dict[str, Any] = {}
    for name, column, parse in spec:
        raw = cells.get(column)
        try:
            record[name] = parse(raw)
        except v.Unreadable as exc:
            record[name] = None
            refusals.append(Refusal(project_id, FILES[table].removesuffix(".csv"), column, str(raw), exc.kind,
                                    exc.reason, row))
    return record


def _frame(folder: Path, table: str) -> pd.DataFrame | None:
    for candidate in (folder / FILES[table], folder / (FILES[table] + ".gz")):
        if candidate.exists():
            try:
                # Every cell as text, and no guessing of "NA" (Namibia) as missing.
                return pd.read_csv(candidate, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
            except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
                raise DatasetError(f"cannot read {candidate}: {str(exc).splitlines()[0]}") from None
    if table in REQUIRED:
        raise DatasetError(f"{folder} is not an INDIGO dataset: it has no {FILES[table]}")
    return None


def _empty(cells: dict[str, str], key: str) -> bool:
    return all(not str(value).strip() for column, value in cells.items() if column != key)


def read_dataset(folder: Path) -> Dataset:
    """Read an INDIGO dataset folder (CSV tables as published); missing child tables are simply empty."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"no folder {folder}")
    data = Dataset()
    projects = _frame(folder, "projects")
    assert projects is not None
    if "ID" not in projects.columns:
        raise DatasetError(f"{folder / FILES['projects']} has no ID column; is it INDIGO's projects table?")
    countries = _countries(_frame(folder, "delivery_locations"))
    seen: set[str] = set()
    for n, cells in enumerate(projects.to_dict(orient="records"), start=1):
        pid = str(cells.get("ID", "")).strip()
        if not pid or pid in seen:
            data.refusals.append(Refusal(pid or None, "projects", "ID", pid, "duplicate_id" if pid else "no_id",
                                         "a project named twice" if pid else "a project without an ID", n))
            continue
        seen.add(pid)
        record = read_cells(cells, PROJECTS, "projects", pid, n, data.refusals)
        record["id"] = pid
        record["country"] = countries.get(pid) or record.get("jurisdiction")
        data.projects.append(record)
    for table, spec in CHILDREN.items():
        frame = _frame(folder, table)
        if frame is None:
            continue
        rows = getattr(data, table)
        for n, cells in enumerate(frame.to_dict(orient="records"), start=1):
            pid = str(cells.get("Project ID", "")).strip()
            if _empty(cells, "Project ID"):
                continue  # an empty row under a project: nothing to read, nothing to refuse
            if pid not in seen:
                data.refusals.append(Refusal(pid or None, FILES[table].removesuffix(".csv"), "Project ID", pid,
                                             "unknown_project", "a row of a project that is not in projects.csv", n))
                continue
            record = read_cells(cells, spec, table, pid, n, data.refusals)
            record["project_id"] = pid
            rows.append(record)
    organisations = _frame(folder, "organisations")
    if organisations is not None:
        for n, cells in enumerate(organisations.to_dict(orient="records"), start=1):
            oid = str(cells.get("ID", "")).strip()
            if oid:
                record = read_cells(cells, ORGANISATIONS, "organisations", None, n, data.refusals)
                record["id"] = oid
                data.organisations.append(record)
    return data


def _countries(frame: pd.DataFrame | None) -> dict[str, str]:
    """Each project's first delivery country (ISO 3166 code), the best 'where' INDIGO has."""
    found: dict[str, str] = {}
    if frame is None or "Location - Country - (Value)" not in frame.columns:
        return found
    for pid, country in zip(frame["Project ID"], frame["Location - Country - (Value)"]):
        if country.strip() and pid.strip() not in found:
            found[pid.strip()] = country.strip()
    return found


def money_fields(spec: Spec) -> list[str]:
    """The fields of a table that hold money (stored exactly)."""
    return [name for name, _, parse in spec if parse is v.parse_amount]


def is_money(value: Any) -> bool:
    return isinstance(value, Decimal)
