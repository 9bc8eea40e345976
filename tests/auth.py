"""Tokens for tests: `issue(store, role)` creates an API token the way `dsa-registry tokens create` does."""

from __future__ import annotations

from registry.auth.roles import Principal
from registry.auth.tokens import Tokens

OPERATOR = Principal.of("os:test", "admin")


def issue(store, role: str, name: str | None = None, **kwargs) -> str:
    """A new token for `role` in `store` (a `GraphStore`), named after the role unless `name` is given."""
    return Tokens(store).create(principal=OPERATOR, name=name or role, role=role, **kwargs).token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admit(store, token: str, role: str = "viewer", name: str | None = None) -> str:
    """Make `token` (any text, e.g. one a browser test types) a valid token for `role` in `store`,
    stored the way tokens are (its hash only); returns it."""
    from graph.auditlog import audit_time
    from graph.store import TokenRow
    from registry.auth.tokens import hash_token

    store.add_token(TokenRow(name=name or f"test-{hash_token(token)[:8]}", role=role, hash=hash_token(token),
                             created=audit_time(), created_by="os:test"), actor="os:test")
    return token
