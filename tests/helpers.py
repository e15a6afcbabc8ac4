"""Small builders shared by the tests: a stored minimal contract and files written from text."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contracts import load_contract_text
from contracts.registry import StoredContract, get_contract, store_contract
from store.tables import (AuditEventRow, ContractRow, ContractVersionRow, EnrolmentRow, EvaluationRunRow,
                          ImportBatchRow, LedgerEntryRow, MeasurementRow, ParticipantRow)

DATA = Path(__file__).parent / "data"
MINIMAL = (DATA / "minimal.yaml").read_text(encoding="utf-8")
ALL_TABLES = (ContractRow, ContractVersionRow, ImportBatchRow, ParticipantRow, EnrolmentRow, MeasurementRow,
              EvaluationRunRow, LedgerEntryRow, AuditEventRow)


def english(messages: list) -> list[str]:
    """Stored messages (warnings, trails, explanations) as an English reader sees them."""
    from language.words import words

    return words("en").messages(messages)


def stored_minimal(engine: Engine, text: str = MINIMAL) -> StoredContract:
    cf = load_contract_text(text, "minimal.yaml")
    store_contract(engine, cf)
    return get_contract(engine, cf.id)


def write(tmp: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp / name
    path.write_bytes(text.encode(encoding))
    return path


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.__tablename__: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in ALL_TABLES}


def snapshot(store: Engine | str, skip: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order, on either database: equal snapshots, unchanged store."""
    from sqlmodel import SQLModel

    engine = store if isinstance(store, Engine) else sa.create_engine(store)
    try:
        with engine.connect() as conn:
            return {table.name: [tuple(str(v) for v in row) for row in conn.execute(
                        sa.select(table).order_by(*table.primary_key.columns))]
                    for table in SQLModel.metadata.sorted_tables if table.name not in skip}
    finally:
        if not isinstance(store, Engine):
            engine.dispose()
