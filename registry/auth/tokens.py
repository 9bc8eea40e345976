"""API tokens: created with a role and an optional last day, shown once, stored as a hash, revoked by name.

A token is `dsa_` followed by 43 URL-safe characters (256 random bits); the store keeps only its
SHA-256 (`hash_token`), so whoever reads the store or its backups cannot use it. Creating,
listing and revoking need the `tokens:manage` permission (the `admin` role); creating and
revoking are audited with the token's name, role and expiry, never the token or its hash.

>>> token = new_token()
>>> token.startswith(PREFIX), len(token), len(hash_token(token))
(True, 47, 64)
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone

from graph.auditlog import audit_time
from graph.store import GraphStore, TokenRow
from registry.auth.roles import ROLES, TOKENS, Principal, describe_unknown, require
from registry.errors import InvalidArgument, NotFound

PREFIX = "dsa_"
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
BOOTSTRAP_NAME = "admin"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the store keeps of a token: its SHA-256, hex (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def today() -> date:
    return datetime.now(timezone.utc).date()


@dataclass(frozen=True)
class Issued:
    """A token just created: `token` is shown this once and never again."""

    token: str
    row: TokenRow


class Tokens:
    def __init__(self, store: GraphStore):
        self.store = store

    def create(self, *, principal: Principal, name: str, role: str, expires: date | None = None) -> Issued:
        """A new token for `role`, accepted through `expires` (UTC; None: until revoked).

        Raises `InvalidArgument` for a bad name, an unknown role, a past date or a name in use.
        """
        require(principal, TOKENS)
        return self._issue(name=name, role=role, expires=expires, actor=principal.name)

    def list(self, *, principal: Principal) -> list[TokenRow]:
        require(principal, TOKENS)
        return self.store.tokens()

    def revoke(self, *, principal: Principal, name: str) -> TokenRow:
        """Revoke the token `name`; `NotFound` when no token of that name is in force."""
        require(principal, TOKENS)
        revoked = self.store.revoke_token(name, actor=principal.name)
        if revoked is None:
            raise NotFound(f"no token named {name!r} that is not revoked")
        return revoked

    def bootstrap(self, *, actor: str) -> Issued | None:
        """On a store that never had a token: an `admin` token, so that a fresh install can be used.
        None when the store has (or had) one, or when another process created it first."""
        if self.store.tokens():
            return None
        try:
            return self._issue(name=BOOTSTRAP_NAME, role="admin", expires=None, actor=actor)
        except InvalidArgument:  # another replica got there first
            return None

    def _issue(self, *, name: str, role: str, expires: date | None, actor: str) -> Issued:
        if not NAME.fullmatch(name):
            raise InvalidArgument(f"name: {name!r} is not a token name: 1 to 64 of a-z, 0-9, '.', '_', '-', "
                                  "starting with a letter or digit")
        if role not in ROLES:
            raise InvalidArgument(f"role: {describe_unknown([role])}")
        if expires is not None and expires < today():
            raise InvalidArgument(f"expires: {expires.isoformat()} is in the past")
        token = new_token()
        row = TokenRow(name=name, role=role, hash=hash_token(token), created=audit_time(), created_by=actor,
                       expires=expires.isoformat() if expires else None)
        if not self.store.add_token(row, actor=actor):
            raise InvalidArgument(f"name: a token named {name!r} is in force already; revoke it first or choose "
                                  "another name")
        return Issued(token, row)
