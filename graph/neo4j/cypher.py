"""The Cypher the Neo4j backend runs: fixed strings, every value a `$parameter`.

Labels, relationship types and variable-length bounds cannot be parameters, so the queries
that need one are looked up by a validated key (`LIST["party"]`, `UPSERT_NODES["flow"]`,
`CREATE_RELATIONSHIPS["CARRIES"]`, `reach(True, 4, False)`) among strings built here from
constants. Queries that return many rows `collect` them into one record, which the Python
driver decodes several times faster than a record per row.
"""

from __future__ import annotations

from functools import cache

from graph.neo4j.model import LABELS, RELATIONSHIP_TYPES
from graph.store import MAX_DEPTH

META = "RegistryMeta"
AUDIT = "AuditEntry"

SCHEMA = (
    "CREATE CONSTRAINT entity_id IF NOT EXISTS FOR (n:Entity) REQUIRE n.id IS UNIQUE",
    *(f"CREATE CONSTRAINT {label.lower()}_id IF NOT EXISTS FOR (n:{label}) REQUIRE n.id IS UNIQUE"
      for label in LABELS.values()),
    f"CREATE CONSTRAINT audit_entry_seq IF NOT EXISTS FOR (e:{AUDIT}) REQUIRE e.seq IS UNIQUE",
    f"CREATE CONSTRAINT registry_meta_key IF NOT EXISTS FOR (m:{META}) REQUIRE m.key IS UNIQUE",
    f"CREATE INDEX audit_entry_entity IF NOT EXISTS FOR (e:{AUDIT}) ON (e.entity, e.seq)",
    "CREATE CONSTRAINT api_token_hash IF NOT EXISTS FOR (t:ApiToken) REQUIRE t.hash IS UNIQUE",
    "CREATE INDEX api_token_name IF NOT EXISTS FOR (t:ApiToken) ON (t.name)",
    "CREATE INDEX flow_conditional IF NOT EXISTS FOR (f:Flow) ON (f.conditional)",
)

SCHEMA_NAMES = "SHOW INDEXES YIELD name RETURN collect(name) AS names"
"""Constraints show up here too, as the indexes that back them (under the constraint's name)."""

# --- reads -----------------------------------------------------------------------------------

VERSION = f"OPTIONAL MATCH (m:{META} {{key: 'registry'}}) RETURN coalesce(m.version, 0) AS version, m.epoch AS epoch"
"""The registry's version and epoch (`graph.neo4j.answers`): answers kept at them are still right."""

GET_MANY = """
UNWIND $ids AS id
MATCH (n:Entity {id: id}) WHERE n.doc IS NOT NULL
RETURN collect([n.type, n.doc]) AS found
"""

GET_MANY_KEPT = f"""
OPTIONAL MATCH (m:{META} {{key: 'registry'}})
WITH m.epoch AS epoch, coalesce(m.version, 0) AS version
CALL (epoch, version) {{
  UNWIND CASE WHEN epoch = $epoch AND version = $version THEN $missing ELSE [] END AS id
  MATCH (n:Entity {{id: id}}) WHERE n.doc IS NOT NULL
  RETURN collect([n.type, n.doc]) AS found
}}
OPTIONAL MATCH (after:{META} {{key: 'registry'}})
RETURN epoch, version, found, after.epoch = epoch AND after.version = version AS still
"""
"""The `$missing` documents of a store that keeps the others at version `$version` of epoch
`$epoch`, when the registry is still at that version (else none: the store asks again for all,
`GET_MANY_ALL`); with the version read before and whether it still held after
(`graph.neo4j.answers`)."""

GET_MANY_ALL = f"""
OPTIONAL MATCH (m:{META} {{key: 'registry'}})
WITH m.epoch AS epoch, coalesce(m.version, 0) AS version
CALL () {{
  UNWIND $ids AS id
  MATCH (n:Entity {{id: id}}) WHERE n.doc IS NOT NULL
  RETURN collect([n.type, n.doc]) AS found
}}
OPTIONAL MATCH (after:{META} {{key: 'registry'}})
RETURN epoch, version, found, after.epoch = epoch AND after.version = version AS still
"""

