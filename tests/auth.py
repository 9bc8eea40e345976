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
