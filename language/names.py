"""Names where a reader would otherwise see identifiers: parties, cohorts, metrics, mechanisms, attributes.

The store keeps identifiers (``district``, ``cohort-2021``, ``school_year``); a page or report shows what
the contract calls them, in the reader's language where the engine names them itself (all cohorts, arms).
"""

from __future__ import annotations

from typing import Any

from language.labels import LABELS
from language.words import Words

POOLED = "all"  # evaluation.result.POOLED: the result over every cohort
CAPS = ("per_participant", "per_cohort", "mechanism", "contract_total", "payer")  # payments' kinds of cap


class Names:
    """The names of one contract's things, for one reader's ``Words``."""

    def __init__(self, contract: Any, words: Words):
        self.contract, self.w = contract, words
        self._parties = {p.id: p.name for p in contract.parties}
        self._cohorts = {c.id: c.name for c in contract.cohorts}
        self._metrics = {m.id: m.name for m in contract.metrics}
        self._attributes = {a.name: (a.label or a.name.replace("_", " ")) for a in contract.target_group.attributes}
        self._mechanisms = {m.id: m for m in (contract.payments.mechanisms if contract.payments else [])}

    def party(self, party_id: Any) -> str:
        return self._parties.get(str(party_id), str(party_id))

    def cohort(self, cohort_id: Any) -> str:
        if cohort_id is None or cohort_id == "":
            return ""
        if cohort_id == POOLED:
            return self.w._("all cohorts")
        return self._cohorts.get(str(cohort_id), str(cohort_id))

    def metric(self, metric_id: Any) -> str:
        return self._metrics.get(str(metric_id), str(metric_id))

    def mechanism(self, mechanism_id: Any) -> str:
        mech = self._mechanisms.get(str(mechanism_id))
        if mech is None:
            return str(mechanism_id)
        if mech.name:
            return mech.name
        return self.w._("{type} on {metrics}", type=self.w.label("mechanism", mech.type),
                        metrics=", ".join(self.metric(m) for m in mech.metrics))

    def attribute(self, name: Any) -> str:
        name = str(name)
        if name == "cohort":
            return self.w._("cohort")
        if name in ("birth_year", "legal_sex"):
            return self.w._("year of birth") if name == "birth_year" else self.w._("legal sex")
        return self._attributes.get(name, name.replace("_", " "))

    def level(self, attribute: str, value: Any) -> str:
        """A value of an attribute: the engine's own values (legal sex) in words, the contract's as written."""
        if attribute in ("legal_sex", "sex") and str(value) in LABELS["sex"]:
            return self.w.label("sex", value)
        return str(value)

    def subgroup(self, subgroup: Any) -> str:
        """``school_year 4–6`` (attribute, then level, as a run stores it) as ``årskurs 4–6``."""
        if not subgroup:
            return ""
        attribute, _, level = str(subgroup).partition(" ")
        return f"{self.attribute(attribute)} {self.level(attribute, level)}".strip()

    def covariate(self, column: Any) -> str:
        """A column of the matching model: an attribute, a level of one (``sex_male``), a square or a product."""
        column = str(column)
        if "*" in column:
            return " × ".join(self.covariate(part) for part in column.split("*"))
        if column.endswith("^2"):
            return self.covariate(column[:-2]) + "²"
        known = [*self._attributes, "cohort", "birth_year", "legal_sex"]
        if column in known:
            return self.attribute(column)
        for name in sorted(known, key=len, reverse=True):
            if column.startswith(name + "_"):
                return f"{self.attribute(name)} = {self.level(name, column[len(name) + 1:])}"
        return column.replace("_", " ")

    def reason(self, reason: Any) -> str:
        """Why a contract version exists: the engine's words for the original, the amendment's as written."""
        return self.w._("Original contract") if reason == "Original contract" else str(reason)

    def arm(self, arm: Any) -> str:
        return self.w.label("arm", arm)

    def calculation(self, basis: dict[str, Any], share: bool = True) -> str:
        """A ledger entry's basis in words: its trail, each cap that reduced it, and (``share``) the payer's
        share of the line.  Bases written before trails had codes show their English text."""
        parts = [self.message(basis.get("trail") or basis.get("explanation") or "")]
        parts += [self.cap(c) for c in basis.get("caps", [])]
        if share and basis.get("payer_share") not in (None, "1") and basis.get("line_amount") is not None:
            parts.append(self.message({"code": "payments.payer_share",
                                       "params": {"share": basis["payer_share"], "amount": basis["line_amount"]}}))
        return "; ".join(p for p in parts if p)

    def cap(self, cap: dict[str, Any]) -> str:
        """One cap that reduced an amount: which cap, its limit, by how much."""
        kind, of = str(cap.get("cap", "")), cap.get("of")
        if kind not in CAPS:  # as bases written before caps had codes name them: "per participant", "payer city"
            first, _, rest = kind.partition(" ")
            kind, of = (kind.replace(" ", "_"), of) if kind in ("per participant", "per cohort", "contract total") \
                else (first, rest or of)
        which: Any = {"code": f"payments.cap_{kind}", "params": {"of": of}} if kind in CAPS else str(cap.get("cap"))
        return self.message({"code": "payments.cap_reduced",
                             "params": {"cap": which, "limit": cap.get("limit"), "by": cap.get("reduced_by")}})

    def message(self, value: Any) -> str:
        """A stored message, with this contract's names for the identifiers in it."""
        return self.w.message(value, self)

    def messages(self, values: Any) -> list[str]:
        return [self.message(v) for v in values]

    def evidence(self, summary: dict[str, Any]) -> str:
        """One result an entry rests on, as the approver reads it: design, estimate, 95 % CI, p, n, and how
        many participants the missing-data rule counted."""
        w = self.w
        where = {"metric": self.metric(summary.get("metric")), "cohort": self.cohort(summary.get("cohort")),
                 "design": w.label("design", summary.get("design"))}
        if summary.get("is_effect") and summary.get("estimate") is not None:
            text = w._("{metric} ({cohort}): {design}; effect {estimate} (95 % CI {low} to {high}), p {p}; n = {n}",
                       **where, estimate=w.significant(summary["estimate"]),
                       low=w.significant(summary.get("ci_low")), high=w.significant(summary.get("ci_high")),
                       p=w.p_value(summary.get("p_value")), n=w.integer(summary.get("n") or 0))
        else:
            text = w._("{metric} ({cohort}): {design}; no effect measured; n = {n}", **where,
                       n=w.integer(summary.get("n") or 0))
        if summary.get("counted_by_missing_rule"):
            text += "; " + w._("{k} of them counted by the missing-data rule ({share})",
                               k=w.integer(summary["counted_by_missing_rule"]),
                               share=w.percent(float(summary["missing_rule_share"]), 1, signed=False))
        found = summary.get("sensitivity") or {}  # how strong hidden bias would have to be (evaluation.sensitivity)
        if found.get("e_value") is not None:
            text += "; " + w._("E-value {e} (confidence limit {ci})", e=w.number(found["e_value"], 2),
                               ci=w.number(found.get("e_value_ci"), 2))
        if found.get("gamma") is not None:
            text += "; " + w._("Rosenbaum Γ* {gamma}", gamma=w.number(found["gamma"], 2))
        return text

    def flags(self, evidence: dict[str, Any] | None) -> list[str]:
        """An entry's evidence flags in words (none: an empty list)."""
        return [self.message(flag) for flag in (evidence or {}).get("flags", [])]

