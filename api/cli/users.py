"""`sib users ...`: API users and their tokens (the token is shown once; only its hash is kept)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, app, out, print_json, w

users_app = typer.Typer(no_args_is_help=True, help="API users and their tokens.")
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(name: str, role: str = typer.Option(..., "--role", help="intermediary, investor, payer or provider."),
              contract: Optional[list[str]] = typer.Option(None, "--contract", help="A contract it may see (repeat)."),
              all_contracts: bool = typer.Option(False, "--all-contracts", help="Every contract (intermediaries only)."),
              party: Optional[str] = typer.Option(
                  None, "--party", help="Payers: the one paying party it acts for; providers: the provider it is (it "
                                        "sees and delivers only for its own participants)."),
              as_json: bool = JSON_OPTION) -> None:
    """Add a user (for the API, the pages and the CLI's ledger steps); its token is printed once and only its
    hash is kept."""
    from api.access import add_user
    from contracts.model import Payments
    from contracts.registry import get_contract, list_contracts
    from store.db import open_store

    engine = open_store()
    known = {c["id"] for c in list_contracts(engine)}
    payers = {c: [p.party for p in (get_contract(engine, c).latest.terms.payments or Payments.model_construct(payers=[])).payers]
              for c in (contract or []) if c in known} if party else None
    providers = {c: [p.id for p in get_contract(engine, c).latest.terms.parties if p.role == "provider"]
                 for c in (contract or []) if c in known} if party else None
    token = add_user(engine, name, role, contract or [], all_contracts, known, party, payers, providers)
    if as_json:
        print_json({"name": name, "role": role, "party": party, "token": token})
    else:
        said = w()
        out.print(said._("Added {name} ({role}). The token, shown this once:", name=name,
                         role=said.label("role", role)))
        out.print(token, markup=False)


@users_app.command("list")
def users_list(as_json: bool = JSON_OPTION) -> None:
    """API users (never their tokens: the first characters only)."""
    from api.access import list_users
    from store.db import open_store

    rows = list_users(open_store())
    if as_json:
        print_json({"users": rows})
        return
    said = w()
    table = Table(said._("id"), said._("name"), said._("role"), said._("paying party"), said._("contracts"),
                  said._("token"), said._("revoked"))
    for r in rows:
        table.add_row(str(r["id"]), r["name"], said.label("role", r["role"]), r["party"] or "",
                      said._("all") if r["all_contracts"] else ", ".join(r["contracts"]),
                      r["token_hint"] + "…", f"{r['revoked_at']:%Y-%m-%d %H:%M}" if r["revoked_at"] else "")
    out.print(table)


@users_app.command("revoke")
def users_revoke(user_id: int) -> None:
    """Revoke a user's token at once."""
    from api.access import revoke_user
    from store.db import open_store

    name = revoke_user(open_store(), user_id)
    out.print(w()._("Revoked user {user} ({name}).", user=user_id, name=name))
