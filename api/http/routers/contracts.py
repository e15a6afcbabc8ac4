"""Health, contracts and their versions, and the INDIGO market comparison of a contract."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.engine import Engine

from api.access import Principal
from api.http.auth import access, principal, reader, store
from api.http.routers import CONTRACT, LIMIT, OFFSET
from api.http.schemas import (ERRORS, ContractDetail, ContractSummary, Health, IndigoComparison, Page, VersionInfo,
                              page_of)
from contracts.registry import list_contracts
from store.version import code_version

router = APIRouter()


@router.get("/health", summary="Is the server up", operation_id="health", response_model=Health)
def health() -> Health:
    return Health(status="ok", version=code_version())


@router.get("/contracts",
            summary="The contracts this token may see",
            operation_id="list_contracts", response_model=Page, responses=ERRORS)
def contracts(limit: int = LIMIT, offset: int = OFFSET, who: Principal = Depends(principal),
              db: Engine = Depends(store)) -> Page:
    visible = [ContractSummary(**r) for r in list_contracts(db) if who.sees(r["id"])]
    return page_of(visible, limit, offset)


@router.get(CONTRACT,
            summary="A contract's terms and versions",
            operation_id="get_contract", response_model=ContractDetail, responses=ERRORS)
def contract(ctx: tuple = Depends(access("contract.read"))) -> ContractDetail:
    _, stored = ctx
    latest = stored.latest
    return ContractDetail(id=stored.id, name=stored.name, currency=stored.currency, version=latest.version,
                          terms=latest.terms_json(), versions=[version_info(v) for v in stored.versions])


@router.get(CONTRACT + "/versions",
            summary="Every version of a contract",
            operation_id="list_versions", response_model=list[VersionInfo], responses=ERRORS)
def versions(ctx: tuple = Depends(access("contract.read"))) -> list[VersionInfo]:
    return [version_info(v) for v in ctx[1].versions]


@router.get(CONTRACT + "/indigo/compare",
            summary="Similar INDIGO impact bonds beside this contract",
            operation_id="indigo_compare", response_model=IndigoComparison, responses=ERRORS)
def indigo_compare(limit: int = Query(10, ge=1, le=100), ctx: tuple = Depends(access("indigo.read")),
                   db: Engine = Depends(reader)) -> dict[str, Any]:
    """INDIGO projects like this contract, with their prices per outcome, caps and results (``credit`` names
    the source: the Government Outcomes Lab's open data)."""
    from indigo.compare import compare, comparison_json
    from indigo.importer import load_reference

    contract = ctx[1].latest.terms
    return comparison_json(contract, compare(contract, load_reference(db), limit))


def version_info(v: Any) -> VersionInfo:
    return VersionInfo(version=v.version, effective=v.effective, reason=v.reason, fingerprint=v.fingerprint)
