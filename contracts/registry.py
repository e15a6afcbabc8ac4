"""Contracts in the store: load a file's versions, list them, fetch one.

Stored versions are never changed.  Loading a file again is a no-op when its
versions are the same; a file that adds an amendment adds a version; a file
that changes the terms of an already stored version is refused, because an
evaluation or a payment may already name that version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contracts.loader import ContractFile, ContractVersion, version_as_of
from contracts.messages import TEXTS as C
from contracts.model import Contract
from contracts.periods import period_end
from language import MessageError
from store.db import record_audit
from store.tables import (ContractRow, ContractVersionRow, EvaluationRunRow, ImportBatchRow, LedgerEntryRow,
                          LedgerStepRow)


class UnknownContract(MessageError, LookupError):
    def __init__(self, contract_id: str):
        super().__init__(C("unknown", contract=contract_id))
        self.contract_id = contract_id


class VersionConflict(MessageError, ValueError):
    """A contract file that would change what is stored."""


@dataclass(frozen=True)
class StoredContract:
    id: str
    name: str
    currency: str
    source: str
    versions: tuple[ContractVersion, ...]

    @property
    def latest(self) -> ContractVersion:
        return self.versions[-1]

    def as_of(self, day: date) -> ContractVersion:
        return version_as_of(self.versions, day)


@dataclass(frozen=True)
class LoadOutcome:
    contract_id: str
    added_versions: tuple[int, ...]
    unchanged_versions: tuple[int, ...]


def store_contract(engine: Engine, cf: ContractFile) -> LoadOutcome:
    """Store a validated contract file's versions, atomically."""
    with engine.begin() as conn:
        existing = {
            row.version: row.fingerprint
            for row in conn.execute(
                sa.select(ContractVersionRow.version, ContractVersionRow.fingerprint).where(
                    ContractVersionRow.contract_id == cf.id
                )
            )
        }
        for v in cf.versions:
            if v.version in existing and existing[v.version] != v.fingerprint:
                raise VersionConflict(C("version_changed", version=v.version, contract=cf.id))
        missing_in_file = sorted(set(existing) - {v.version for v in cf.versions})
        if missing_in_file:
            raise VersionConflict(C("versions_missing", contract=cf.id, versions=", ".join(map(str, missing_in_file))))
        if not existing:
            conn.execute(sa.insert(ContractRow), {
                "id": cf.id, "name": cf.contract.name, "currency": cf.contract.currency, "source": cf.source,
            })
        added = [v for v in cf.versions if v.version not in existing]
        if existing and added:
            _refuse_silent_repricing(conn, cf, added)
            _refuse_lower_threshold(conn, cf, added)
        if added:
            conn.execute(sa.insert(ContractVersionRow), [
                {"contract_id": cf.id, "version": v.version, "effective": v.effective, "reason": v.reason,
                 "fingerprint": v.fingerprint, "terms": v.terms_json(), "retroactive": v.retroactive or None}
                for v in added
            ])
            conn.execute(sa.update(ContractRow).where(ContractRow.id == cf.id).values(name=cf.contract.name))
            record_audit(conn, "contract.load", cf.id, {"source": cf.source, "versions": [v.version for v in added]})
    return LoadOutcome(cf.id, tuple(v.version for v in added), tuple(sorted(existing)))


def _refuse_silent_repricing(conn: sa.Connection, cf: ContractFile, added: list[ContractVersion]) -> None:
    """An amendment may not take effect before the end of a period that already has (not rejected) entries,
    unless it says it is a retroactive settlement: re-pricing closed periods is a decision, never a side effect."""
    rejected = sa.select(LedgerStepRow.entry_seq).where(LedgerStepRow.contract_id == cf.id,
                                                         LedgerStepRow.status == "rejected")
    periods = conn.execute(sa.select(LedgerEntryRow.period).distinct().where(
        LedgerEntryRow.contract_id == cf.id, LedgerEntryRow.seq.not_in(rejected))).scalars().all()
    if not periods:
        return
    last = max(periods, key=period_end)
    for v in added:
        if v.version > 1 and not v.retroactive and v.effective <= period_end(last):
            raise VersionConflict(C("retroactive", version=v.version, reason=v.reason, effective=v.effective,
                                    period=last))


