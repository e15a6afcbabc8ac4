"""One query per API request on a contract: the caller's token, the contract's versions, and the state its cached
figures are keyed on.

Each of the three was a query of its own (on PostgreSQL a round trip each).  Read together they are read at every
request, as before: nothing a process keeps is used without this query saying it is still the store's state, so a
revoked user, a changed role, a new contract version, run, ledger entry or step is seen by the next request in
every server process.  The statement is built once and its compiled form reused; on PostgreSQL it is sent on an
asyncio connection (``store.pg_async``), so that the server's event loop is not held during the round trip.
"""

from __future__ import annotations

import hmac
import json
from collections import namedtuple
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.access import TOKEN_PREFIX, Principal, hash_token
from store.tables import ContractVersionRow, EvaluationRunRow, LedgerEntryRow, LedgerStepRow, UserRow


@dataclass(frozen=True)
class ContractState:
    """What the store holds of one contract, as far as a request needs to know: its versions (how many, the latest
    one's number and fingerprint; versions are only ever added) and what its figures depend on (the latest run,
    the last ledger entry and step)."""
    versions: int
    latest: int | None
    fingerprint: str | None
    run: int | None
    entry: int | None
    step: int | None


def state_columns(contract_id: Any) -> list[Any]:
    """The latest run, last ledger entry and last ledger step of a contract, as scalar subqueries (``contract_id``
    a value or a bound parameter): what the status and the dashboard are keyed on."""
    return [
        sa.select(sa.func.max(EvaluationRunRow.id)).where(EvaluationRunRow.contract_id == contract_id)
        .scalar_subquery().label("run"),
        sa.select(sa.func.max(LedgerEntryRow.seq)).where(LedgerEntryRow.contract_id == contract_id)
        .scalar_subquery().label("entry"),
        sa.select(sa.func.max(LedgerStepRow.seq)).where(LedgerStepRow.contract_id == contract_id)
        .scalar_subquery().label("step"),
    ]


@lru_cache(maxsize=1)
def _statement() -> sa.Select:
    """The token's user (not revoked) with its contract's versions and state: built once, so that a request pays
    neither for building it nor, after the first, for compiling it."""
    cid = sa.bindparam("contract_id", type_=sa.String)
    versions = sa.select(ContractVersionRow.version, ContractVersionRow.fingerprint) \
        .where(ContractVersionRow.contract_id == cid)
    latest = versions.order_by(ContractVersionRow.version.desc()).limit(1).subquery()
    return sa.select(
        UserRow.id, UserRow.name, UserRow.role, UserRow.contracts, UserRow.all_contracts, UserRow.party,
        UserRow.token_hash,
        sa.select(sa.func.count()).select_from(versions.subquery()).scalar_subquery().label("versions"),
        sa.select(latest.c.version).scalar_subquery().label("latest"),
        sa.select(latest.c.fingerprint).scalar_subquery().label("fingerprint"),
        *state_columns(cid),
    ).where(UserRow.token_hash == sa.bindparam("digest", type_=sa.String), UserRow.revoked_at.is_(None))


def _asked(token: str | None, contract_id: str) -> dict[str, str] | None:
    """The query's parameters, or None for a token that cannot be one (the same tokens ``api.access.authenticate``
    refuses without asking the store)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    if len(contract_id) > 64 or "\x00" in contract_id:  # names no contract (and PostgreSQL refuses a NUL in text)
        contract_id = ""
    return {"digest": hash_token(token), "contract_id": contract_id}


def _found(row: Any, digest: str) -> tuple[Principal, ContractState] | None:
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    contracts = json.loads(row.contracts) if isinstance(row.contracts, str) else row.contracts
    who = Principal(row.id, row.name, row.role, frozenset(contracts or []), bool(row.all_contracts), row.party)
    return who, ContractState(row.versions, row.latest, row.fingerprint, row.run, row.entry, row.step)


def admit(engine: Engine, token: str | None, contract_id: str) -> tuple[Principal, ContractState] | None:
    """The principal a bearer token belongs to and the state of ``contract_id`` in the store, in one query; None
    for a missing, malformed, unknown or revoked token.  The compiled statement goes to the driver's cursor on a
    connection of the engine's pool: on SQLite a SQLAlchemy connection and result cost several times the query."""
    params = _asked(token, contract_id)
    if params is None:
        return None
    compiled = _compiled(engine.dialect)
    values = compiled.construct_params(params)
    if compiled.positional:
        values = tuple(values[name] for name in compiled.positiontup)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(compiled.string, values)
        row = cursor.fetchone()
        cursor.close()
    finally:
        raw.close()  # back to the pool (a read began no transaction: nothing to roll back)
    return _found(None if row is None else _row()(*row), params["digest"])


@lru_cache(maxsize=4)
def _compiled(dialect: Any) -> Any:
    return _statement().compile(dialect=dialect)


@lru_cache(maxsize=1)
def _row() -> type:
    """The query's row as a named tuple, from a driver's plain tuple."""
    return namedtuple("Admission", list(_statement().selected_columns.keys()))  # type: ignore[misc]


async def admit_async(engine: Engine, token: str | None, contract_id: str) -> tuple[Principal, ContractState] | None:
    """``admit`` on PostgreSQL, on an asyncio connection (``store.pg_async``): the event loop serves other requests
    while this one waits for the store."""
    from store.pg_async import connections

    params = _asked(token, contract_id)
    if params is None:
        return None
    compiled = _compiled(engine.dialect)
    row = await connections(engine).first(compiled.string, compiled.construct_params(params))
    return _found(row, params["digest"])
