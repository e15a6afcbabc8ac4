"""A contract as an INDIGO project document, and an INDIGO document read back into records.

The document follows INDIGO's project schema v4.1 (``project.schema.json``,
copied here from the Government Outcomes Lab): every key we write is one the
schema names, except ``id`` at the top, which INDIGO keeps beside the project
data.  Amounts stay ``Decimal`` all the way to the JSON text.

| our contract | INDIGO |
|---|---|
| id, name, description | id, name, purpose_and_classifications.intervention |
| term start / end | dates.start_date_of_service_provision / anticipated_completion_date |
| currency | the currency of every amount |
| target group, cohort target sizes | service_and_beneficiaries.target_population / targeted_number (total) |
| metrics (id, name, target, design) | outcome_metrics (id, definition, outcome_metric_target, validation method) |
| mechanism price per metric, mechanism cap | outcome_pricings (price_per_unit, maximum_price_if_all_targets_achieved) |
| caps.total | overall_project_finance.maximum_potential_outcome_payment_v2 |
| payers (caps.per_payer, or total × share) | outcome_payment_commitments |
| investment principal, commitments | overall_project_finance.total_investment_commitment, investments |
| providers, intermediaries | service_provisions, intermediary_services |
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from contracts.model import ComparisonThreshold, Contract, Milestone, RateCard, SavingsShare
from indigo import values as v
from indigo.sectors import contract_sectors
from indigo.tables import Dataset, Refusal

SCHEMA_PATH = Path(__file__).parent / "project.schema.json"
UNIT_TYPES = {"person": "Individual"}


@lru_cache(maxsize=1)
def project_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _v(value: Any) -> dict[str, Any]:
    return {"value": value}


def prices(contract: Contract) -> list[tuple[str, Decimal, Decimal | None, str]]:
    """(metric, price per outcome, cap of the mechanism, how it is paid) for every priced metric."""
    found: list[tuple[str, Decimal, Decimal | None, str]] = []
    for mech in contract.payments.mechanisms:
        if isinstance(mech, RateCard):
            for priced in mech.priced():
                found.append((priced.metric, priced.price, mech.cap, f"{mech.id}: rate card, per participant achieving"))
        elif isinstance(mech, ComparisonThreshold):
            found.append((mech.metric, mech.price_per_unit, mech.cap,
                          f"{mech.id}: per unit of improvement against the comparison group"))
        elif isinstance(mech, SavingsShare):
            found.append((mech.metric, mech.unit_value, mech.cap,
                          f"{mech.id}: savings share, value of one unit avoided"))
        elif isinstance(mech, Milestone):
            found.append((mech.metric, mech.amount, mech.cap, f"{mech.id}: milestone, per participant"))
    return found


def _stage(contract: Contract, today: date) -> str:
    if today < contract.term.start:
        return "Contracted"
    return "Implementation" if today <= contract.term.end else "Complete"


def export_project(contract: Contract, today: date | None = None) -> dict[str, Any]:
    """The contract as an INDIGO project document (a dict with Decimal amounts; see ``dumps``)."""
    today = today or date.today()
    cur = contract.currency
    sectors = contract_sectors(contract)
    sector = sectors[0] if sectors else None
    payers = [p for p in contract.payments.payers]
    total_cap = contract.payments.caps.total
    doc: dict[str, Any] = {
        "id": contract.id,
        "name": _v(contract.name),
        "stage_development": _v(_stage(contract, today)),
        "dates": {
            "start_date_of_service_provision": _v(contract.term.start.isoformat()),
            "anticipated_completion_date": _v(contract.term.end.isoformat()),
            "anticipated_end_date_of_service_provision": _v(max(c.enrolment_end for c in contract.cohorts).isoformat()),
        },
        "purpose_and_classifications": {
            **({"intervention": _v(" ".join(contract.description.split()))} if contract.description else {}),
            **({"policy_sector": _v(sector)} if sector else {}),
        },
        "service_and_beneficiaries": {
            "target_population": _v(contract.target_group.description),
            "unit_type_targeted_service_users_or_beneficiaries": _v(UNIT_TYPES.get(contract.target_group.unit, "Other")),
        },
        "overall_project_finance": {},
        "outcome_metrics": [],
        "outcome_pricings": [],
        "outcome_payment_commitments": [],
    }
    sizes = [c.target_size for c in contract.cohorts if c.target_size]
    if sizes:
        doc["service_and_beneficiaries"]["targeted_number_service_users_or_beneficiaries_total"] = _v(sum(sizes))
    finance = doc["overall_project_finance"]
    if total_cap is not None:
        finance["maximum_potential_outcome_payment_v2"] = {"currency": _v(cur), "amount": _v(total_cap)}
    if contract.investment is not None:
        finance["total_investment_commitment"] = {"currency": _v(cur), "amount": {"exact": _v(contract.investment.principal)}}
        doc["investments"] = [
            {"id": f"investment-{c.party}", "organisation_id": _v(c.party),
             "investment_commitment": {"currency": _v(cur), "amount": {"exact": _v(c.amount)}}}
            for c in contract.investment.commitments]
    for m in contract.metrics:
        metric: dict[str, Any] = {"id": m.id, "definition": _v(m.name),
                                  "target_population": _v(contract.target_group.description),
                                  "outcome_validation_method": _v(m.evaluation.design.replace("_", " "))}
        if m.target is not None:
            metric["outcome_metric_target"] = _v(str(m.target))
        if sector:
            metric["policy_sector"] = _v(sector)
        doc["outcome_metrics"].append(metric)
    for metric_id, price, cap, how in prices(contract):
        pricing: dict[str, Any] = {"outcome_metric_id": _v(metric_id), "currency": _v(cur),
                                   "price_per_unit": {"amount": _v(price)}, "price_description": _v(how)}
        if cap is not None:
            pricing["maximum_price_if_all_targets_achieved"] = {"amount": _v(str(cap))}  # a string in INDIGO
        doc["outcome_pricings"].append(pricing)
    for share in payers:
        cap = contract.payments.caps.per_payer.get(share.party)
        if cap is None and total_cap is not None:
            cap = total_cap * share.share
        commitment: dict[str, Any] = {"organisation_id": _v(share.party)}  # INDIGO's role categories say what kind
        # of body pays (government, foundation, ...); our contracts do not, so none is written.
        if cap is not None:
            commitment["maximum_potential_outcome_payment"] = {"currency": _v(cur), "amount": _v(cap)}
        doc["outcome_payment_commitments"].append(commitment)
    providers = [p for p in contract.parties if p.role == "provider"]
    intermediaries = [p for p in contract.parties if p.role == "intermediary"]
    if providers:
        doc["service_provisions"] = [{"id": p.id, "organisation_id": _v(p.id)} for p in providers]
    if intermediaries:
        doc["intermediary_services"] = [{"organisation_id": _v(p.id), "other_role_description": _v(p.name)}
                                        for p in intermediaries]
    return doc


def validation_errors(doc: dict[str, Any]) -> list[str]:
    """Where the document breaks INDIGO's project schema (jsonschema, draft 7); empty when it is valid."""
    import jsonschema

    validator = jsonschema.Draft7Validator(project_schema())
    return [f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]


