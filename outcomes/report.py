"""The error report of a refused file, as CSV or JSON, safe to open in a spreadsheet.

Identifiers are already masked in the report (YYMMDD-****), anything else that
looks like a personal identity number is masked here, and every cell that a
spreadsheet would run as a formula is neutralised with a leading apostrophe.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: Any) -> Any:
    """A cell as text a spreadsheet shows rather than runs (OWASP's CSV-injection advice)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_LEAD):
        return "'" + cell
    return cell


def write_error_report(report: Any, path: Path, said: Any = None) -> Path:
    """``report`` is an IngestReport; ``path`` ends in .csv or .json; reasons in the language of ``said`` (a
    ``language.words.Words``, default English)."""
    if said is None:
        from language.words import words

        said = words("en")
    data = report.as_dict(said)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return path
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row", "column", "value", "reason"])
        for e in data["errors"]:
            writer.writerow([e["row"], neutralise(e["column"]), neutralise(e["value"]), neutralise(e["reason"])])
        if data["errors_total"] > len(data["errors"]):
            more = data["errors_total"] - len(data["errors"])
            writer.writerow(["", "", "", said.ngettext("{n} further error not listed", "{n} further errors not listed",
                                                       more)])
    return path
