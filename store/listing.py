"""The contracts in a store, listed with SQLAlchemy's core alone: `sib contract list` answers without loading
the table models, the contract model or the registries (an import-graph test keeps it so)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

CONTRACTS = sa.table("contracts", sa.column("id"), sa.column("name"), sa.column("currency"))
VERSIONS = sa.table("contract_versions", sa.column("contract_id"), sa.column("version"))


def list_contracts(engine: Engine) -> list[dict]:
    """One summary per stored contract: id, name, currency and its number of versions (the highest)."""
    latest = (sa.select(VERSIONS.c.contract_id, sa.func.max(VERSIONS.c.version).label("versions"))
              .group_by(VERSIONS.c.contract_id).subquery())
    query = (sa.select(CONTRACTS.c.id, CONTRACTS.c.name, CONTRACTS.c.currency, latest.c.versions)
             .join(latest, latest.c.contract_id == CONTRACTS.c.id).order_by(CONTRACTS.c.id))
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
