"""Who is asking, and may they: the engine dependencies and the token check every route starts with.

A route names the action it needs (``access("ledger.approve")``); the check runs in a fixed order so that
nothing leaks: 401 without a valid token, then 404 for a contract the caller may not know exists, then 403
for an action the caller's role may not take.  Users, roles and permissions themselves are in
``api.access``.
"""

from __future__ import annotations

from typing import Callable

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi import Path as PathParam
from sqlalchemy.engine import Engine

from api.access import Principal, authenticate
from api.http.errors import TEXTS as A
from api.http.errors import ApiError
from contracts.registry import StoredContract, UnknownContract, get_contract
from store.db import open_store


async def store(request: Request) -> Engine:
    """The application's store, opened on first use (``create_app(engine)`` may give one)."""
    state = request.app.state
    if state.engine is None:
        state.engine = open_store()
    return state.engine


async def reader(request: Request, db: Engine = Depends(store)) -> Engine:
    """The same store for reads that need no transaction: each query on its own, nothing to roll back."""
    state = request.app.state
    if state.reader is None:
        state.reader = db.execution_options(isolation_level="AUTOCOMMIT")
    return state.reader


# The bearer token, as the OpenAPI description states it (securitySchemes "bearer"): every route that needs a
# user depends on it, so the docs show which do and Swagger UI's "Authorize" sends it.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="sib token",
                    description="A token from `sib users add` (shown once; only its hash is kept).")


async def principal(credentials: HTTPAuthorizationCredentials | None = Security(BEARER),
                    db: Engine = Depends(reader)) -> Principal:
    token = credentials.credentials.strip() if credentials is not None else None
    with db.connect() as conn:
        who = authenticate(conn, token)
    if who is None:
        raise ApiError(401, "unauthenticated", A("unauthenticated"))
    return who


def access(action: str) -> Callable[..., tuple[Principal, StoredContract]]:
    """A dependency giving (principal, contract) when the caller may take ``action`` on the path's contract."""
    async def check(contract_id: str = PathParam(..., max_length=64), who: Principal = Depends(principal),
                    db: Engine = Depends(reader)) -> tuple[Principal, StoredContract]:
        if not who.sees(contract_id):
            raise ApiError(404, "not_found", A("no_contract", contract=contract_id))
        try:
            stored = get_contract(db, contract_id)
        except UnknownContract:
            raise ApiError(404, "not_found", A("no_contract", contract=contract_id)) from None
        if not who.may(action):
            raise ApiError(403, "forbidden", A("forbidden", role=who.role, action=action))
        return who, stored
    return check
