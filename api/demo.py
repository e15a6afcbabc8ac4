"""`sib demo`: the whole chain on the four example contracts, in a folder of its own.

Creates ``<dir>/sib.db`` and a pseudonymisation key, loads the examples' cost
files and contracts, writes and ingests their synthetic data, verifies the
batches (as the intermediary would), evaluates every metric as of each
contract's term end, calculates payments, values the payer's business case
where the contract has a valuation, and writes an HTML and a PDF report per
contract.
Every number comes from the stored data through the same functions the other
commands use.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

from api.reports.report import build_report, render_html
from contracts import load_contract_file
from contracts.registry import get_contract, store_contract
from evaluation.result import POOLED
from evaluation.run import evaluate
from contracts.costs import load_costs_file, store_costs
from examples.synthetic import CONTRACT_FILES, COST_FILES, generate
from outcomes.batches import verify_batch
from outcomes.ingest import ingest_file
from outcomes.pseudonym import init_key, load_key
from payments.calculate import calculate
from payments.ledger import current_status, read_ledger
from payments.money import ZERO
from payments.returns import investor_result
from store.seal import key_file
from store.db import init_store, open_store

DEMO_ACTOR = "demo:intermediary"
Step = Callable[..., None]


def _fresh(directory: Path) -> None:
    """Remove what an earlier demo left in its own folder (its store, key and data), nothing else."""
    for name in ("sib.db", "sib.db-wal", "sib.db-shm", "sib.key"):
        (directory / name).unlink(missing_ok=True)
    data = directory / "data"
    if data.is_dir():
        for f in data.glob("*.csv"):
            f.unlink()


def run_demo(directory: Path, step: Step = lambda *a, **k: None, said: Any = None) -> dict[str, Any]:
    """The whole chain in ``directory``; ``step(text, total=None)`` is told of progress in the words of ``said``."""
    if said is None:
        from language.words import words

        said = words("en")
    directory.mkdir(parents=True, exist_ok=True)
    _fresh(directory)
    url = f"sqlite:///{directory / 'sib.db'}"
    init_store(url)
    engine = open_store(url)
    key = load_key(init_key(directory / "sib.key"))
    step(said._("Store and key created"), total=len(CONTRACT_FILES) * 6 + 2)
    for path in COST_FILES.values():
        costs, text = load_costs_file(path)
        store_costs(engine, costs, text, str(path), DEMO_ACTOR)
    step(said._("Cost files loaded"))
    rows, reports = [], []
    # The PDFs are laid out in a second process while this one goes on with the next contract (two cores: the
    # demo takes a fifth less time); each is the same document as its HTML, rendered once.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pdfs:
        pending: list[Future] = []
        try:
            with key_file(directory / "sib.key"):  # the demo's ledger and audit events are sealed with its own key
                for contract_id, path in CONTRACT_FILES.items():
                    rows.append(_one_contract(engine, contract_id, path, directory, key, step, reports, said,
                                              lambda html, target: pending.append(pdfs.submit(_pdf, html, target))))
        finally:
            engine.dispose()
        for done in pending:
            done.result()  # a PDF that failed fails the demo, as it would have in this process
    return {"database_url": url, "key_file": str(directory / "sib.key"), "contracts": rows, "reports": reports}


def _pdf(html: str, target: str) -> None:
    """A report's PDF from its HTML (in the demo's PDF process)."""
    from api.reports.report import pdf_of

    Path(target).write_bytes(pdf_of(html))


def _one_contract(engine: Any, contract_id: str, path: Path, directory: Path, key: bytes, step: Step,
                  reports: list[str], said: Any, pdf: Callable[[str, str], None]) -> dict[str, Any]:
    cf = load_contract_file(path)
    store_contract(engine, cf)
    stored = get_contract(engine, contract_id)
    step(said._("{contract}: contract loaded", contract=contract_id))
    files = generate(contract_id, directory / "data")
    step(said._("{contract}: synthetic data written", contract=contract_id))
    for kind, file in files:
        report = ingest_file(engine, stored.latest.terms, file, kind, key)
        verify_batch(engine, report.batch_id, who=DEMO_ACTOR)
    step(said._("{contract}: data ingested and verified", contract=contract_id))
    as_of = stored.latest.terms.term.end
    run = evaluate(engine, stored, as_of, actor_name=DEMO_ACTOR)
    step(said._("{contract}: evaluated", contract=contract_id))
    calculate(engine, stored, run, actor_name=DEMO_ACTOR)
    step(said._("{contract}: payments calculated", contract=contract_id))
    doc = build_report(engine, contract_id, run.id)
    html = render_html(doc)
    (directory / f"{contract_id}-report.html").write_text(html, encoding="utf-8")
    pdf(html, str(directory / f"{contract_id}-report.pdf"))
    reports += [str(directory / f"{contract_id}-report.{kind}") for kind in ("html", "pdf")]
    step(said._("{contract}: reports written", contract=contract_id))
    return _summary_row(engine, stored, run) | {"business_case": _business_case(engine, stored)}


def _business_case(engine: Any, stored: Any) -> dict[str, Any] | None:
    """The payer's net position (``sib valuation``), for a contract with a valuation."""
    from payments.valuation import contract_business_case

    if stored.latest.terms.valuation is None:
        return None
    case = contract_business_case(engine, stored)
    return None if case is None else {
        "net_total": str(case.net_total), "net_band": {k: str(v) for k, v in (case.net_band or {}).items()},
        "break_even": case.break_even, "price_year": case.price_year,
        "departments": [d.as_dict() for d in case.departments]}


def _summary_row(engine: Any, stored: Any, run: Any) -> dict[str, Any]:
    contract = stored.as_of(run.as_of).terms
    primary = contract.metric(contract.payments.mechanisms[0].metrics[0])
    pooled = run.result(primary.id, POOLED)
    ledger = read_ledger(engine, stored.id)
    total = sum(ledger["amount"], ZERO) if len(ledger) else ZERO
    investor = investor_result(contract, ledger, current_status(engine, stored.id))
    participants = run.coverage["participants"]
    treated = participants.get("treatment", 0)
    pool = participants.get("comparison", 0)
    return {
        "contract": stored.id, "currency": contract.currency, "evaluation_run": run.id, "as_of": run.as_of.isoformat(),
        "participants": treated, "comparison_pool": pool, "primary_metric": primary.id,
        "outcomes_achieved": pooled.n_achieved, "treated_mean": pooled.treated_mean,
        "counterfactual_mean": pooled.counterfactual_mean, "estimate": pooled.estimate, "ci_low": pooled.ci_low,
        "ci_high": pooled.ci_high, "p_value": pooled.p_value, "payments_due": str(total),
        "relative_effect": pooled.relative_effect, "n_treated": pooled.n_treated,
        "investor": investor.as_dict() if investor else None,
    }
