"""Storing INDIGO records as reference projects, and reading them back.

A dataset import replaces every dataset project at once, in one transaction:
importing the same tables again leaves the same rows, never twice as many,
and a failed import leaves the store as it was.  A document (one INDIGO JSON
project) replaces only the project of its id.  Reference projects live in
their own tables: they are never contracts, so `sib contract list` and the
API's contract list never show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indigo.tables import Dataset
from store.db import record_audit
from store.tables import (IndigoCommitmentRow, IndigoInvestmentRow, IndigoOrganisationRow, IndigoOutcomeMetricRow,
                          IndigoPaymentRow, IndigoPricingRow, IndigoProjectRow, IndigoRefusalRow, IndigoResultRow)

DATASET = "dataset"
DOCUMENT = "document"
CHILD_ROWS = {
    "outcome_metrics": IndigoOutcomeMetricRow,
    "outcome_pricings": IndigoPricingRow,
    "outcome_payments": IndigoPaymentRow,
    "results": IndigoResultRow,
    "investments": IndigoInvestmentRow,
    "outcome_payment_commitments": IndigoCommitmentRow,
}
# Project fields with a column of their own; the rest go to ``detail``.
PROJECT_COLUMNS = {"id", "name", "stage", "policy_sector", "country", "start_date", "target_population",
                   "targeted_number", "investment_currency", "investment", "investment_usd", "max_outcome_payment",
                   "max_outcome_payment_usd"}


@dataclass(frozen=True)
class ImportSummary:
    source: str
    projects: int
    metrics: int
    prices: int
    payments: int
    results: int
    investments: int
    commitments: int
    organisations: int
    refused: int
    refused_by_kind: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _project_row(record: dict[str, Any], source: str) -> dict[str, Any]:
    row = {k: record.get(k) for k in PROJECT_COLUMNS}
    row["name"] = record.get("name") or record["id"]
    row["source"] = source
    row["end_date"] = record.get("anticipated_completion_date") or record.get("actual_completion_date") \
        or record.get("anticipated_end_date")
    row["currency"] = record.get("max_outcome_payment_currency") or record.get("investment_currency")
    row["detail"] = {k: (str(val) if isinstance(val, Decimal) else val) for k, val in record.items()
                     if k not in PROJECT_COLUMNS and val is not None}
    return row


def _child_row(table: Any, record: dict[str, Any]) -> dict[str, Any]:
    columns = {c.name for c in table.__table__.columns} - {"id"}
    return {k: record.get(k) for k in columns}


def store_dataset(engine: Engine, data: Dataset, source: str = DATASET) -> ImportSummary:
    """Store the records as reference projects, replacing the earlier ones of the same source (or id), atomically."""
    ids = [p["id"] for p in data.projects]
    with engine.begin() as conn:
        if source == DATASET:
            replaced = sa.select(IndigoProjectRow.id).where(IndigoProjectRow.source == DATASET)
            gone = list(conn.execute(replaced).scalars()) + ids
        else:
            gone = ids
        for chunk in _chunks(sorted(set(gone))):
            for table in CHILD_ROWS.values():
                conn.execute(sa.delete(table).where(table.project_id.in_(chunk)))
            conn.execute(sa.delete(IndigoProjectRow).where(IndigoProjectRow.id.in_(chunk)))
        conn.execute(sa.delete(IndigoRefusalRow).where(
            IndigoRefusalRow.source == source,
            *(() if source == DATASET else (IndigoRefusalRow.project_id.in_(ids),))))
        if data.projects:
            conn.execute(sa.insert(IndigoProjectRow), [_project_row(p, source) for p in data.projects])
        for name, table in CHILD_ROWS.items():
            records = getattr(data, name)
            if records:
                conn.execute(sa.insert(table), [_child_row(table, r) for r in records])
        if data.organisations:
            known = set(conn.execute(sa.select(IndigoOrganisationRow.id)).scalars())
            for chunk in _chunks(sorted(known & {o["id"] for o in data.organisations})):
                conn.execute(sa.delete(IndigoOrganisationRow).where(IndigoOrganisationRow.id.in_(chunk)))
            conn.execute(sa.insert(IndigoOrganisationRow),
                         [dict(_child_row(IndigoOrganisationRow, o), id=o["id"], name=o.get("name") or o["id"])
                          for o in data.organisations])
        if data.refusals:
            conn.execute(sa.insert(IndigoRefusalRow), [
                {"source": source, "project_id": r.project_id, "table_name": r.table, "field": r.field,
                 "value": r.value, "kind": r.kind, "reason": r.reason, "row": r.row} for r in data.refusals])
        summary = summarise(data, source)
        record_audit(conn, "indigo.import", None, summary.as_dict())
    return summary


def summarise(data: Dataset, source: str) -> ImportSummary:
    return ImportSummary(
        source=source, projects=len(data.projects), metrics=len(data.outcome_metrics),
        prices=len(data.outcome_pricings), payments=len(data.outcome_payments), results=len(data.results),
        investments=len(data.investments), commitments=len(data.outcome_payment_commitments),
        organisations=len(data.organisations), refused=len(data.refusals), refused_by_kind=data.refused_by_kind())


def _chunks(items: list[str], size: int = 500) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def reference_counts(engine: Engine) -> dict[str, int]:
    """How many rows each reference table holds (for tests and `sib indigo import` checks)."""
    tables = {"projects": IndigoProjectRow, **CHILD_ROWS, "organisations": IndigoOrganisationRow,
              "refusals": IndigoRefusalRow}
    with engine.connect() as conn:
        return {name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for name, t in tables.items()}


def load_reference(engine: Engine, project_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The stored reference projects, each with its child records under the table's name."""
    with engine.connect() as conn:
        query = sa.select(IndigoProjectRow)
        if project_ids is not None:
            query = query.where(IndigoProjectRow.id.in_(project_ids))
        projects = {r.id: dict(r._mapping) for r in conn.execute(query.order_by(IndigoProjectRow.id))}
        for project in projects.values():
            for name in CHILD_ROWS:
                project[name] = []
        for name, table in CHILD_ROWS.items():
            query = sa.select(table).order_by(table.id)
            if project_ids is not None:
                query = query.where(table.project_id.in_(project_ids))
            for r in conn.execute(query):
                if r.project_id in projects:
                    projects[r.project_id][name].append(dict(r._mapping))
    return projects


def stored_refusals(engine: Engine, source: str = DATASET) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(IndigoRefusalRow).where(IndigoRefusalRow.source == source)
                            .order_by(IndigoRefusalRow.id))
        return [{k: v for k, v in r._mapping.items() if k not in ("id", "source")} for r in rows]
