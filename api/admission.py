"""One query per API request on a contract: the caller's token, the contract's versions, and the state its cached
figures are keyed on.

Each of the three was a query of its own (on PostgreSQL a round trip each).  Read together they are read at every
request, as before: nothing a process keeps is used without this query saying it is still the store's state, so a
revoked user, a changed role, a new contract version, run, ledger entry or step is seen by the next request in
every server process.  The statement is built once and its compiled form reused (SQLAlchemy's statement cache).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

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


def admit(conn: sa.Connection, token: str | None, contract_id: str) -> tuple[Principal, ContractState] | None:
    """The principal a bearer token belongs to and the state of ``contract_id`` in the store, in one query; None
    for a missing, malformed, unknown or revoked token (the same tokens ``api.access.authenticate`` refuses)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    if len(contract_id) > 64 or "\x00" in contract_id:  # names no contract (and PostgreSQL refuses a NUL in text)
        contract_id = ""
    row = conn.execute(_statement(), {"digest": digest, "contract_id": contract_id}).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    who = Principal(row.id, row.name, row.role, frozenset(row.contracts or []), bool(row.all_contracts), row.party)
    return who, ContractState(row.versions, row.latest, row.fingerprint, row.run, row.entry, row.step)
