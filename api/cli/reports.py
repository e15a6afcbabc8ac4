"""`sib report`: the independent evaluation report of a contract (PDF or HTML, Swedish or English)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from api.cli.common import UserError, app, out, parse_day, progress, w, UsageProblem


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
        raise UsageProblem(said._("--format '{format}' is not allowed; expected pdf or html", format=kind))
    if lang is not None and lang not in ("sv", "en"):
        raise UsageProblem(said._("--lang '{lang}' is not available; expected sv or en", lang=lang))
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


@app.command()
def board(contract_id: str, out_file: Optional[Path] = typer.Option(None, "--out", help="The file to write (.pdf or "
                                                                     ".html); without it, --json or a summary."),
          lang: Optional[str] = typer.Option(None, "--lang", help="sv or en (default: sv for contracts in SEK, "
                                             "else en)."),
          as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts instead of writing a file.")
          ) -> None:
    """The board summary (nämndrapport): one page on outcomes against targets, money per payer and year, the
    payer's net position and open risks, from the latest evaluation run."""
    from api.cli.common import print_json
    from api.reports.board import board_json, build_board, write_board
    from store.db import open_store

    said = w()
    if lang is not None and lang not in ("sv", "en"):
        raise UsageProblem(said._("--lang '{lang}' is not available; expected sv or en", lang=lang))
    kind = None
    if out_file is not None:
        kind = out_file.suffix.lstrip(".").lower()
        if kind not in ("pdf", "html"):
            raise UsageProblem(said._("--format '{format}' is not allowed; expected pdf or html", format=kind or "-"))
        if not out_file.parent.exists():
            raise UserError(said._("cannot write {path}: folder {folder} does not exist", path=out_file,
                                   folder=out_file.parent))
    engine = open_store()
    with progress(said._("Writing the board summary of {contract}", contract=contract_id)):
        doc = build_board(engine, contract_id, lang)
        if out_file is not None:
            write_board(doc, out_file, kind)
    if as_json or out_file is None:
        print_json(board_json(doc))
        return
    out.print(said._("Wrote {path}: board summary of evaluation run {run} as of {as_of}.", path=out_file,
                     run=doc["run"].id, as_of=doc["run"].as_of.isoformat()))
