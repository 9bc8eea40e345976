"""Disclosures in the embedded store: one row per disclosure of a subject's data on a flow of
scope `case`, beside the subject tables.

`disclosure` is keyed by (subject, flow, at) for a subject's accounting; `disclosure_by_flow`
answers "how many disclosures on flow X", which makes a disclosure a reference to its flow. A
subject load stages its disclosures with the rest of each line (as JSON) and adds them to the
history (`INSERT_STAGED`); a subject that comes again keeps the disclosures recorded before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from graph.auditlog import NewAuditEntry, audit_time
from graph.changes import encode
from graph.store import Doc

SCHEMA = """
CREATE TABLE IF NOT EXISTS disclosure (
    subject   TEXT NOT NULL,
    flow      TEXT NOT NULL,
    at        TEXT NOT NULL,
    reference TEXT,
    PRIMARY KEY (subject, flow, at)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS disclosure_by_flow ON disclosure (flow, at);
"""

INSERT_STAGED = ("INSERT OR IGNORE INTO disclosure SELECT l.id, d.value ->> 'flow', d.value ->> 'at', "
                 "d.value ->> 'reference' FROM load_subject l, json_each(l.disclosures) d "
                 "WHERE {lines} ORDER BY 1, 2, 3, l.seq, d.key")
"""The staged disclosures of one batch of a load (`graph.embedded.subject_load`: `{lines}` selects its
lines); of two alike (same subject, flow and time) the first is kept."""

_FIELDS = ("flow", "at", "reference")


class DisclosureTable:
    """The disclosure half of `EmbeddedStore` (which provides `_db`, `_reader`, `_audit`, `_in_transaction`,
    `_require` and `_require_subject`)."""

    def add_disclosure(self, id: str, disclosure: Doc, *, actor: str) -> None:
        def work() -> None:
            self._require_subject(id)  # in the transaction: neither the subject nor the flow can go meanwhile
            self._require(disclosure["flow"], "flow")
            self._db.execute("INSERT OR IGNORE INTO disclosure (subject, flow, at, reference) VALUES (?, ?, ?, ?)",
                             (id, *(disclosure.get(f) for f in _FIELDS)))
            self._audit([NewAuditEntry(audit_time(), actor, "create", "disclosure", id, after=encode(disclosure))])

        self._in_transaction(work)

    def disclosures_of(self, id: str, db) -> list[Doc]:
        """The subject's disclosures, oldest first, read on `db` (the caller's connection, which it holds)."""
        rows = db.execute("SELECT flow, at, reference FROM disclosure WHERE subject = ? ORDER BY at, flow",
                                (id,)).fetchall()
        return [{f: v for f, v in zip(_FIELDS, row) if v is not None} for row in rows]

    def count_disclosures(self, flows: Iterable[str], until: str | None = None) -> dict[str, int]:
        with self._reader() as db:
            rows = db.execute(
                "SELECT flow, COUNT(*) FROM disclosure WHERE flow IN (SELECT value FROM json_each(?)) "
                "AND (? IS NULL OR at <= ?) GROUP BY flow", (json.dumps(sorted(set(flows))), until, until)).fetchall()
        return dict(rows)
