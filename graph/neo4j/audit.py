"""The audit log in Neo4j: `(:AuditEntry)` nodes chained by `graph.audit`, the head on the meta node.

Every write appends through `append`, inside its own transaction, after taking the write lock
on the `(:RegistryMeta {key: 'registry'})` node, which serialises writers: the meta node keeps
the last sequence number (`seq`) and the last entry's hash (`head`). A sealed entry (`graph.audit`) keeps its document and
salt in its `private` and `salt` properties, which erasing its subject removes (`ERASE_DOCUMENTS`). Entries written before the
chain existed are sealed once, when a store is opened (`seal_legacy`).
"""

from __future__ import annotations

import json

import neo4j

from graph.audit import GENESIS, last_change, link, stored
from graph.auditlog import AuditEntry, AuditHead, AuditQuery, NewAuditEntry
from graph.changes import encode

META, AUDIT = "RegistryMeta", "AuditEntry"
BATCH = 2000

LOCK = f"""
MERGE (m:{META} {{key: 'registry'}})
ON CREATE SET m.version = 0, m.seq = 0, m.epoch = randomUUID()
SET m.version = m.version
RETURN m.seq AS seq, m.head AS head
"""
"""Taken first by every write: the exclusive lock on the meta node serialises writers."""

_APPEND = f"UNWIND $rows AS row CREATE (e:{AUDIT}) SET e = row"
_SET_HEAD = (f"MATCH (m:{META} {{key: 'registry'}}) "
             "SET m.seq = $seq, m.head = $head, m.changed = coalesce($changed, m.changed)")
_APPEND_LAST = f"{_APPEND} WITH count(*) AS appended {_SET_HEAD}"
"""The last rows and the new head in one statement (one round trip: an audited read writes one entry)."""
_APPEND_AFTER = f"""
MATCH (m:{META} {{key: 'registry'}})
SET m.version = m.version
WITH m WHERE m.seq = $seq AND m.head = $head
CREATE (e:{AUDIT}) SET e = $row
SET m.seq = $row.seq, m.head = $row.hash, m.changed = coalesce($changed, m.changed)
RETURN count(e) AS appended
"""
"""One entry chained after `$seq`/`$head`, written only if they are still the head once the
writers' lock is taken (`append_after`)."""
ERASE_DOCUMENTS = f"""
UNWIND $ids AS id
MATCH (e:{AUDIT}) WHERE e.entity = id AND e.seq > 0 AND e.action <> 'erase' AND e.type IN $types
WITH id, e, e.salt IS NOT NULL AS sealed, e.after IS NOT NULL AND NOT e.after STARTS WITH '{{"sealed":' AS unsealed
FOREACH (_ IN CASE WHEN sealed THEN [1] ELSE [] END | REMOVE e.private, e.salt)
RETURN id, count(CASE WHEN sealed THEN 1 END) AS erased, count(CASE WHEN unsealed THEN 1 END) AS kept
"""
"""Remove the documents of the entries about a subject (`$ids`: its id and its lookup keys'
entities; `$types` the sealed types), whose seals stay: its erasure. Per entity with entries,
how many documents went (`erased`), and how many were written before seals existed (`kept`:
their documents are in the chain)."""
HEAD = f"OPTIONAL MATCH (m:{META} {{key: 'registry'}}) RETURN m.seq AS seq, m.head AS head"
LAST_CHANGE = f"OPTIONAL MATCH (m:{META} {{key: 'registry'}}) RETURN coalesce(m.changed, m.seq, 0) AS changed"
"""`GraphStore.last_change`: kept on the meta node by every append of a change (before there was
one, the head's `seq`)."""
_UNSEALED = f"MATCH (e:{AUDIT}) WHERE e.hash IS NULL RETURN count(e) > 0 AS unsealed"
_ALL = f"MATCH (e:{AUDIT}) RETURN e {{.*}} AS entry ORDER BY e.seq"
_DROP = f"MATCH (e:{AUDIT}) DELETE e"

