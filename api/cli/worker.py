"""`sib worker`: do the jobs people ask for on the web pages (evaluations, payments, reports, board summaries)."""

from __future__ import annotations

import logging

import typer

from api.cli.common import OneLineFormatter, app, configure_logging, err, w


@app.command()
def worker(once: bool = typer.Option(False, "--once", help="Do the jobs waiting now, then stop."),
           poll: float = typer.Option(1.0, "--poll", min=0.1, max=60, help="Seconds between looks at the queue."),
           lease: float = typer.Option(None, "--lease", min=1, max=3600,
                                       help="Seconds a job stays this worker's without a sign of life (default 60, "
                                            "or SIB_JOB_LEASE_SECONDS); a killed worker's job is taken again "
                                            "after it.")) -> None:
    """Do the jobs queued on the web pages, one at a time; run several (on PostgreSQL) to share the queue."""
    from api.jobs.worker import work, worker_name
    from store.db import open_store

    configure_logging()
    if not logging.getLogger("sib").handlers:  # without SIB_LOG_FILE the worker says what it does on stderr
        handler = logging.StreamHandler()
        handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger("sib").addHandler(handler)
        logging.getLogger("sib").setLevel(logging.INFO)
    db = open_store()
    err.print(w()._("Worker {name} is waiting for jobs (Ctrl-C stops it).", name=worker_name()))
    try:
        done = work(db, once=once, poll=poll, lease=lease)
    except KeyboardInterrupt:
        return
    err.print(w().ngettext("{n} job done.", "{n} jobs done.", done))
