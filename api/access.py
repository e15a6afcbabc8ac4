"""API users and what each role may do.

A token is shown once, when the user is added; the store keeps only its
SHA-256.  Access is denied unless granted: a user sees only the contracts
listed for it (404 for any other, which it may not know exists), and within
them only what its role allows (403 otherwise).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from language import N_, MessageError, Texts
from language.masking import mask_text
from store.db import record_audit, storable_id
from store.tables import SessionRow, UserRow
from store.types import utcnow

ROLES = ("intermediary", "investor", "payer", "provider")
TOKEN_PREFIX = "sib_"

# What each role may do; a route names the action it needs.
PERMISSIONS: dict[str, frozenset[str]] = {
    "intermediary": frozenset({"contract.read", "batch.read", "batch.upload", "batch.verify", "evaluation.read",
                               "evaluation.run", "participants.read", "payments.calculate", "ledger.read",
                               "ledger.invoice", "schedule.read", "status.read", "audit.read",
                               "indigo.read", "providers.read"}),
    "investor": frozenset({"contract.read", "evaluation.read", "status.read"}),
    "payer": frozenset({"contract.read", "evaluation.read", "ledger.read", "ledger.approve", "ledger.pay",
                        "schedule.read", "status.read"}),
    "provider": frozenset({"contract.read", "batch.read", "batch.upload", "evaluation.read", "participants.read",
                           "ledger.invoice", "providers.read"}),
}
AGGREGATE_ONLY = frozenset({"investor", "payer"})  # never a participant-level record; small cells suppressed


TEXTS = Texts("access", {
    "bad_role": N_("--role '{role}' is not allowed; expected one of: {roles}"),
    "all_only_intermediary": N_("only an intermediary may be given every contract (--all-contracts)"),
    "no_contracts": N_("name the contracts this user may see (--contract ID, repeatable); access is denied by "
                       "default"),
    "unknown_contract": N_("no contract '{contract}' in the store; 'sib contract list' shows the loaded ones"),
    "no_user": N_("no user {user}; 'sib users list' shows them"),
    "already_revoked": N_("user {user} ({name}) is already revoked"),
    "payer_party": N_("a payer user acts for one paying party: give --party (one of the contract's outcome payers)"),
    "party_role": N_("only payer and provider users are bound to a party (--party); {role:label.role} users are not"),
    "provider_party": N_("a provider user acts for one provider: give --party (one of the contract's providers)"),
    "not_provider_of": N_("'{party}' is not a provider of '{contract}'; its providers: {providers}"),
    "not_payer_of": N_("'{party}' is not an outcome payer of '{contract}'; its outcome payers: {payers}"),
})


class UserError(MessageError, ValueError):
    """A user that cannot be added or revoked as asked."""


@dataclass(frozen=True)
class Principal:
    id: int
    name: str
    role: str
    contracts: frozenset[str]
    all_contracts: bool
    party: str | None = None  # payers: the one paying party it acts for; providers: the provider it is

    @property
    def signer(self) -> Any:
        """The user as the one who takes a ledger step."""
        from payments.ledger import Signer

        return Signer(self.name, self.id, self.role, self.party)

    def sees(self, contract_id: str) -> bool:
        return self.all_contracts or contract_id in self.contracts

    def may(self, action: str) -> bool:
        return action in PERMISSIONS[self.role]

    @property
    def actor(self) -> str:
        return f"api:{self.name}"

    @property
    def aggregate_only(self) -> bool:
        return self.role in AGGREGATE_ONLY


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(engine: Engine, name: str, role: str, contracts: list[str], all_contracts: bool = False,
             known_contracts: set[str] | None = None, party: str | None = None,
             payers: dict[str, list[str]] | None = None, providers: dict[str, list[str]] | None = None) -> str:
    """Create a user; return its token (shown once, never stored).

    A payer user is bound to one paying ``party`` (``payers``: each contract's outcome payers, to check it); a
    provider user to one provider ``party`` (``providers``: each contract's providers), whose participants alone
    it sees and delivers for."""
    name = mask_text(name)  # a user's name is shown in every audit trail
    if role not in ROLES:
        raise UserError(TEXTS("bad_role", role=role, roles=", ".join(ROLES)))
    if role in ("payer", "provider") and not party:
        raise UserError(TEXTS(f"{role}_party"))
    if party and role not in ("payer", "provider"):
        raise UserError(TEXTS("party_role", role=role))
    for contract in contracts if party and payers is not None and role == "payer" else []:
        if contract in payers and party not in payers[contract]:
            raise UserError(TEXTS("not_payer_of", party=party, contract=contract, payers=", ".join(payers[contract])))
    for contract in contracts if party and providers is not None and role == "provider" else []:
        if contract in providers and party not in providers[contract]:
            raise UserError(TEXTS("not_provider_of", party=party, contract=contract,
                                  providers=", ".join(providers[contract]) or "—"))
    if all_contracts and role != "intermediary":
        raise UserError(TEXTS("all_only_intermediary"))
    if not contracts and not all_contracts:
        raise UserError(TEXTS("no_contracts"))
    unknown = sorted(set(contracts) - (known_contracts or set(contracts)))
    if unknown:
        raise UserError(TEXTS("unknown_contract", contract=unknown[0]))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(sa.insert(UserRow), {"name": name, "role": role, "contracts": sorted(set(contracts)),
                                          "all_contracts": all_contracts, "token_hash": hash_token(token),
                                          "token_hint": token[:10], "party": party})
        record_audit(conn, "user.add", None, {"name": name, "role": role, "contracts": sorted(set(contracts)),
                                              "all_contracts": all_contracts, **({"party": party} if party else {})})
    return token


def list_users(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(UserRow.id, UserRow.name, UserRow.role, UserRow.party, UserRow.contracts,
                                      UserRow.all_contracts, UserRow.token_hint, UserRow.created_at,
                                      UserRow.revoked_at).order_by(UserRow.id))
        return [dict(r._mapping) for r in rows]


def revoke_user(engine: Engine, user_id: int) -> str:
    with engine.begin() as conn:
        row = (conn.execute(sa.select(UserRow.name, UserRow.revoked_at).where(UserRow.id == user_id)).first()
               if storable_id(user_id) else None)
        if row is None:
            raise UserError(TEXTS("no_user", user=user_id))
        if row.revoked_at is not None:
            raise UserError(TEXTS("already_revoked", user=user_id, name=row.name))
        conn.execute(sa.update(UserRow).where(UserRow.id == user_id).values(revoked_at=utcnow()))
        conn.execute(sa.update(SessionRow).where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
                     .values(revoked_at=utcnow()))  # the user's browser sessions end with the token
        record_audit(conn, "user.revoke", None, {"user": user_id, "name": row.name})
    return row.name


def authenticate(conn: sa.Connection, token: str | None) -> Principal | None:
    """The principal a bearer token belongs to, or None (missing, unknown or revoked)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    row = conn.execute(sa.select(UserRow).where(UserRow.token_hash == digest, UserRow.revoked_at.is_(None))).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return Principal(row.id, row.name, row.role, frozenset(row.contracts or []), bool(row.all_contracts), row.party)
