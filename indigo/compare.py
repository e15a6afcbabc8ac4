"""Pricing against the market: INDIGO projects like a contract, with what they paid per outcome.

A municipality proposing a price wants to know what others paid for similar
outcomes.  Each reference project is scored on two things, both from 0 to 1:

- policy sector: 1 when its INDIGO sector is the contract's first sector (see
  ``indigo.sectors``), 0.5 when it is another sector the contract's words
  point to, else 0;
- outcome definitions: for each of our metrics, the share of its words found
  in the project's closest outcome definition; the best of our metrics counts.

score = 0.45 × sector + 0.45 × definitions + 0.1 when the closest outcome
has a published price (the point is pricing).  Projects with neither a sector
nor a word in common are left out.  Prices are shown as INDIGO
gives them: the original currency, and USD where INDIGO converted it (World
Bank rates); we convert nothing ourselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from contracts.model import Contract
from indigo import CREDIT
from indigo.export import prices
from indigo.sectors import contract_sectors, overlap, tokens

SECTOR_WEIGHT = 0.45
DEFINITION_WEIGHT = 0.45
PRICE_WEIGHT = 0.1


@dataclass(frozen=True)
class MetricMatch:
    our_metric: str
    our_price: Decimal | None
    their_metric: str | None
    their_definition: str | None
    similarity: float
    price: Decimal | None
    price_currency: str | None
    price_usd: Decimal | None
    max_price: Decimal | None
    results: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Comparable:
    project_id: str
    name: str
    country: str | None
    policy_sector: str | None
    stage: str | None
    score: float
    sector_score: float
    definition_score: float
    currency: str | None
    max_outcome_payment: Decimal | None
    max_outcome_payment_usd: Decimal | None
    match: MetricMatch | None

    def as_dict(self) -> dict[str, Any]:
        m = self.match
        return {
            "project_id": self.project_id, "name": self.name, "country": self.country,
            "policy_sector": self.policy_sector, "stage": self.stage, "score": round(self.score, 3),
            "sector_score": self.sector_score, "definition_score": round(self.definition_score, 3),
            "cap": {"currency": self.currency, "amount": _s(self.max_outcome_payment),
                    "amount_usd": _s(self.max_outcome_payment_usd)},
            "match": None if m is None else {
                "our_metric": m.our_metric, "our_price": _s(m.our_price), "their_metric": m.their_metric,
                "their_definition": m.their_definition, "similarity": round(m.similarity, 3),
                "price": {"currency": m.price_currency, "amount": _s(m.price), "amount_usd": _s(m.price_usd),
                          "max_if_all_targets_achieved": _s(m.max_price)},
                "results": list(m.results)},
        }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _result(r: dict[str, Any]) -> dict[str, Any]:
    return {"type": r.get("type"), "period_start": r.get("period_start"), "period_end": r.get("period_end"),
            "outcomes_achieved": r.get("outcomes_achieved"), "number_engaged": r.get("number_engaged"),
            "number_positive": r.get("number_positive")}


def score_project(contract: Contract, sectors: list[str], project: dict[str, Any]) -> Comparable:
    """One reference project against the contract (pure: the project is a dict from ``load_reference``)."""
    sector = project.get("policy_sector")
    sector_score = 1.0 if sectors and sector == sectors[0] else 0.5 if sector in sectors else 0.0
    our_prices = {metric: price for metric, price, _, _ in prices(contract)}
    best: tuple[float, Any, Any] = (0.0, None, None)
    for m in contract.metrics:
        ours = tokens(m.name)
        for theirs in project.get("outcome_metrics", []):
            similarity = overlap(ours, tokens(theirs.get("definition")))
            candidate = (similarity, m, theirs)
            # On equal words, prefer our priced metric and a metric of theirs with a price.
            if similarity > best[0] or (similarity == best[0] > 0 and _priced(project, theirs) and not _priced(project, best[2])):
                best = candidate
    similarity, ours_m, theirs_m = best
    match = None
    if ours_m is not None:
        pricing = next((p for p in project.get("outcome_pricings", [])
                        if theirs_m is not None and p.get("metric_id") == theirs_m.get("metric_id")), None)
        results = tuple(_result(r) for r in project.get("results", [])
                        if theirs_m is not None and r.get("metric_id") == theirs_m.get("metric_id"))
        match = MetricMatch(
            our_metric=ours_m.id, our_price=our_prices.get(ours_m.id), their_metric=theirs_m.get("metric_id"),
            their_definition=theirs_m.get("definition"), similarity=similarity,
            price=pricing.get("price") if pricing else None, price_currency=pricing.get("currency") if pricing else None,
            price_usd=pricing.get("price_usd") if pricing else None, max_price=pricing.get("max_price") if pricing else None,
            results=results)
    elif sector_score:
        priced_metric = next(iter(our_prices), None)
        if priced_metric is not None:
            match = MetricMatch(priced_metric, our_prices[priced_metric], None, None, 0.0, None, None, None, None, ())
    return Comparable(
        project_id=project["id"], name=project["name"], country=project.get("country"), policy_sector=sector,
        stage=project.get("stage"),
        score=(SECTOR_WEIGHT * sector_score + DEFINITION_WEIGHT * similarity
               + (PRICE_WEIGHT if (sector_score or similarity) and match is not None and match.price is not None else 0)),
        sector_score=sector_score, definition_score=similarity, currency=project.get("currency"),
        max_outcome_payment=project.get("max_outcome_payment"), max_outcome_payment_usd=project.get("max_outcome_payment_usd"),
        match=match)


def _priced(project: dict[str, Any], metric: dict[str, Any] | None) -> bool:
    return metric is not None and any(p.get("metric_id") == metric.get("metric_id") and p.get("price") is not None
                                      for p in project.get("outcome_pricings", []))


def compare(contract: Contract, projects: dict[str, dict[str, Any]], limit: int = 10) -> list[Comparable]:
    """The ``limit`` reference projects most like the contract, best first (the contract's own export excluded)."""
    sectors = contract_sectors(contract)
    scored = [score_project(contract, sectors, p) for pid, p in projects.items() if pid != contract.id]
    scored = [c for c in scored if c.score > 0]
    scored.sort(key=lambda c: (-round(c.score, 6), c.match is None or c.match.price is None, c.project_id))
    return scored[:limit]


def comparison_json(contract: Contract, found: list[Comparable]) -> dict[str, Any]:
    return {"contract": contract.id, "currency": contract.currency, "sectors": contract_sectors(contract),
            "our_prices": [{"metric": m, "price": str(p), "cap": _s(cap), "mechanism": how}
                           for m, p, cap, how in prices(contract)],
            "projects": [c.as_dict() for c in found], "credit": CREDIT}