# Reads: filters that are not given are null; a range on `seq` lets the planner walk its index in order.
_FILTERS = """
  AND ($actor IS NULL OR e.actor = $actor) AND ($since IS NULL OR e.at >= $since)
  AND ($until IS NULL OR e.at < $until) AND NOT e.type IN $exclude AND NOT e.action IN $exclude_actions
"""
_MATCH = {True: f"MATCH (e:{AUDIT}) WHERE e.entity = $entity AND e.seq > $after AND e.seq < $before",
          False: f"MATCH (e:{AUDIT}) WHERE e.seq > $after AND e.seq < $before"}
READ = {
    (entity, newest): _MATCH[entity] + _FILTERS
                      + f"RETURN e {{.*}} AS entry ORDER BY e.seq {'DESC' if newest else 'ASC'} LIMIT $limit"
    for entity in (False, True) for newest in (False, True)
}
COUNT = {entity: _MATCH[entity] + _FILTERS + "RETURN count(e) AS count" for entity in (False, True)}


def query_params(query: AuditQuery) -> dict:
    """The parameters of `READ` and `COUNT` for `query` (filters not given are null)."""
    return dict(entity=query.entity, actor=query.actor, since=query.since, until=query.until,
                after=query.after if query.after is not None else 0,
                before=query.before if query.before is not None else 2 ** 62, exclude=sorted(query.exclude_types),
                exclude_actions=sorted(query.exclude_actions))


def entry(found: dict) -> AuditEntry:
    """The `AuditEntry` of an `(:AuditEntry)` node's properties (a sealed entry's document and salt,
    `graph.audit`, are its `private` and `salt`)."""
    return stored(found["seq"], found["at"], found["actor"], found["action"], found["type"], found["entity"],
                  found.get("before"), found.get("after"), found.get("prev"), found.get("hash"), found.get("salt"),
                  found.get("private"))


def lock(tx: neo4j.ManagedTransaction | neo4j.Transaction) -> AuditHead:
    """Take the writers' lock; the head as it stands."""
    [record] = list(tx.run(LOCK))
    return AuditHead(record["seq"] or 0, record["head"] or GENESIS)


def append(tx: neo4j.ManagedTransaction | neo4j.Transaction, entries: list[NewAuditEntry]) -> AuditHead:
    """Append `entries` to the chain, inside the caller's transaction (taking the lock if it has
    not); the new head."""
    rows, head = link(lock(tx), entries)
    batches = [rows[i:i + BATCH] for i in range(0, len(rows), BATCH)] or [[]]
    for batch in batches[:-1]:
        tx.run(_APPEND, rows=batch).consume()
    tx.run(_APPEND_LAST, rows=batches[-1], seq=head.seq, head=head.hash, changed=last_change(rows)).consume()
    return head


def append_after(session: neo4j.Session, head: AuditHead, entry: NewAuditEntry, timeout: float) -> AuditHead | None:
    """Append `entry` after `head` in one auto-commit statement (one round trip, the commit
    included, where a transaction of its own takes four), if `head` is still the chain's head once
    the writers' lock is taken: the new head; None when the chain has moved on, and nothing was
    written (append under the lock then, `append`). An error the driver would retry raises."""
    [row], new = link(head, [entry])
    result = session.run(neo4j.Query(_APPEND_AFTER, timeout=timeout), seq=head.seq, head=head.hash, row=row,
                         changed=last_change([row]))
    [record] = list(result)
    result.consume()  # the commit's outcome
    return new if record["appended"] else None


def seal_legacy(session: neo4j.Session) -> None:
    """Chain a log written before the chain existed (canonical JSON for its documents), once."""
    if not session.execute_read(lambda tx: tx.run(_UNSEALED).single()["unsealed"]):
        return

    def work(tx: neo4j.ManagedTransaction) -> None:
        lock(tx)
        entries = [record["entry"] for record in tx.run(_ALL)]
        tx.run(_DROP).consume()
        tx.run(_SET_HEAD, seq=0, head=GENESIS, changed=None).consume()
        append(tx, [NewAuditEntry(e["at"], e["actor"], e["action"], e["type"], e["entity"],
                                  _canonical(e.get("before")), _canonical(e.get("after"))) for e in entries])

    session.execute_write(work)


def _canonical(text: str | None) -> str | None:
    return encode(json.loads(text)) if text else None
