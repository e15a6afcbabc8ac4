"""`sib init` and `sib keys init`: the store and the pseudonymisation key."""

from __future__ import annotations

import typer

from api.cli.common import app, out, w

keys_app = typer.Typer(no_args_is_help=True, help="The pseudonymisation key.")
app.add_typer(keys_app, name="keys")


@app.command()
def init() -> None:
    """Create the store (or upgrade it to the current schema)."""
    from store.db import database_url, describe, init_store

    url = database_url()
    before, after = init_store(url)
    if before == after:
        out.print(w()._("The store {store} is already at schema {schema}.", store=describe(url), schema=after))
    elif before:
        out.print(w()._("The store {store} is at schema {schema} (was {before}).", store=describe(url), schema=after,
                        before=before))
    else:
        out.print(w()._("The store {store} is at schema {schema} (new).", store=describe(url), schema=after))


@keys_app.command("init")
def keys_init() -> None:
    """Create the secret key that pseudonymises participant references (SIB_KEY_FILE, default ./sib.key)."""
    from outcomes.pseudonym import init_key

    path = init_key()
    out.print(w()._("Created a new pseudonymisation key at {path} (mode 0600). Keep it secret and back it up: "
                    "without it, new files cannot be linked to stored participants.", path=path))
