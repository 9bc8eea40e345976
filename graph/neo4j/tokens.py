"""API tokens in Neo4j: `(:ApiToken {hash, name, role, created, created_by, expires, revoked})`.

Only the SHA-256 hash of a token is stored (unique, indexed). Creating and revoking take the
writers' lock on the meta node first, so a name stays unique among tokens not revoked, and
are audited in the same transaction (never with the hash).
"""

from __future__ import annotations

import neo4j

from graph.auditlog import NewAuditEntry, audit_time
from graph.changes import encode
from graph.neo4j import audit
from graph.store import TokenRow

_FIELDS = ("name", "role", "hash", "created", "created_by", "expires", "revoked")
_ACTIVE = "MATCH (t:ApiToken {name: $name}) WHERE t.revoked IS NULL RETURN t {.*} AS token"
_CREATE = "CREATE (t:ApiToken) SET t = $token"
_ALL = "MATCH (t:ApiToken) RETURN t {.*} AS token ORDER BY t.created, t.name"
_BY_HASH = "MATCH (t:ApiToken {hash: $hash}) RETURN t {.*} AS token"
_REVOKE = "MATCH (t:ApiToken {hash: $hash}) SET t.revoked = $at"


class TokenGraph:
    """The token half of `Neo4jStore` (which provides `_session`, `_errors` and `_query`)."""

    def add_token(self, token: TokenRow, *, actor: str) -> bool:
        def work(tx: neo4j.ManagedTransaction) -> bool:
            audit.lock(tx)
            if tx.run(_ACTIVE, name=token.name).single() is not None:
                return False
            tx.run(_CREATE, token={f: getattr(token, f) for f in _FIELDS}).consume()
            audit.append(tx, [NewAuditEntry(token.created, actor, "create", "token", token.name,
                                            after=encode({"role": token.role, "expires": token.expires}))])
            return True

        with self._errors(), self._session() as session:
            return session.execute_write(work)

    def tokens(self) -> list[TokenRow]:
        return [_row(record["token"]) for record in self._query(_ALL)]

    def token(self, hash: str) -> TokenRow | None:
        records = self._query(_BY_HASH, hash=hash)
        return _row(records[0]["token"]) if records else None

    def revoke_token(self, name: str, *, actor: str) -> TokenRow | None:
        def work(tx: neo4j.ManagedTransaction) -> TokenRow | None:
            audit.lock(tx)
            found = tx.run(_ACTIVE, name=name).single()
            if found is None:
                return None
            now = audit_time()
            tx.run(_REVOKE, hash=found["token"]["hash"], at=now).consume()
            audit.append(tx, [NewAuditEntry(now, actor, "revoke", "token", name, after=encode({"revoked": now}))])
            return _row({**found["token"], "revoked": now})

        with self._errors(), self._session() as session:
            return session.execute_write(work)


def _row(token: dict) -> TokenRow:
    return TokenRow(**{f: token.get(f) for f in _FIELDS})