def unknown_keys(doc: Any, schema: dict[str, Any] | None = None, path: str = "") -> list[str]:
    """Keys the schema does not name (INDIGO's schema allows any, so validation alone would not see a typo)."""
    root = project_schema()
    schema = root if schema is None else schema
    if "$ref" in schema:
        schema = root["definitions"][schema["$ref"].split("/")[-1]]
    found: list[str] = []
    if isinstance(doc, dict):
        known = schema.get("properties", {})
        for key, value in doc.items():
            if key not in known:
                if not (path == "" and key == "id"):
                    found.append(f"{path}/{key}")
                continue
            found += unknown_keys(value, known[key], f"{path}/{key}")
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            found += unknown_keys(item, schema.get("items", {}), f"{path}/{i}")
    return found


def dumps(doc: Any, indent: int = 2, level: int = 0) -> str:
    """JSON text with Decimal amounts written exactly as they are (json.dumps would need floats)."""
    pad, inner = " " * (indent * level), " " * (indent * (level + 1))
    if isinstance(doc, dict):
        if not doc:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dumps(val, indent, level + 1)}" for k, val in doc.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(doc, list):
        if not doc:
            return "[]"
        return "[\n" + ",\n".join(f"{inner}{dumps(val, indent, level + 1)}" for val in doc) + f"\n{pad}]"
    if isinstance(doc, Decimal):
        return format(doc, "f")
    return json.dumps(doc, ensure_ascii=False)


def loads(text: str) -> Any:
    """JSON text with every non-integer number read as Decimal."""
    return json.loads(text, parse_float=Decimal)


# -- reading a document back ------------------------------------------------------------------------------------------

