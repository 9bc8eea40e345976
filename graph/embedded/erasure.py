"""Erasure carried out in the embedded store: a subject's rows removed in one transaction, with
one audit entry that proves it and holds no personal data (`graph.subjects.Erasure.proof`).

A partial erasure (data that must be kept in some systems, Art. 17(3)) rewrites the subject's
records and their index entries; a full one deletes the subject's rows from every subject table
and the documents of the audit entries about it (`graph.audit`: their seals stay). Deleted rows are
overwritten (`PRAGMA secure_delete`), and a full erasure ends by emptying the write-ahead log into
the file (a checkpoint that truncates it, as far as readers of older versions allow), so the data
is not left in the file's free pages or the log.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from graph.auditlog import NewAuditEntry, audit_time
from graph.changes import encode
from graph.subjects import Erasure, restricted

class ErasureTables:
    """The erasure half of `EmbeddedStore` (which provides `_db`, `_audit` and `_in_transaction`)."""

    def erase_subject(self, id: str, *, keep: Iterable[str], add: Iterable[dict] = (), actor: str,
                      plan_date: str) -> Erasure | None:
        added = list(add)
        kept_systems = set(keep)
        done: list[Erasure] = []

        def work() -> None:
            db = self._db
            found = db.execute("SELECT records, keys FROM subject WHERE id = ?", (id,)).fetchone()
            if found is None:
                return
            records, keys = json.loads(found[0]), json.loads(found[1])
            staying = restricted([r for r in records if r["system"] in kept_systems] + added, plan_date)
            systems = tuple(sorted({r["system"] for r in records} - kept_systems))
            if staying:
                db.execute("UPDATE subject SET records = ? WHERE id = ?", (json.dumps(staying), id))
                db.executemany("DELETE FROM subject_system WHERE system = ? AND subject = ?",
                               [(system, id) for system in systems])
                db.executemany("INSERT OR IGNORE INTO subject_system (system, subject) VALUES (?, ?)",
                               [(r["system"], id) for r in added])
                erasure = Erasure(systems, tuple(sorted({r["system"] for r in staying})))
            else:  # every statement uses a primary key: no scan, whatever the number of subjects
                db.executemany("DELETE FROM subject_system WHERE system = ? AND subject = ?",
                               [(system, id) for system in systems])
                db.executemany("DELETE FROM subject_key WHERE hash = ? AND subject = ?", [(key, id) for key in keys])
                consents = db.execute("DELETE FROM consent WHERE subject = ?", (id,)).rowcount
                disclosed = db.execute("DELETE FROM disclosure WHERE subject = ?", (id,)).rowcount
                db.execute("DELETE FROM subject WHERE id = ?", (id,))
                documents = db.execute("DELETE FROM audit_private WHERE seq IN (SELECT seq FROM audit WHERE "
                                       "entity = ?)", (id,)).rowcount
                erasure = Erasure(systems, (), consents=consents, keys=len(keys), disclosures=disclosed,
                                  audit_documents=documents)
            self._audit([NewAuditEntry(audit_time(), actor, "erase", "subject", id,
                                       after=encode(erasure.proof(plan_date)))])
            done.append(erasure)

        with self._lock:
            self._db.execute("PRAGMA secure_delete = ON")  # what is deleted is overwritten, not left in free pages
            try:
                self._in_transaction(work)
            finally:
                self._db.execute("PRAGMA secure_delete = OFF")
            if done and not done[0].kept:
                try:  # nor in the write-ahead log: as far as readers of older versions let it go
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                except sqlite3.OperationalError:
                    pass  # busy: the next checkpoints overwrite it
        return done[0] if done else None
