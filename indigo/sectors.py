"""INDIGO's policy sectors for a contract, and the words of outcome definitions.

Our contracts do not name a policy sector, so it is read from their words:
the name, description, target group and metric names, counted against a short
list of words per INDIGO sector (English and Swedish).  The sector with most
hits comes first; a contract that names none has none.
"""

from __future__ import annotations

import re
from typing import Any

# INDIGO's codelist of policy sectors (project.schema.json, purpose_and_classifications.policy_sector).
SECTORS = ("Employment and training", "Child and family welfare", "Health", "Homelessness", "Education",
           "Criminal justice", "Agriculture and environment", "Poverty reduction")
KEYWORDS: dict[str, tuple[str, ...]] = {
    "Education": ("school", "pupil", "attendance", "education", "learning", "student", "exam", "grade",
                  "literacy", "numeracy", "upper-secondary", "skola", "skol", "elev", "närvaro", "gymnasie",
                  "årskurs", "läsår"),
    "Criminal justice": ("reconviction", "reoffend", "re-offend", "offend", "prison", "sentence", "jail",
                         "recidivism", "custody", "crime", "criminal", "justice", "release", "brott", "kriminell",
                         "återfall"),
    "Child and family welfare": ("foster", "child", "family", "families", "placement", "kinship",
                                 "residential care", "looked after", "out-of-home", "care days", "familjehem",
                                 "placering", "placera", "barn", "institutionsvård", "hvb", "familj"),
    "Homelessness": ("homeless", "housing", "accommodation", "rough sleep", "tenancy", "hemlös", "bostad"),
    "Employment and training": ("employment", "employ", "job", "earnings", "unemploy", "training", "neet",
                                "labour market", "work", "arbete", "sysselsättning"),
    "Health": ("health", "hospital", "diabetes", "mental", "wellbeing", "well-being", "substance", "hälsa",
               "missbruk", "välmående"),
    "Poverty reduction": ("poverty", "income", "fattigdom"),
    "Agriculture and environment": ("agricultur", "farm", "environment", "forest", "miljö"),
}
STOPWORDS = frozenset(
    "the and for with who that are was were from into after within than their this those have has had per each any "
    "not who whom whose which while when where being been its our your they them over under more less least most "
    "number share rate months month year years days day people person participants participant individuals "
    "individual users user service services outcome outcomes achieved achieve achieving during".split())


def contract_text(contract: Any) -> str:
    parts = [contract.name, contract.description or "", contract.target_group.description]
    parts += [m.name for m in contract.metrics]
    return " ".join(parts).lower()


def sector_hits(text: str) -> dict[str, int]:
    """How often each sector's words occur in ``text`` (lower case)."""
    hits: dict[str, int] = {}
    for sector, words in KEYWORDS.items():
        n = sum(len(re.findall(r"\b" + re.escape(w), text)) for w in words)
        if n:
            hits[sector] = n
    return hits


def contract_sectors(contract: Any) -> list[str]:
    """INDIGO sectors the contract's words point to, most hits first (ties in INDIGO's order)."""
    hits = sector_hits(contract_text(contract))
    return sorted(hits, key=lambda s: (-hits[s], SECTORS.index(s)))


def tokens(text: str | None) -> frozenset[str]:
    """The content words of an outcome definition: lower case, 3+ letters, no stop words, cut to their first six
    letters (a crude stem: "attended" and "attendance" both become "attend")."""
    if not text:
        return frozenset()
    words = re.findall(r"[a-zåäöéü]{3,}", text.lower())
    return frozenset(w[:6] for w in words if w not in STOPWORDS)


def overlap(ours: frozenset[str], theirs: frozenset[str]) -> float:
    """Share of our definition's words that theirs has too (0 to 1): a short INDIGO definition is not penalised."""
    if not ours or not theirs:
        return 0.0
    return len(ours & theirs) / len(ours)