def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def read_document(doc: dict[str, Any], project_id: str | None = None) -> Dataset:
    """An INDIGO project document as records of the same shape the CSV tables give (one project)."""
    data = Dataset()
    pid = project_id or doc.get("id")
    if not isinstance(pid, str) or not pid.strip():
        raise ValueError("the INDIGO document has no id; give one")
    refusals = data.refusals

    def read(parse: Any, value: Any, table: str, field: str) -> Any:
        try:
            return parse(None if value is None else str(value))
        except v.Unreadable as exc:
            refusals.append(Refusal(pid, table, field, str(value), exc.kind, exc.reason))
            return None

    finance = _get(doc, "overall_project_finance") or {}
    data.projects.append({
        "id": pid, "name": _get(doc, "name", "value") or pid, "stage": _get(doc, "stage_development", "value"),
        "policy_sector": _get(doc, "purpose_and_classifications", "policy_sector", "value"),
        "intervention": _get(doc, "purpose_and_classifications", "intervention", "value"),
        "country": _get(doc, "jurisdiction", "jurisdiction", "value"),
        "start_date": read(v.parse_date, _get(doc, "dates", "start_date_of_service_provision", "value"), "projects",
                           "dates/start_date_of_service_provision"),
        "anticipated_completion_date": read(v.parse_date, _get(doc, "dates", "anticipated_completion_date", "value"),
                                            "projects", "dates/anticipated_completion_date"),
        "anticipated_end_date": read(v.parse_date, _get(doc, "dates", "anticipated_end_date_of_service_provision",
                                                        "value"), "projects", "dates/anticipated_end_date"),
        "target_population": _get(doc, "service_and_beneficiaries", "target_population", "value"),
        "targeted_number": read(v.parse_count, _get(doc, "service_and_beneficiaries",
                                                    "targeted_number_service_users_or_beneficiaries_total", "value"),
                                "projects", "service_and_beneficiaries/targeted_number"),
        "max_outcome_payment_currency": read(v.parse_currency, _get(finance, "maximum_potential_outcome_payment_v2",
                                                                    "currency", "value"), "projects", "currency"),
        "max_outcome_payment": read(v.parse_amount, _get(finance, "maximum_potential_outcome_payment_v2", "amount",
                                                         "value"), "projects", "maximum_potential_outcome_payment"),
        "max_outcome_payment_usd": read(v.parse_amount, _get(finance, "maximum_potential_outcome_payment_v2",
                                                             "amount_usd", "value"), "projects", "amount_usd"),
        "investment_currency": read(v.parse_currency, _get(finance, "total_investment_commitment", "currency", "value"),
                                    "projects", "total_investment_commitment/currency"),
        "investment": read(v.parse_amount, _get(finance, "total_investment_commitment", "amount", "exact", "value"),
                           "projects", "total_investment_commitment/amount"),
        "investment_usd": read(v.parse_amount, _get(finance, "total_investment_commitment", "amount_usd", "exact",
                                                    "value"), "projects", "total_investment_commitment/amount_usd"),
    })
    for m in doc.get("outcome_metrics") or []:
        data.outcome_metrics.append({
            "project_id": pid, "metric_id": m.get("id"), "definition": _get(m, "definition", "value"),
            "target_population": _get(m, "target_population", "value"), "target": _get(m, "outcome_metric_target", "value"),
            "validation_method": _get(m, "outcome_validation_method", "value"),
            "policy_sector": _get(m, "policy_sector", "value"),
            "targeted_number": read(v.parse_count, _get(m, "targeted_number_of_service_users_or_beneficiaries_total",
                                                        "value"), "outcome_metrics", "targeted_number")})
    for p in doc.get("outcome_pricings") or []:
        data.outcome_pricings.append({
            "project_id": pid, "metric_id": _get(p, "outcome_metric_id", "value"),
            "currency": read(v.parse_currency, _get(p, "currency", "value"), "outcome_pricings", "currency"),
            "price": read(v.parse_amount, _get(p, "price_per_unit", "amount", "value"), "outcome_pricings",
                          "price_per_unit/amount"),
            "price_usd": read(v.parse_amount, _get(p, "price_per_unit", "amount_usd", "value"), "outcome_pricings",
                              "price_per_unit/amount_usd"),
            "max_price": read(v.parse_amount, _get(p, "maximum_price_if_all_targets_achieved", "amount", "value"),
                              "outcome_pricings", "maximum_price_if_all_targets_achieved/amount"),
            "description": _get(p, "price_description", "value")})
    for c in doc.get("outcome_payment_commitments") or []:
        data.outcome_payment_commitments.append({
            "project_id": pid, "organisation_id": _get(c, "organisation_id", "value"),
            "role": _get(c, "organisation_role_category", "value"),
            "currency": read(v.parse_currency, _get(c, "maximum_potential_outcome_payment", "currency", "value"),
                             "outcome_payment_commitments", "currency"),
            "max_amount": read(v.parse_amount, _get(c, "maximum_potential_outcome_payment", "amount", "value"),
                               "outcome_payment_commitments", "maximum_potential_outcome_payment/amount")})
    for i in doc.get("investments") or []:
        data.investments.append({
            "project_id": pid, "investment_id": i.get("id"), "organisation_id": _get(i, "organisation_id", "value"),
            "currency": read(v.parse_currency, _get(i, "investment_commitment", "currency", "value"), "investments",
                             "currency"),
            "amount": read(v.parse_amount, _get(i, "investment_commitment", "amount", "exact", "value"), "investments",
                           "investment_commitment/amount/exact")})
    return data