LIST = {type_: f"MATCH (n:{label}) WHERE n.doc IS NOT NULL RETURN collect(n.doc) AS docs"
        for type_, label in LABELS.items()}

TYPES_BY_ID = "MATCH (n:Entity) WHERE n.type IS NOT NULL RETURN collect([n.id, n.type]) AS types"

CATEGORY_TREE = "MATCH (c:DataCategory) RETURN collect([c.id, c.parent]) AS categories"

DECLARERS = """
MATCH (s:Entity)-[:HOLDS]->(c:Entity) WHERE c.id IN $categories
RETURN collect(DISTINCT s.doc) AS docs
"""

CONDITIONAL_FLOWS = "MATCH (f:Flow) WHERE f.conditional = true RETURN collect(f.doc) AS docs"
"""The flows with a status or dates: the only ones that can be out of force on a day. The
traversals pass the ids of those that are as `$excluded` (decided in Python, by
`graph.flows.in_force`, so that both backends apply one rule)."""

FLOWS_CARRYING = """
MATCH (c:Entity)<-[:CARRIES]-(f:Flow) WHERE c.id IN $categories AND NOT f.id IN $excluded
RETURN collect(DISTINCT f.doc) AS docs
"""

HOLDER = "OPTIONAL MATCH (n:Entity {id: $id}) RETURN [x IN [n.doc] WHERE x IS NOT NULL] AS docs"

FLOWS_INTO = "MATCH (f:Flow)-[:TO]->(:Entity {id: $id}) WHERE NOT f.id IN $excluded RETURN collect(f.doc) AS docs"

CARRYING = """
UNWIND range(0, size($sets) - 1) AS set
CALL (set) {
  OPTIONAL MATCH (s:Entity)-[:HOLDS]->(c:Entity) WHERE c.id IN $sets[set]
  RETURN collect(DISTINCT s.id) AS declaring
}
CALL (set) {
  OPTIONAL MATCH (c:Entity)<-[:CARRIES]-(f:Flow) WHERE c.id IN $sets[set] AND NOT f.id IN $excluded
  WITH DISTINCT f WHERE f IS NOT NULL
  RETURN collect([f.id, f.`from`, f.to]) AS carrying
}
RETURN set, declaring, carrying
"""
"""Per set of overlapping categories, in one round trip: the nodes that declare one of them, and
the flows (id, from, to) that carry one of them; the chains are worked out from these
(`graph.traversal.best_chains`) as the embedded backend does."""


_AFTER = f"""OPTIONAL MATCH (meta:{META} {{key: 'registry'}})
WITH *, coalesce(meta.version, 0) AS version, meta.epoch AS epoch"""
"""The registry's version and epoch at the end of a statement, for a traversal's check that it held."""


def _usable(flow: str, filtered: bool, excluding: bool) -> str:
    """The condition on a flow variable that a lineage follows it: in force (not in `$excluded`)
    and carrying one of `$relevant`."""
    conditions = ([f"any(c IN {flow}.categories WHERE c IN $relevant)"] if filtered else []) + \
                 ([f"NOT {flow}.id IN $excluded"] if excluding else [])
    return " AND ".join(conditions)


@cache
def reach(downstream: bool, depth: int, filtered: bool, excluding: bool = False) -> str:
    """Flows out of (or into) every node within `depth` - 1 flows of `$start`, with their far ends
    (id, type, document), the start's type and document, and the registry's version after: a
    lineage's one round trip per direction (`graph.neo4j.answers` keeps it if the version held).

    The inner variable-length pattern visits System/Party and Flow nodes alternately, so `depth`
    flows are 2 * `depth` relationships; `DISTINCT n` lets Neo4j prune it to a breadth-first search.
    With `filtered`, only flows carrying one of `$relevant` are followed; with `excluding`, none
    of `$excluded`.
    """
    if not (isinstance(depth, int) and 1 <= depth <= MAX_DEPTH):
        raise ValueError(f"depth must be between 1 and {MAX_DEPTH}")
    usable = filtered or excluding
    on_path = f"WHERE all(x IN nodes(p) WHERE NOT x:Flow OR ({_usable('x', filtered, excluding)}))" if usable else ""
    on_edge = f"WHERE {_usable('f', filtered, excluding)}" if usable else ""
    inner, step = ("-[:SENDS|TO*0..{}]->", "(n)-[:SENDS]->(f:Flow)-[:TO]->(m)") if downstream else \
                  ("<-[:SENDS|TO*0..{}]-", "(m)-[:SENDS]->(f:Flow)-[:TO]->(n)")
    return f"""
MATCH (s:Entity {{id: $start}})
MATCH p = (s){inner.format(2 * (depth - 1))}(n)
{on_path}
WITH DISTINCT n WHERE NOT n:Flow
MATCH {step}
{on_edge}
WITH collect([f.doc, m.id, m.type, m.doc]) AS reached
{_AFTER}
OPTIONAL MATCH (start:Entity {{id: $start}})
RETURN reached, start.type AS type, start.doc AS doc, version, epoch
"""


