"""`sib report`: the independent evaluation report of a contract (PDF or HTML, Swedish or English)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from api.cli.common import UserError, app, out, parse_day, progress, w


@app.command()
def report(contract_id: str, out_file: Path = typer.Option(..., "--out", help="The file to write (.pdf or .html)."),
           as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluate as of YYYY-MM-DD first, then report "
                                               "on that run (default: the latest stored run)."),
           lang: Optional[str] = typer.Option(None, "--lang", help="sv or en (default: sv for contracts in SEK, "
                                              "else en)."),
           format: Optional[str] = typer.Option(None, "--format", help="pdf or html (default: from --out)."),
           run: Optional[int] = typer.Option(None, "--run", help="A stored evaluation run instead of --as-of.")) -> None:
    """Write the independent evaluation report of a contract (PDF or HTML, Swedish or English)."""
    from api.reports.report import build_report, write_report
    from store.db import open_store

    said = w()
    kind = (format or out_file.suffix.lstrip(".") or "pdf").lower()
    if kind not in ("pdf", "html"):
        raise UserError(said._("--format '{format}' is not allowed; expected pdf or html", format=kind))
    if lang is not None and lang not in ("sv", "en"):
        raise UserError(said._("--lang '{lang}' is not available; expected sv or en", lang=lang))
    if not out_file.parent.exists():
        raise UserError(said._("cannot write {path}: folder {folder} does not exist", path=out_file,
                               folder=out_file.parent))
    day = parse_day(as_of) if as_of is not None else None
    engine = open_store()
    with progress(said._("Writing the report of {contract}", contract=contract_id)):
        doc = build_report(engine, contract_id, run, as_of=day, lang=lang)
        write_report(doc, out_file, kind)
    language = said._("in Swedish") if doc["lang"] == "sv" else said._("in English")
    line = said._("Wrote {path}: evaluation run {run} as of {as_of}, {language}.", path=out_file, run=doc["run"].id,
                  as_of=doc["run"].as_of.isoformat(), language=language)
    out.print(line + (f" ({' '.join(doc['notices'])})" if doc["notices"] else ""))
