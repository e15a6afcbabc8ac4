"""A cost file: what the payer's services cost, per unit, with a range, a price year, a source and the department
that bears each cost, and the price index that moves every value to another year.

Loaded like a contract (``sib costs load FILE``), checked in one pass (every problem with its file, line and
field), stored versioned; a stored version never changes.  A contract's valuation names the cost file and the
metrics name the items they avoid (``contracts.model.Avoids``); ``payments.valuation`` values the effects.

    id: gotland-costs
    version: 1
    name: Placeringskostnader (illustrativt)
    currency: SEK
    index:
      name: Omsorgsprisindex (OPI)
      source: SKR
      values: {2019: 100.0, 2020: 102.4, 2021: 105.0}
    departments: {socialtjansten: Socialtjänsten}
    items:
      - {id: hvb-day, name: Ett dygn på HVB, unit: day, low: 3000, central: 5500, high: 8000,
         price_year: 2019, source: "SKR 2020, s. 22", department: socialtjansten}

A value moves from its price year to year Y as value × index[Y] / index[price year], computed exactly and
rounded once, where a figure is shown; the index, its two years and their values go with every figure
(``Indexed``).  Money stays Decimal throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from contracts.datafiles import load_model_text, read_text, store_version
from contracts.messages import TEXTS as C
from contracts.model import Money
from language import Message

Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
Year = Annotated[int, Field(ge=1900, le=2200)]
SCENARIOS = ("low", "central", "high")
Scenario = Literal["low", "central", "high"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IndexSeries(_Strict):
    """A price index by year (e.g. SKR's omsorgsprisindex): one value for every year from the first to the last."""

    name: str = Field(min_length=1, max_length=200)
    source: str | None = Field(default=None, max_length=500)
    values: dict[Year, Annotated[Decimal, Field(gt=0, le=Decimal(10) ** 6, allow_inf_nan=False)]] = Field(
        min_length=1, description="Year -> index value.")


class CostItem(_Strict):
    """One unit cost, e.g. a day in residential care (HVB): a low, central and high value in ``price_year``'s
    prices, where it comes from, and the department whose budget carries it."""

    id: Id
    name: str = Field(min_length=1, max_length=200)
    unit: str = Field(min_length=1, max_length=40, description="What one unit is: day, hour, month, placement...")
    low: Money
    central: Money
    high: Money
    price_year: Year
    source: str = Field(min_length=1, max_length=500)
    department: Id

    def value(self, scenario: Scenario) -> Decimal:
        return getattr(self, scenario)


class CostFile(_Strict):
    id: Id
    version: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=200)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    index: IndexSeries
    departments: dict[Id, str] = Field(default_factory=dict, description="Department id -> its name.")
    items: list[CostItem] = Field(min_length=1)

    @property
    def key(self) -> str:
        return f"{self.id} v{self.version}"

    def item(self, item_id: str) -> CostItem | None:
        return next((i for i in self.items if i.id == item_id), None)

    def department_name(self, department: str) -> str:
        return self.departments.get(department, department)

    def years(self) -> tuple[int, int]:
        return min(self.index.values), max(self.index.values)

    def indexed(self, item: CostItem, scenario: Scenario, year: int) -> "Indexed":
        """The item's ``scenario`` value in ``year``'s prices, exactly (a fraction), with the index used."""
        to_value, from_value = self.index.values.get(year), self.index.values.get(item.price_year)
        if to_value is None or from_value is None:
            raise KeyError(year if to_value is None else item.price_year)
        exact = Fraction(item.value(scenario)) * Fraction(to_value) / Fraction(from_value)
        return Indexed(exact, IndexUse(self.index.name, item.price_year, year, from_value, to_value))


@dataclass(frozen=True)
class IndexUse:
    """The index a figure was moved with: its name, the two years and their index values."""

    series: str
    from_year: int
    to_year: int
    from_value: Decimal
    to_value: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {"series": self.series, "from_year": self.from_year, "to_year": self.to_year,
                "from_value": str(self.from_value), "to_value": str(self.to_value)}