@cache
def leaves(downstream: bool, filtered: bool, excluding: bool) -> str:
    """Whether a usable flow leaves (or enters) any node of `$ids`: a lineage cut by its bound."""
    step = "(:Entity {id: id})-[:SENDS]->(f:Flow)" if downstream else "(f:Flow)-[:TO]->(:Entity {id: id})"
    usable = filtered or excluding
    return f"""
UNWIND $ids AS id
MATCH {step}
{f"WHERE {_usable('f', filtered, excluding)}" if usable else ""}
WITH count(f) > 0 AS found
{_AFTER}
RETURN found, version, epoch
"""


# --- writes ----------------------------------------------------------------------------------

CURRENT = """
UNWIND $ids AS id
MATCH (n:Entity {id: id}) WHERE n.doc IS NOT NULL
RETURN collect([n.id, n.type, n.doc]) AS found
"""

REFERRING = """
CALL () {
  UNWIND $ids AS id
  MATCH (:Entity {id: id})--(m:Entity)
  RETURN m
  UNION
  MATCH (m:System|Party)
  RETURN m
}
WITH m WHERE m.doc IS NOT NULL
RETURN collect([m.type, m.doc]) AS found
"""
"""Documents that may refer to one of `$ids`: every neighbour (each reference is a relationship),
and every system and party (the purposes, bases and subject categories of a `holds` entry are
properties of its `HOLDS` relationship)."""

DROP_OWN_RELATIONSHIPS = """
UNWIND $ids AS id
MATCH (n:Entity {id: id})-[r]-()
WHERE (startNode(r) = n) <> (type(r) = 'SENDS')
DELETE r
"""
"""Every relationship a node's document declares: its outgoing ones, and `SENDS` into a flow."""

_ANY_LABEL = ":".join(LABELS.values())

DROP_LABELS = f"UNWIND $ids AS id MATCH (n:Entity {{id: id}}) REMOVE n:{_ANY_LABEL}"

DELETE = f"""
UNWIND $ids AS id
MATCH (n:Entity {{id: id}})
SET n = {{id: id}}
REMOVE n:{_ANY_LABEL}
WITH n WHERE NOT EXISTS {{ (n)--() }}
DELETE n
"""
"""Deleted entities vanish, or stay as bare `Entity {id}` placeholders while other documents still name them."""

DROP_PLACEHOLDERS = """
UNWIND $ids AS id
MATCH (n:Entity {id: id}) WHERE n.type IS NULL AND NOT EXISTS { (n)--() }
DELETE n
"""

UPSERT_NODES = {type_: f"""
UNWIND $rows AS row
MERGE (n:Entity {{id: row.id}})
SET n = row.props, n:{label}
""" for type_, label in LABELS.items()}

CREATE_RELATIONSHIPS = {type_: f"""
UNWIND $rows AS row
MERGE (a:Entity {{id: row.start}})
MERGE (b:Entity {{id: row.end}})
CREATE (a)-[r:{type_}]->(b)
SET r = row.props
""" for type_ in RELATIONSHIP_TYPES}
"""A missing end becomes a placeholder `Entity {id}` that its document fills in when it arrives."""

BUMP_VERSION = f"MATCH (m:{META} {{key: 'registry'}}) SET m.version = m.version + 1, m.epoch = coalesce(m.epoch, randomUUID())"
"""Every change to the registry: the answers kept at the version before are stale (`graph.neo4j.answers`)."""
