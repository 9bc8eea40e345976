"""Disclosures in the Neo4j backend: a relationship from the subject to the flow of scope `case`
that carried its data.

    (:Subject)-[:DISCLOSED {at, reference}]->(:Flow)

One relationship per (subject, flow, at). "How many disclosures on flow X" is one hop from the
flow, so a disclosure counts as a reference to its flow. A subject load merges its disclosures
batch by batch (`MERGE_ROWS`) like its consents: a subject that comes again keeps the
disclosures recorded before.
"""

from __future__ import annotations

from collections.abc import Iterable

import neo4j

from graph.auditlog import NewAuditEntry, audit_time
from graph.changes import encode
from graph.neo4j import audit
from graph.store import Doc
from graph.subjects import SubjectRow

MERGE_ROWS = """
UNWIND $rows AS row
MATCH (s:Subject {id: row.subject}), (f:Flow {id: row.flow})
MERGE (s)-[d:DISCLOSED {at: row.at}]->(f)
SET d.reference = row.reference
"""
_COUNT = """
UNWIND $flows AS id
MATCH (:Subject)-[d:DISCLOSED]->(f:Entity {id: id})
WHERE $until IS NULL OR d.at <= $until
RETURN id, count(d) AS count
"""


def rows(subjects: Iterable[SubjectRow]) -> list[dict]:
    """The `MERGE_ROWS` parameters for the disclosures of `subjects`."""
    return [{"subject": s.id, "flow": d["flow"], "at": d["at"], "reference": d.get("reference")}
            for s in subjects for d in s.disclosures]


class DisclosureGraph:
    """The disclosure half of `Neo4jStore` (which provides `_session`, `_errors` and `_query`)."""

    def add_disclosure(self, id: str, disclosure: Doc, *, actor: str) -> None:
        from graph.neo4j.subjects import require, require_subject  # subjects imports this module

        def work(tx: neo4j.ManagedTransaction) -> None:
            require(tx, disclosure["flow"], "flow")  # neither the flow nor the subject can go before this commits
            require_subject(tx, id)
            tx.run(MERGE_ROWS, rows=[{"subject": id, "reference": disclosure.get("reference"),
                                      "flow": disclosure["flow"], "at": disclosure["at"]}]).consume()
            audit.append(tx, [NewAuditEntry(audit_time(), actor, "create", "disclosure", id,
                                            after=encode(disclosure))])

        with self._errors(), self._session() as session:
            session.execute_write(work)

    def count_disclosures(self, flows: Iterable[str], until: str | None = None) -> dict[str, int]:
        return {record["id"]: record["count"]
                for record in self._query(_COUNT, flows=sorted(set(flows)), until=until)}
