"""The HTTP API (FastAPI), versioned under /api/v1.

Routers stay thin: they read the store through the same functions as the
CLI and answer with pydantic models.  This first version serves health and
contract terms only, which hold no personal data; authentication, roles and
the participant-level resources come with the API issue.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from contracts.registry import UnknownContract, get_contract, list_contracts
from store.db import open_store
from store.version import code_version


class Health(BaseModel):
    status: str
    version: str


class ContractSummary(BaseModel):
    id: str
    name: str
    currency: str
    versions: int


class VersionInfo(BaseModel):
    version: int
    effective: date
    reason: str
    fingerprint: str


class ContractDetail(BaseModel):
    id: str
    name: str
    currency: str
    version: int
    terms: dict[str, Any]
    versions: list[VersionInfo]


def create_app(engine: Engine | None = None) -> FastAPI:
    app = FastAPI(title="sib engine", version=code_version(),
                  description="Social outcomes contracts: contracts, outcomes, evaluations and payments.")
    state: dict[str, Engine] = {}

    def store() -> Engine:
        if "engine" not in state:
            state["engine"] = engine or open_store()
        return state["engine"]

    v1 = APIRouter(prefix="/api/v1")

    @v1.get("/health", response_model=Health)
    def health() -> Health:
        return Health(status="ok", version=code_version())

    @v1.get("/contracts", response_model=list[ContractSummary])
    def contracts(db: Engine = Depends(store)) -> list[dict[str, Any]]:
        return list_contracts(db)

    @v1.get("/contracts/{contract_id}", response_model=ContractDetail,
            responses={404: {"description": "No such contract"}})
    def contract(contract_id: str, db: Engine = Depends(store)) -> ContractDetail:
        try:
            stored = get_contract(db, contract_id)
        except UnknownContract:
            raise HTTPException(status_code=404, detail=f"no contract {contract_id!r}") from None
        latest = stored.latest
        return ContractDetail(
            id=stored.id, name=stored.name, currency=stored.currency, version=latest.version, terms=latest.terms_json(),
            versions=[VersionInfo(version=v.version, effective=v.effective, reason=v.reason, fingerprint=v.fingerprint)
                      for v in stored.versions],
        )

    app.include_router(v1)
    return app
