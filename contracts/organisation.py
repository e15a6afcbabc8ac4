"""An organisation file: which unit belongs to which district administration, area of activity and city, by year.

Loaded like a contract (``sib organisation load FILE``), checked in one pass, stored versioned.  A unit may
move between years (a reorganisation): each placement says from which year (and until which) it holds.
Results of the user follow-up are aggregated at any of the levels ``unit``, ``district``, ``area`` and
``city`` through it.

    id: stockholm
    version: 1
    name: Stockholms stad
    units:
      - {id: hv-ekbist, name: Ekonomiskt bistånd Hässelby-Vällingby, district: hasselby-vallingby,
         area: ekonomiskt-bistand, from: 2020}
      - {id: hv-ekbist, district: spanga-tensta, area: ekonomiskt-bistand, from: 2022}   # moved in 2022
    districts: {hasselby-vallingby: Hässelby-Vällingby, spanga-tensta: Spånga-Tensta}
    areas: {ekonomiskt-bistand: Ekonomiskt bistånd}
"""

from __future__ import annotations

from typing import Annotated, Iterable

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from contracts.datafiles import load_model_text, read_text, store_version
from contracts.messages import TEXTS as C
from language import Message

LEVELS = ("unit", "district", "area", "city")
Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Placement(_Strict):
    id: Id
    name: str | None = Field(default=None, max_length=200)
    district: Id
    area: Id
    from_year: int = Field(alias="from", ge=1900, le=2200)
    to_year: int | None = Field(default=None, alias="to", ge=1900, le=2200)

    def holds(self, year: int) -> bool:
        return self.from_year <= year and (self.to_year is None or year <= self.to_year)


class Organisation(_Strict):
    id: Id
    version: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=200)
    units: list[Placement] = Field(min_length=1)
    districts: dict[Id, str] = Field(default_factory=dict)
    areas: dict[Id, str] = Field(default_factory=dict)

    def placement(self, unit: str, year: int) -> Placement | None:
        return next((p for p in self.units if p.id == unit and p.holds(year)), None)

    def unit_ids(self) -> set[str]:
        return {p.id for p in self.units}

    def name_of(self, level: str, key: str) -> str:
        if level == "unit":
            return next((p.name for p in self.units if p.id == key and p.name), key)
        if level == "district":
            return self.districts.get(key, key)
        if level == "area":
            return self.areas.get(key, key)
        return self.name

    def group_of(self, unit: str, year: int, level: str) -> str | None:
        """The unit's district, area or the city in ``year`` (None when the unit is not placed that year)."""
        placement = self.placement(unit, year)
        if placement is None:
            return None
        return {"unit": placement.id, "district": placement.district, "area": placement.area, "city": self.id}[level]


def _checks(org: Organisation) -> Iterable[tuple[tuple, Message]]:
    for i, p in enumerate(org.units):
        loc = ("units", i)
        if p.to_year is not None and p.to_year < p.from_year:
            yield loc + ("to",), C("org_years", unit=p.id, start=str(p.from_year), end=str(p.to_year))
        for j, q in enumerate(org.units[:i]):
            if q.id == p.id and (p.to_year is None or q.from_year <= p.to_year) and \
                    (q.to_year is None or p.from_year <= q.to_year):
                yield loc + ("from",), C("org_overlap", unit=p.id, other=str(j))
        if org.districts and p.district not in org.districts:
            yield loc + ("district",), C("org_unknown", what="district", key=p.district,
                                         known=", ".join(org.districts))
        if org.areas and p.area not in org.areas:
            yield loc + ("area",), C("org_unknown", what="area", key=p.area, known=", ".join(org.areas))


def load_organisation_text(text: str, name: str = "<organisation>") -> Organisation:
    return load_model_text(text, Organisation, name, _checks)


def load_organisation_file(path) -> tuple[Organisation, str]:
    text = read_text(path)
    return load_organisation_text(text, str(path)), text


def store_organisation(engine: Engine, org: Organisation, text: str, name: str, actor_name: str | None = None) -> bool:
    """Keep a checked organisation version; False when the same version with the same content is stored."""
    from store.tables import OrganisationRow

    return store_version(engine, OrganisationRow, "organisation_id", org.id, org.version,
                         {"definition": org.model_dump(mode="json", by_alias=True)}, text, name,
                         C("org_version_changed", organisation=org.id, version=str(org.version)),
                         "organisation.load", actor_name)


def get_organisation(engine: Engine, organisation_id: str | None = None) -> Organisation | None:
    """The latest version of an organisation (of the only one when no id is given)."""
    from store.tables import OrganisationRow

    query = sa.select(OrganisationRow.definition)
    if organisation_id is not None:
        query = query.where(OrganisationRow.organisation_id == organisation_id)
    with engine.connect() as conn:
        row = conn.execute(query.order_by(OrganisationRow.version.desc(), OrganisationRow.id.desc()).limit(1)).scalar()
    return None if row is None else Organisation.model_validate(row)
