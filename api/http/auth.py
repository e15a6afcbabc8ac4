"""Who is asking, and may they: the engine dependencies and the token check every route starts with.

A route names the action it needs (``access("ledger.approve")``); the check runs in a fixed order so that
nothing leaks: 401 without a valid token, then 404 for a contract the caller may not know exists, then 403
for an action the caller's role may not take.  Users, roles and permissions themselves are in
``api.access``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi import Path as PathParam
from sqlalchemy.engine import Engine

from api.access import Principal, authenticate
from api.admission import ContractState, admit, admit_async
from api.http.errors import TEXTS as A
from api.http.errors import ApiError
from contracts.registry import StoredContract, UnknownContract, known_contract
from store.db import open_store


def store_of(request: Request) -> Engine:
    """The application's store, opened on first use (``create_app(engine)`` may give one)."""
    state = request.app.state
    if state.engine is None:
        state.engine = open_store()
    return state.engine


def reader_of(request: Request) -> Engine:
    """The same store for reads that need no transaction: each query on its own, nothing to roll back.  SQLite's
    driver begins no transaction for a read, so there the engine is used as it is (switching its connections to
    autocommit and back cost a PRAGMA per request); PostgreSQL's would begin one, and roll it back after."""
    state = request.app.state
    if state.reader is None:
        db = store_of(request)
        state.reader = db if db.dialect.name == "sqlite" else db.execution_options(isolation_level="AUTOCOMMIT")
    return state.reader


# The two as dependencies.  The checks below call the functions themselves: each dependency FastAPI resolves costs
# a request tens of microseconds.
async def store(request: Request) -> Engine:
    return store_of(request)


async def reader(request: Request) -> Engine:
    return reader_of(request)


# The bearer token, as the OpenAPI description states it (securitySchemes "bearer"): every route that needs a
# user depends on it, so the docs show which do and Swagger UI's "Authorize" sends it.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="sib token",
                    description="A token from `sib users add` (shown once; only its hash is kept).")


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials.strip() if credentials is not None else None


async def principal(credentials: HTTPAuthorizationCredentials | None = Security(BEARER),
                    db: Engine = Depends(reader)) -> Principal:
    with db.connect() as conn:
        who = authenticate(conn, bearer_token(credentials))
    if who is None:
        raise ApiError(401, "unauthenticated", A("unauthenticated"))
    return who


class Admitted(NamedTuple):
    """Who asks, the contract asked about, and the contract's state as read with the token (``api.admission``)."""
    who: Principal
    stored: StoredContract
    state: ContractState


async def gate(request: Request,
               credentials: HTTPAuthorizationCredentials | None = Security(BEARER)) -> tuple[Principal, ContractState]:
    """The caller and the state of the path's contract, from one query (``api.admission``); 401 before anything
    else, as for ``principal`` (the path is checked after, so an invalid one is not answered without a token)."""
    db = reader_of(request)
    token, contract_id = bearer_token(credentials), request.path_params.get("contract_id", "")
    if db.dialect.name == "postgresql":  # the round trip waited for without holding the event loop
        found = await admit_async(db, token, contract_id)
    else:  # SQLite: a read in the process, no round trip to wait for
        found = admit(db, token, contract_id)
    if found is None:
        raise ApiError(401, "unauthenticated", A("unauthenticated"))
    return found


def _admitted(request: Request, contract_id: str, found: tuple[Principal, ContractState], action: str) -> Admitted:
    """404 for a contract the caller may not see or that does not exist, then 403 for an action its role may not
    take; else who asks, the contract and its state."""
    who, state = found
    if not who.sees(contract_id):
        raise ApiError(404, "not_found", A("no_contract", contract=contract_id))
    try:
        stored = known_contract(reader_of(request), contract_id, state.versions, state.latest, state.fingerprint)
    except UnknownContract:
        raise ApiError(404, "not_found", A("no_contract", contract=contract_id)) from None
    if not who.may(action):
        raise ApiError(403, "forbidden", A("forbidden", role=who.role, action=action))
    return Admitted(who, stored, state)


def access(action: str) -> Callable[..., tuple[Principal, StoredContract]]:
    """A dependency giving (principal, contract) when the caller may take ``action`` on the path's contract."""
    async def check(request: Request, contract_id: str = PathParam(..., max_length=64),
                    found: tuple[Principal, ContractState] = Depends(gate)) -> tuple[Principal, StoredContract]:
        admitted = _admitted(request, contract_id, found, action)
        return admitted.who, admitted.stored
    return check


def admission(action: str) -> Callable[..., Admitted]:
    """``access`` with the contract's state as read with the token: for a route whose answer is kept per state of
    the store (the status), so that it needs no query of its own."""
    async def check(request: Request, contract_id: str = PathParam(..., max_length=64),
                    found: tuple[Principal, ContractState] = Depends(gate)) -> Admitted:
        return _admitted(request, contract_id, found, action)
    return check
