"""Erasure carried out in the embedded store: a subject's rows removed in one transaction, with
one audit entry that proves it and holds no personal data (`graph.subjects.Erasure.proof`).

A partial erasure (data that must be kept in some systems, Art. 17(3)) rewrites the subject's
records and their index entries; a full one deletes the subject's rows from every subject table
and the documents of the audit entries about it and about lookups by its keys (`graph.audit`:
their seals stay). Every connection overwrites what it deletes (`PRAGMA secure_delete`), and a
full erasure ends by copying the write-ahead log into the file and truncating it, so the data is
not left in free pages or in the log; readers of older versions can hold the log up to
`busy_timeout`, and then the erasure says so (`Erasure.residue`).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterable

from graph.audit import SEALED_TYPES
from graph.subjects import WAL_RESIDUE, Erasure, restricted

_DROP_DERIVED = ("DELETE FROM derived WHERE name IN (SELECT name FROM derived_subject WHERE subject = ?1)",
                 "DELETE FROM derived_subject WHERE name IN (SELECT name FROM derived_subject WHERE subject = ?1)")
"""`GraphStore.keep_derived`: an erasure drops what names the subject (by the index of subjects, then
by the key of names)."""


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
                documents = {}
            else:  # every statement uses a primary key: no scan, whatever the number of subjects
                db.executemany("DELETE FROM subject_system WHERE system = ? AND subject = ?",
                               [(system, id) for system in systems])
                db.executemany("DELETE FROM subject_key WHERE hash = ? AND subject = ?", [(key, id) for key in keys])
                consents = db.execute("DELETE FROM consent WHERE subject = ?", (id,)).rowcount
                disclosed = db.execute("DELETE FROM disclosure WHERE subject = ?", (id,)).rowcount
                db.execute("DELETE FROM subject WHERE id = ?", (id,))
                for statement in _DROP_DERIVED:  # data derived from the store that names the subject
                    db.execute(statement, (id,))
                documents, unsealed = self._erase_documents([id, *(f"key:{key}" for key in keys)])
                erasure = Erasure(systems, (), consents=consents, keys=len(keys), disclosures=disclosed,
                                  audit_documents=sum(documents.values()), audit_documents_kept=unsealed)
            self._audit(erasure.proofs(id, documents, plan_date, actor))
            done.append(erasure)

        self._in_transaction(work)
        if not done:
            return None
        if not done[0].kept and not self._empty_wal():
            return dataclasses.replace(done[0], residue=WAL_RESIDUE)
        return done[0]

    def _erase_documents(self, entities: list[str]) -> tuple[dict[str, int], int]:
        """Delete the documents of the sealed audit entries about `entities` (`graph.audit`): how
        many went per entity (those with any), and how many entries about them were written
        before seals existed (their documents are in the chain)."""
        db, types = self._db, ",".join("?" * len(SEALED_TYPES))
        about = f"entity IN ({','.join('?' * len(entities))}) AND type IN ({types}) AND action != 'erase'"
        found = dict(db.execute(f"SELECT entity, count(*) FROM audit JOIN audit_private USING (seq) WHERE {about} "
                                "GROUP BY entity", (*entities, *SEALED_TYPES)).fetchall())
        db.execute(f"DELETE FROM audit_private WHERE seq IN (SELECT seq FROM audit WHERE {about})",
                   (*entities, *SEALED_TYPES))
        unsealed = db.execute(f"SELECT count(*) FROM audit WHERE {about} AND after IS NOT NULL "
                              "AND after NOT LIKE '{\"sealed\":%'", (*entities, *SEALED_TYPES)).fetchone()[0]
        return found, unsealed

    def _empty_wal(self) -> bool:
        """Copy the write-ahead log into the store and truncate it, so that the erased data's older
        versions are not left in it; readers of older versions hold it up to `busy_timeout`.
        Whether it was emptied."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            with self._lock:
                try:
                    busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                except sqlite3.OperationalError:
                    busy = 1
            if not busy or time.monotonic() >= deadline:
                return not busy
            time.sleep(0.05)