@dataclass(frozen=True)
class Indexed:
    value: Fraction  # exact: rounded once, where it is shown
    index: IndexUse


def _checks(costs: CostFile) -> Iterable[tuple[tuple, Message]]:
    years = sorted(costs.index.values)
    missing = [y for y in range(years[0], years[-1] + 1) if y not in costs.index.values]
    if missing:
        after = next(y for y in years if y > missing[0])
        yield ("index", "values", after), C("costs_index_gap", years=", ".join(map(str, missing)),
                                            first=str(years[0]), last=str(years[-1]))
    seen: dict[str, int] = {}
    for i, item in enumerate(costs.items):
        loc = ("items", i)
        if item.id in seen:
            yield loc + ("id",), C("costs_duplicate_item", item=item.id, other=str(seen[item.id]))
        seen.setdefault(item.id, i)
        if not item.low <= item.central <= item.high:
            field = "low" if item.low > item.high or item.low > item.central else "high"
            yield loc + (field,), C("costs_range", item=item.id, low=str(item.low), central=str(item.central),
                                    high=str(item.high))
        if item.price_year not in costs.index.values:
            yield loc + ("price_year",), C("costs_price_year", item=item.id, year=str(item.price_year),
                                           first=str(years[0]), last=str(years[-1]), series=costs.index.name)
        if costs.departments and item.department not in costs.departments:
            yield loc + ("department",), C("costs_department", item=item.id, department=item.department,
                                           known=", ".join(costs.departments))


def load_costs_text(text: str, name: str = "<costs>") -> CostFile:
    """A cost file, checked in one pass: every problem with its line and field."""
    return load_model_text(text, CostFile, name, _checks)


def load_costs_file(path: str | Path) -> tuple[CostFile, str]:
    text = read_text(path)
    return load_costs_text(text, str(path)), text


# The cost files this process knows: those of the store it opened (``load_stored_costs``) and any named on the
# command line, so that a contract's checks can find the items its metrics name.
_KNOWN: dict[str, dict[int, CostFile]] = {}


def register(costs: CostFile) -> None:
    _KNOWN.setdefault(costs.id, {})[costs.version] = costs


def get(costs_id: str, version: int | None = None) -> CostFile | None:
    versions = _KNOWN.get(costs_id, {})
    if not versions:
        return None
    return versions.get(version) if version is not None else versions[max(versions)]


def known() -> list[str]:
    return sorted(_KNOWN)


def store_costs(engine: Engine, costs: CostFile, text: str, name: str, actor_name: str | None = None) -> bool:
    """Keep a checked cost file version; False when the same version with the same content is stored."""
    from store.tables import CostFileRow

    added = store_version(engine, CostFileRow, "costs_id", costs.id, costs.version,
                          {"definition": costs.model_dump(mode="json")}, text, name,
                          C("costs_version_changed", costs=costs.id, version=str(costs.version)),
                          "costs.load", actor_name)
    register(costs)
    return added


def load_stored_costs(engine: Engine) -> list[CostFile]:
    """Every stored cost file version, made known to this process."""
    from store.tables import CostFileRow

    with engine.connect() as conn:
        rows = conn.execute(sa.select(CostFileRow.definition).order_by(CostFileRow.id)).scalars().all()
    found = [CostFile.model_validate(row) for row in rows]
    for costs in found:
        register(costs)
    return found


def stored_versions(engine: Engine) -> list[dict[str, Any]]:
    """Every stored cost file version: id, version, name, items, when and by whom (``sib costs list``)."""
    from store.tables import CostFileRow

    with engine.connect() as conn:
        rows = conn.execute(sa.select(CostFileRow).order_by(CostFileRow.costs_id, CostFileRow.version)).all()
    return [{"costs": r.costs_id, "version": r.version, "name": r.definition["name"],
             "items": len(r.definition["items"]), "sha256": r.sha256, "created_at": r.created_at.isoformat(),
             "created_by": r.created_by} for r in rows]
