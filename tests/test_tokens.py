"""API tokens in the store, on every backend: only hashes are kept, names are unique among tokens in
force, creating and revoking are audited (never with the hash), and the first admin token is made once."""

from __future__ import annotations

import pytest

from registry.auth.callers import Unauthenticated, Verifier
from registry.auth.roles import Forbidden, Principal
from registry.auth.tokens import Tokens, hash_token
from registry.errors import InvalidArgument, NotFound

ADMIN = Principal.of("os:alice", "admin")


def test_tokens_are_kept_as_hashes_unique_by_name_and_revoked_by_name(registry):
    tokens = Tokens(registry.store)
    issued = tokens.create(principal=ADMIN, name="ci", role="steward")
    row = registry.store.token(hash_token(issued.token))
    assert (row.name, row.role, row.created_by, row.expires, row.revoked) == ("ci", "steward", "os:alice", None, None)
    assert issued.token not in repr(registry.store.tokens())
    with pytest.raises(InvalidArgument, match="a token named 'ci' is in force already"):
        tokens.create(principal=ADMIN, name="ci", role="viewer")
    verifier = Verifier(registry.store)
    assert verifier.principal(f"Bearer {issued.token}") == Principal("token:ci", frozenset({"steward"}))
    assert tokens.revoke(principal=ADMIN, name="ci").revoked is not None
    with pytest.raises(Unauthenticated, match="'ci' was revoked"):
        verifier.principal(f"Bearer {issued.token}")
    with pytest.raises(NotFound):
        tokens.revoke(principal=ADMIN, name="ci")
    again = tokens.create(principal=ADMIN, name="ci", role="viewer")  # the name is free again
    assert [(t.name, t.role, t.revoked is None) for t in tokens.list(principal=ADMIN)] == [
        ("ci", "steward", False), ("ci", "viewer", True)]
    entries = [(e.actor, e.action, e.type, e.id, e.after) for e in registry.audit(entity="ci")]
    assert [entry[:4] for entry in entries] == [("os:alice", "create", "token", "ci"),
                                                ("os:alice", "revoke", "token", "ci"),
                                                ("os:alice", "create", "token", "ci")]
    assert entries[0][4] == {"role": "steward", "expires": None}
    assert hash_token(issued.token) not in repr(registry.audit(limit=1000))
    assert hash_token(again.token) not in repr(registry.audit(limit=1000))


def test_only_admins_manage_tokens(registry):
    for role in ("viewer", "steward", "dpo", "auditor"):
        with pytest.raises(Forbidden, match="tokens:manage"):
            Tokens(registry.store).create(principal=Principal.of("x", role), name="mine", role="admin")


def test_the_first_admin_token_is_made_once_on_a_store_that_never_had_one(registry):
    tokens = Tokens(registry.store)
    first = tokens.bootstrap(actor="os:ops")
    assert first.row.name == "admin" and first.row.role == "admin"
    assert tokens.bootstrap(actor="os:ops") is None
    tokens.revoke(principal=ADMIN, name="admin")
    assert tokens.bootstrap(actor="os:ops") is None  # revoking every token does not open the door again