def _refuse_lower_threshold(conn: sa.Connection, cf: ContractFile, added: list[ContractVersion]) -> None:
    """Once the contract has data (a batch, a run or a ledger entry), no amendment may lower its suppression
    threshold: cells already hidden from investors and payers would show, and the two views could be differenced."""
    has_data = any(conn.execute(sa.select(sa.literal(1)).select_from(table).where(table.contract_id == cf.id).limit(1))
                   .first() for table in (ImportBatchRow, EvaluationRunRow, LedgerEntryRow))
    if not has_data:
        return
    stored = [int((terms or {}).get("suppression_threshold") or 5) for terms in conn.execute(
        sa.select(ContractVersionRow.terms).where(ContractVersionRow.contract_id == cf.id)).scalars()]
    highest = max(stored, default=0)
    for v in sorted(added, key=lambda v: v.version):
        if v.terms.suppression_threshold < highest:
            raise VersionConflict(C("threshold_lowered", version=v.version, contract=cf.id, threshold=highest,
                                    lowered=v.terms.suppression_threshold))
        highest = max(highest, v.terms.suppression_threshold)


def list_contracts(engine: Engine) -> list[dict]:
    """One summary per stored contract, for `sib contract list` (``store.listing``: it needs no model)."""
    from store.listing import list_contracts as listed

    return listed(engine)


_PARSED: dict[tuple[str, str], tuple[tuple, StoredContract]] = {}


def get_contract(engine: Engine, contract_id: str) -> StoredContract:
    """A stored contract with its versions parsed; parsed once per process while its versions stay the same."""
    with engine.connect() as conn:
        stamp = tuple(conn.execute(
            sa.select(ContractVersionRow.version, ContractVersionRow.fingerprint)
            .where(ContractVersionRow.contract_id == contract_id).order_by(ContractVersionRow.version)).all())
        cached = _PARSED.get((str(engine.url), contract_id))
        if cached is not None and cached[0] == stamp and stamp:
            return cached[1]
        row = conn.execute(sa.select(ContractRow).where(ContractRow.id == contract_id)).first()
        if row is None:
            raise UnknownContract(contract_id)
        versions = conn.execute(
            sa.select(ContractVersionRow).where(ContractVersionRow.contract_id == contract_id)
            .order_by(ContractVersionRow.version)
        ).all()
    stored = _stored(row, versions)
    _PARSED[(str(engine.url), contract_id)] = (tuple((v.version, v.fingerprint) for v in versions), stored)
    return stored


def known_contract(engine: Engine, contract_id: str, versions: int, latest: int | None,
                   fingerprint: str | None) -> StoredContract:
    """``get_contract`` for a caller that has just read the contract's versions (how many, the latest one's number and
    fingerprint, as ``api.admission`` does with the token): the parsed copy without another query when it has those
    versions (stored versions are only ever added, never changed, so these three tell), else read and parsed again."""
    if not versions:
        raise UnknownContract(contract_id)
    cached = _PARSED.get((str(engine.url), contract_id))
    if cached is not None and len(cached[0]) == versions and cached[0][-1] == (latest, fingerprint):
        return cached[1]
    return get_contract(engine, contract_id)


def _stored(row: Any, versions: list[Any]) -> StoredContract:
    return StoredContract(
        id=row.id, name=row.name, currency=row.currency, source=row.source,
        versions=tuple(
            ContractVersion(v.version, v.effective, v.reason, Contract.model_validate(v.terms), v.fingerprint,
                            bool(v.retroactive))
            for v in versions
        ),
    )
