"""Erasure carried out in the Neo4j backend: a subject's nodes and relationships removed in one
transaction, with one audit entry that proves it and holds no personal data
(`graph.subjects.Erasure.proof`).

A partial erasure (data that must be kept in some systems, Art. 17(3)) rewrites the subject's
records (adding those of kept data that came from the records removed) and drops its
`RECORDED_IN` to the other systems; a full one deletes the subject with its
consents, disclosures and lookup keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import neo4j

from graph.audit import SEALED_TYPES
from graph.neo4j import audit
from graph.subjects import NEO4J_RESIDUE, Erasure, restricted

_FIND = "MATCH (s:Subject {id: $id}) RETURN s.records AS records"
_PARTIAL = """
MATCH (s:Subject {id: $id})
SET s.records = $records
WITH s
MATCH (s)-[r:RECORDED_IN]->(y:Entity) WHERE y.id IN $systems
DELETE r
"""
_ADD = """
MATCH (s:Subject {id: $id})
UNWIND $systems AS system
MATCH (y:System {id: system})
MERGE (s)-[:RECORDED_IN]->(y)
"""
_FULL = """
MATCH (s:Subject {id: $id})
CALL (s) { OPTIONAL MATCH (s)-[c:CONSENT]->() RETURN count(c) AS consents }
CALL (s) { OPTIONAL MATCH (s)-[d:DISCLOSED]->() RETURN count(d) AS disclosures }
CALL (s) { OPTIONAL MATCH (k:SubjectKey)-[:IDENTIFIES]->(s) WITH k, k.hash AS hash DETACH DELETE k
            RETURN count(k) AS keys, collect(hash) AS hashes }
DETACH DELETE s
WITH consents, disclosures, keys, hashes
CALL () { MATCH (d:DerivedData) WHERE $id IN d.subjects DELETE d }
RETURN consents, disclosures, keys, hashes
"""
"""A full erasure: the subject, its consents, disclosures and lookup keys, and data derived from
the store that names it (`GraphStore.keep_derived`)."""


class ErasureGraph:
    """The erasure half of `Neo4jStore` (which provides `_session` and `_errors`)."""

    def erase_subject(self, id: str, *, keep: Iterable[str], add: Iterable[dict] = (), actor: str,
                      plan_date: str) -> Erasure | None:
        kept_systems, added = set(keep), list(add)

        def work(tx: neo4j.ManagedTransaction) -> Erasure | None:
            audit.lock(tx)
            found = tx.run(_FIND, id=id).single()
            if found is None:
                return None
            records = json.loads(found["records"])
            staying = restricted([r for r in records if r["system"] in kept_systems] + added, plan_date)
            systems = tuple(sorted({r["system"] for r in records} - kept_systems))
            documents: dict[str, int] = {}
            if staying:
                tx.run(_PARTIAL, id=id, records=json.dumps(staying), systems=list(systems)).consume()
                if added:
                    tx.run(_ADD, id=id, systems=sorted({r["system"] for r in added})).consume()
                erasure = Erasure(systems, tuple(sorted({r["system"] for r in staying})))
            else:
                counts = tx.run(_FULL, id=id).single()
                entities = [id, *(f"key:{h}" for h in counts["hashes"])]  # and lookups by its keys that found no one
                rows = list(tx.run(audit.ERASE_DOCUMENTS, ids=entities, types=list(SEALED_TYPES)))
                documents = {r["id"]: r["erased"] for r in rows if r["erased"]}
                erasure = Erasure(systems, (), consents=counts["consents"], keys=counts["keys"],
                                  disclosures=counts["disclosures"], audit_documents=sum(documents.values()),
                                  audit_documents_kept=sum(r["kept"] for r in rows), residue=NEO4J_RESIDUE)
            audit.append(tx, erasure.proofs(id, documents, plan_date, actor))
            return erasure

        with self._errors(), self._session() as session:
            return session.execute_write(work)
