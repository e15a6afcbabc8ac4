"""`sib report`: the independent evaluation report of a contract (PDF or HTML, Swedish or English)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from api.cli.common import UserError, app, out, parse_day, progress


@app.command()
def report(contract_id: str, out_file: Path = typer.Option(..., "--out", help="The file to write (.pdf or .html)."),
           as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluate as of YYYY-MM-DD first, then report "
                                               "on that run (default: the latest stored run)."),
           lang: Optional[str] = typer.Option(None, "--lang", help="sv or en (default: sv for contracts in SEK, "
                                              "else en)."),
           format: Optional[str] = typer.Option(None, "--format", help="pdf or html (default: from --out)."),
           run: Optional[int] = typer.Option(None, "--run", help="A stored evaluation run instead of --as-of.")) -> None:
    """Write the independent evaluation report of a contract (PDF or HTML, Swedish or English)."""
    from api.reports.report import ReportError, build_report, write_report
    from store.db import open_store

    kind = (format or out_file.suffix.lstrip(".") or "pdf").lower()
    if kind not in ("pdf", "html"):
        raise UserError(f"--format {kind!r} is not allowed; expected pdf or html")
    if lang is not None and lang not in ("sv", "en"):
        raise UserError(f"--lang {lang!r} is not available; expected sv or en")
    if not out_file.parent.exists():
        raise UserError(f"cannot write {out_file}: folder {out_file.parent} does not exist")
    day = parse_day(as_of) if as_of is not None else None
    engine = open_store()
    with progress(f"Writing the report of {contract_id}"):
        try:
            doc = build_report(engine, contract_id, run, as_of=day, lang=lang)
        except ReportError as exc:
            raise UserError(str(exc)) from None
        write_report(doc, out_file, kind)
    notes = f" ({' '.join(doc['notices'])})" if doc["notices"] else ""
    out.print(f"Wrote {out_file}: evaluation run {doc['run'].id} as of {doc['run'].as_of}, in "
              f"{'Swedish' if doc['lang'] == 'sv' else 'English'}.{notes}")
