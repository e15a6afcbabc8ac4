"""The API's request and response models (pydantic): the shapes at the edge, and the one error shape."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from store.db import MAX_ID


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody


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


class Batch(BaseModel):
    id: int
    kind: str
    filename: str
    rows: int
    created_at: Any
    created_by: str
    verified_at: Any = None
    verified_by: str | None = None


class UploadResult(BaseModel):
    status: str
    batch: int | None
    rows: int
    counts: dict[str, int]
    notes: list[str]


class Participant(BaseModel):
    participant: str  # a prefix of the pseudonym: enough to follow a record, nothing to link
    cohort: str | None
    arm: str
    start: Any


class RunSummary(BaseModel):
    run: int
    as_of: Any
    contract_version: int
    include_unverified: bool
    inputs_fingerprint: str
    code_version: str
    created_at: Any
    created_by: str


class Run(Loose):
    run: int
    contract_version: int
    results: list[dict[str, Any]]
    suppression: str | None = None


class EvaluateRequest(BaseModel):
    as_of: date | None = Field(default=None, description="Default: today.")
    include_unverified: bool = False


class PaymentsRequest(BaseModel):
    run: int | None = Field(default=None, ge=1, le=MAX_ID, description="Default: the latest evaluation run.")


class RejectRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class LedgerEntry(Loose):
    seq: int
    period: str
    mechanism: str
    payer: str
    amount: str
    status: str


class Step(BaseModel):
    entry: int
    status: str
    at: str
    by: str


class AuditEvent(BaseModel):
    id: int
    at: Any
    actor: str
    action: str
    contract_id: str | None
    detail: dict[str, Any]


class Page(BaseModel):
    items: list[Any]
    total: int
    limit: int
    offset: int


# The error answers every route documents; a route adds its own (409, 413, 503) to these.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in ((401, "Missing or unknown token"), (403, "The token's role may not do this"),
                       (404, "No such contract (or not one this token may see), or no such item"),
                       (422, "Invalid request"))
}


def page_of(items: list[Any], limit: int, offset: int) -> Page:
    """One page of a list, with the total."""
    return Page(items=items[offset: offset + limit], total=len(items), limit=limit, offset=offset)
