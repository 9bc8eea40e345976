"""API tokens in the embedded store: one row per token, keyed by its SHA-256 hash (never the token).

A partial unique index keeps names unique among tokens that are not revoked, so two processes
creating the same name cannot both succeed. Creating and revoking are audited in the same
transaction (`type` `token`, the name as entity; the hash is never written to the log).
"""

from __future__ import annotations

import sqlite3

from graph.auditlog import NewAuditEntry, audit_time
from graph.changes import encode
from graph.store import TokenRow

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_token (
    hash       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    created    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    expires    TEXT,
    revoked    TEXT
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS api_token_name ON api_token (name) WHERE revoked IS NULL;
"""
_FIELDS = "name, role, hash, created, created_by, expires, revoked"


class TokenTable:
    """The token half of `EmbeddedStore` (which provides `_db`, `_reader`, `_audit` and `_in_transaction`)."""

    def add_token(self, token: TokenRow, *, actor: str) -> bool:
        def work() -> None:
            self._db.execute(f"INSERT INTO api_token ({_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (token.name, token.role, token.hash, token.created, token.created_by, token.expires,
                              token.revoked))
            self._audit([NewAuditEntry(token.created, actor, "create", "token", token.name,
                                       after=encode({"role": token.role, "expires": token.expires}))])

        try:
            self._in_transaction(work)
        except sqlite3.IntegrityError:
            return False
        return True

    def tokens(self) -> list[TokenRow]:
        with self._reader() as db:
            rows = db.execute(f"SELECT {_FIELDS} FROM api_token ORDER BY created, name").fetchall()
        return [TokenRow(*row) for row in rows]

    def token(self, hash: str) -> TokenRow | None:
        with self._reader() as db:
            row = db.execute(f"SELECT {_FIELDS} FROM api_token WHERE hash = ?", (hash,)).fetchone()
        return TokenRow(*row) if row else None

    def revoke_token(self, name: str, *, actor: str) -> TokenRow | None:
        revoked: list[TokenRow] = []

        def work() -> None:
            row = self._db.execute(f"SELECT {_FIELDS} FROM api_token WHERE name = ? AND revoked IS NULL",
                                   (name,)).fetchone()
            if row is None:
                return
            now = audit_time()
            self._db.execute("UPDATE api_token SET revoked = ? WHERE hash = ?", (now, row[2]))
            self._audit([NewAuditEntry(now, actor, "revoke", "token", name, after=encode({"revoked": now}))])
            revoked.append(TokenRow(*row[:-1], revoked=now))

        self._in_transaction(work)
        return revoked[0] if revoked else None
