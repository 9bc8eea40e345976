"""The peer: the same registry in FalkorDB, and the same questions in Cypher.

The graph is modelled as a FalkorDB user would model lineage: systems and parties are nodes
(`:Holder:System`, `:Holder:Party`, indexed by id), a flow is a `:FLOW` relationship carrying
its categories as a list, a declaration a `:HOLDS` relationship to its category, a data subject
a `:Subject` node (indexed by id and by the HMAC of its e-mail) with `:RECORD` relationships to
systems. Where a question's semantics go beyond what Cypher can say, the peer uses Cypher for
the graph work and our own functions for the rest, so the answers can be compared:

- `holders`, `holdings`: one query each, without the `path` of each holding (the smallest of
  the shortest chains from an origin has no Cypher form): the peer does less work than we do.
- `lineage`: FalkorDB's own breadth-first search (`algo.BFS`), then the flows out of the nodes found.
- `dsar`, `breach`: the category-filtered reach one breadth-first layer per query (a
  variable-length match with a predicate on every relationship enumerates paths, which is
  exponential on a graph with cycles), then our `dsar.compute` and `impact.downstream` for the
  narrowing of categories from hop to hop and the consent rules.
- `findings`: six of the rules, those that are plain graph patterns (see `PEER_RULES`); the
  transfer, scope, lineage-gap and consent rules are left out.

The category tree (about a hundred rows) is read once after loading and kept.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from graph.store import MAX_DEPTH, Doc, Lineage, Stored
from graph.subjects import SubjectRow
from registry.categories import CategoryTree
from registry.compliance.impact import downstream
from registry.legal_bases import BUILTIN_LEGAL_BASES
from registry.subjects import dsar
from registry.subjects.keys import KeyHasher

from bench.questions import Picks

BATCH = 5_000
INDEXES = ("CREATE INDEX FOR (n:Holder) ON (n.id)", "CREATE INDEX FOR (c:Category) ON (c.id)",
           "CREATE INDEX FOR (a:Agreement) ON (a.id)", "CREATE INDEX FOR (b:LegalBasis) ON (b.id)",
           "CREATE INDEX FOR (s:Subject) ON (s.id)", "CREATE INDEX FOR (s:Subject) ON (s.email)")

LOAD = {
    "category": "UNWIND $rows AS r CREATE (:Category {id: r.id, special: r.special, criminal: r.criminal})",
    "parent": "UNWIND $rows AS r MATCH (c:Category {id: r.id}), (p:Category {id: r.parent}) CREATE (c)-[:PARENT]->(p)",
    "legal-basis": "UNWIND $rows AS r CREATE (:LegalBasis {id: r.id, kind: r.kind})",
    "purpose": "UNWIND $rows AS r CREATE (:Purpose {id: r.id, insurance_function: r.insurance_function})",
    "system": "UNWIND $rows AS r CREATE (:Holder:System {id: r.id, name: r.name, country: r.country})",
    "holds": "UNWIND $rows AS r MATCH (s:Holder {id: r.system}), (c:Category {id: r.category}) "
             "CREATE (s)-[:HOLDS {purposes: r.purposes, legal_basis: r.legal_basis, condition: r.condition, "
             "retention: r.retention}]->(c)",
    "party": "UNWIND $rows AS r CREATE (:Holder:Party {id: r.id, name: r.name, kind: r.kind, country: r.country, "
             "role: r.role})",
    "agreement": "UNWIND $rows AS r CREATE (a:Agreement {id: r.id, kind: r.kind, legal_basis: r.legal_basis, "
                 "condition: r.condition, transfer_mechanism: r.transfer_mechanism, effective: r.effective, "
                 "expires: r.expires, status: r.status, categories: r.categories, purposes: r.purposes}) "
                 "WITH a, r UNWIND r.parties AS id MATCH (p:Holder {id: id}) CREATE (a)-[:PARTY]->(p)",
    "flow": "UNWIND $rows AS r MATCH (a:Holder {id: r.from}), (b:Holder {id: r.to}) "
            "CREATE (a)-[:FLOW {id: r.id, categories: r.categories, purpose: r.purpose, legal_basis: r.legal_basis, "
            "condition: r.condition, agreement: r.agreement, transfer_mechanism: r.transfer_mechanism}]->(b)",
    "subject": "UNWIND $rows AS r CREATE (p:Subject {id: r.id, kind: r.kind, email: r.email, consents: r.consents}) "
               "WITH p, r UNWIND r.records AS rec MATCH (s:Holder {id: rec.system}) "
               "CREATE (p)-[:RECORD {categories: rec.categories, source: rec.source}]->(s)",
}

HOLDERS = """
MATCH (c:Category {id: $category})
WITH [(c)-[:PARENT*1..]->(up:Category) | up.id] + [(down:Category)-[:PARENT*0..]->(c) | down.id] AS wanted
CALL {
  WITH wanted
  MATCH (s:System)-[h:HOLDS]->(k:Category) WHERE k.id IN wanted
  RETURN s.id AS holder, k.id AS category, '' AS flow, h.purposes AS purposes, h.legal_basis AS basis
  UNION ALL
  WITH wanted
  MATCH (:Holder)-[f:FLOW]->(b:Holder) WHERE any(x IN f.categories WHERE x IN wanted)
  UNWIND [x IN f.categories WHERE x IN wanted] AS category
  RETURN b.id AS holder, category, f.id AS flow, [f.purpose] AS purposes, f.legal_basis AS basis
}
RETURN holder, category, flow, purposes, basis ORDER BY holder, category, flow
"""

HOLDINGS = """
MATCH (n:Holder {id: $holder})
CALL {
  WITH n
  MATCH (n)-[h:HOLDS]->(k:Category)
  RETURN k.id AS category, '' AS flow, h.purposes AS purposes, h.legal_basis AS basis
  UNION ALL
  WITH n
  MATCH (:Holder)-[f:FLOW]->(n)
  UNWIND f.categories AS category
  RETURN category, f.id AS flow, [f.purpose] AS purposes, f.legal_basis AS basis
}
RETURN category, flow, purposes, basis ORDER BY category, flow
"""

LINEAGE = """
MATCH (s:Holder {id: $start})
CALL algo.BFS(s, $levels, 'FLOW') YIELD nodes
UNWIND [s] + nodes AS m
MATCH (m)-[f:FLOW]->(t:Holder)
RETURN collect(DISTINCT [t.id, labels(t), t.name]) AS nodes,
       collect([f.id, m.id, t.id, f.categories, f.purpose]) AS edges
"""
LINEAGE_ONE = """
MATCH (m:Holder {id: $start})-[f:FLOW]->(t:Holder)
RETURN collect(DISTINCT [t.id, labels(t), t.name]) AS nodes,
       collect([f.id, m.id, t.id, f.categories, f.purpose]) AS edges
"""
WHOLE_NODES = "MATCH (n:Holder) RETURN n.id, labels(n), n.name"
WHOLE_EDGES = "MATCH (a:Holder)-[f:FLOW]->(b:Holder) RETURN f.id, a.id, b.id, f.categories, f.purpose"

LAYER = """
UNWIND $frontier AS id
MATCH (a:Holder {id: id})-[f:FLOW]->(b:Holder)
WHERE any(x IN f.categories WHERE x IN $relevant)
OPTIONAL MATCH (g:Agreement {id: f.agreement})
RETURN a.id, b.id, b:System, properties(f), properties(g),
       [(b)-[h:HOLDS]->(k:Category) | [k.id, h.purposes, h.legal_basis, h.condition, h.retention]]
"""

SUBJECT = """
MATCH (p:Subject {id: $id})
OPTIONAL MATCH (p)-[r:RECORD]->(s:System)
RETURN p.id, p.kind, p.consents,
       collect([s.id, r.categories, r.source,
                [(s)-[h:HOLDS]->(k:Category) | [k.id, h.purposes, h.legal_basis, h.condition, h.retention]]])
"""
SUBJECT_BY_EMAIL = "MATCH (p:Subject {email: $hash}) RETURN p.id"

COUNT_SUBJECTS = "MATCH (p:Subject)-[:RECORD]->(s:System) WHERE s.id IN $systems RETURN count(DISTINCT p)"

PEER_RULES = ("missing-legal-basis", "special-category-without-condition", "criminal-data-without-authorisation",
              "external-flow-without-agreement", "agreement-expired", "holding-without-retention")
"""The rules the peer evaluates in Cypher: the ones that are plain patterns on flows, agreements and declarations."""

FINDINGS = """
MATCH (:Holder)-[f:FLOW]->(:Holder)
OPTIONAL MATCH (g:Agreement {id: f.agreement})
WITH f, g WHERE f.legal_basis IS NULL AND (g IS NULL OR g.legal_basis IS NULL)
RETURN 'missing-legal-basis' AS rule, f.id AS entity, '' AS category
UNION ALL
MATCH (s:System)-[h:HOLDS]->(k:Category) WHERE h.legal_basis IS NULL
RETURN 'missing-legal-basis' AS rule, s.id AS entity, k.id AS category
UNION ALL
MATCH (c:Category)-[:PARENT*0..]->(:Category {special: true})
WITH collect(c.id) AS special
MATCH (:Holder)-[f:FLOW]->(:Holder) WHERE any(x IN f.categories WHERE x IN special)
OPTIONAL MATCH (g:Agreement {id: f.agreement})
WITH f, coalesce(f.condition, g.condition) AS condition
OPTIONAL MATCH (b:LegalBasis {id: condition})
WITH f, condition, b WHERE b IS NULL OR b.kind <> 'special-condition' OR condition = 'gdpr-10'
RETURN 'special-category-without-condition' AS rule, f.id AS entity, '' AS category
UNION ALL
MATCH (c:Category)-[:PARENT*0..]->(:Category {special: true})
WITH collect(c.id) AS special
MATCH (s:System)-[h:HOLDS]->(k:Category) WHERE k.id IN special
OPTIONAL MATCH (b:LegalBasis {id: h.condition})
WITH s, k, h, b WHERE b IS NULL OR b.kind <> 'special-condition' OR h.condition = 'gdpr-10'
RETURN 'special-category-without-condition' AS rule, s.id AS entity, k.id AS category
UNION ALL
MATCH (c:Category)-[:PARENT*0..]->(:Category {criminal: true})
WITH collect(c.id) AS criminal
MATCH (:Holder)-[f:FLOW]->(:Holder) WHERE any(x IN f.categories WHERE x IN criminal)
OPTIONAL MATCH (g:Agreement {id: f.agreement})
WITH f, coalesce(f.condition, g.condition) AS condition WHERE condition IS NULL OR condition <> 'gdpr-10'
RETURN 'criminal-data-without-authorisation' AS rule, f.id AS entity, '' AS category
UNION ALL
MATCH (c:Category)-[:PARENT*0..]->(:Category {criminal: true})
WITH collect(c.id) AS criminal
MATCH (s:System)-[h:HOLDS]->(k:Category) WHERE k.id IN criminal AND (h.condition IS NULL OR h.condition <> 'gdpr-10')
RETURN 'criminal-data-without-authorisation' AS rule, s.id AS entity, k.id AS category
UNION ALL
MATCH (a:Holder)-[f:FLOW]->(b:Holder) WHERE (a:Party OR b:Party) AND f.agreement IS NULL
RETURN 'external-flow-without-agreement' AS rule, f.id AS entity, '' AS category
UNION ALL
MATCH (:Holder)-[f:FLOW]->(:Holder)
MATCH (g:Agreement {id: f.agreement})
WHERE g.status = 'active' AND g.effective <= $as_of AND g.expires IS NOT NULL AND g.expires < $as_of
RETURN 'agreement-expired' AS rule, f.id AS entity, '' AS category
UNION ALL
MATCH (s:System)-[h:HOLDS]->(k:Category) WHERE h.retention IS NULL
RETURN 'holding-without-retention' AS rule, s.id AS entity, k.id AS category
"""


def _batches(rows: Iterable[dict], size: int = BATCH) -> Iterator[list[dict]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class Answer:
    """A peer's answer: its size, counted as ours is, and its content in our comparable form."""

    items: int
    content: Any = None


@dataclass
class FalkorPeer:
    """The registry's graph in one FalkorDB graph, and the questions asked of it."""

    db: Any
    hasher: KeyHasher
    name: str = "registry"
    graph: Any = field(init=False)
    tree: CategoryTree | None = field(init=False, default=None)
    categories: dict[str, Doc] = field(init=False, default_factory=dict)

    def __post_init__(self):
        self.graph = self.db.select_graph(self.name)

    def query(self, cypher: str, **params) -> list[list]:
        return self.graph.query(cypher, params).result_set

    # --- loading ----------------------------------------------------------------------------------------

    def load(self, bundle: dict) -> int:
        """Create the indexes and the whole bundle; returns the number of entities written."""
        for index in INDEXES:
            self.query(index)
        agreements = [{"status": "active", **doc} for doc in bundle.get("agreements", [])]  # the model's default
        docs = {"category": bundle["categories"], "purpose": bundle["purposes"], "system": bundle["systems"],
                "party": bundle["parties"], "agreement": agreements, "flow": bundle["flows"]}
        docs["legal-basis"] = [{"id": id_, "kind": basis.kind} for id_, basis in BUILTIN_LEGAL_BASES.items()]
        docs["parent"] = [c for c in bundle["categories"] if c.get("parent")]
        docs["holds"] = [{"system": s["id"], **held} for s in bundle["systems"] for held in s["holds"]]
        for kind in ("category", "parent", "legal-basis", "purpose", "system", "holds", "party", "agreement", "flow"):
            fields = _fields(kind)
            for batch in _batches(docs[kind]):
                self.query(LOAD[kind], rows=[{f: row.get(f) for f in fields} for row in batch])
        self.categories = {c["id"]: c for c in bundle["categories"]}
        self.tree = CategoryTree(bundle["categories"])
        return sum(len(docs[kind]) for kind in ("category", "purpose", "system", "party", "agreement", "flow"))

    def load_subjects(self, path: Path, progress: Callable[[int], None] = lambda n: None) -> int:
        """Load a JSON Lines subject file (as `write_subjects` writes it); returns the number of subjects."""
        count = 0

        def rows() -> Iterator[dict]:
            with path.open("rb") as lines:
                for line in lines:
                    subject = orjson.loads(line)
                    email = subject.get("keys", {}).get("email")
                    yield {"id": subject["id"], "kind": subject["kind"],
                           "email": self.hasher.hash("email", email) if email else None,
                           "consents": orjson.dumps(subject.get("consents", [])).decode(),
                           "records": [{"system": r["system"], "categories": r.get("categories"),
                                        "source": r.get("source")} for r in subject["records"]]}

        for batch in _batches(rows()):
            self.query(LOAD["subject"], rows=batch)
            count += len(batch)
            progress(len(batch))
        return count

    # --- questions --------------------------------------------------------------------------------------

    def holders(self, picks: Picks, i: int) -> Answer:
        rows = self.query(HOLDERS, category=picks.category)
        return Answer(len(rows), sorted((h, c, f) for h, c, f, _, _ in rows))

    def holders_page(self, picks: Picks, i: int) -> Answer:
        rows = self.query(HOLDERS + " LIMIT 100", category=picks.category)
        return Answer(len(rows))

    def holdings(self, picks: Picks, i: int) -> Answer:
        rows = self.query(HOLDINGS, holder=picks.holder)
        return Answer(len(rows), sorted((picks.holder, c, f) for c, f, _, _ in rows))

    def lineage(self, start: str, depth: int | None) -> Lineage:
        depth = MAX_DEPTH if depth is None else depth
        if depth == 0:
            rows = []
        elif depth == 1:  # algo.BFS reads a level of 0 as "no limit"
            rows = self.query(LINEAGE_ONE, start=start)
        else:
            rows = self.query(LINEAGE, start=start, levels=depth - 1)
        nodes, edges = (rows[0] if rows else ([], []))
        found = {start: Stored("system", {"id": start})}
        found.update((id_, Stored("system" if "System" in labels else "party", {"id": id_, "name": name}))
                     for id_, labels, name in nodes)
        flows = {id_: {"id": id_, "from": a, "to": b, "categories": c, "purpose": p} for id_, a, b, c, p in edges}
        return Lineage(nodes=[found[n] for n in sorted(found)], edges=[flows[f] for f in sorted(flows)])

    def lineage_answer(self, depth: int | None) -> Callable[[Picks, int], Answer]:
        def answer(picks: Picks, i: int) -> Answer:
            found = self.lineage(picks.start, depth)
            return Answer(len(found.edges), (frozenset(n.id for n in found.nodes),
                                             frozenset(e["id"] for e in found.edges)))
        return answer

    def whole_lineage(self, picks: Picks, i: int) -> Answer:
        """Every system and party, and every flow between them: the whole group as one node and edge list."""
        nodes = self.query(WHOLE_NODES)
        edges = self.query(WHOLE_EDGES)
        return Answer(len(edges), (frozenset(id_ for id_, _labels, _name in nodes), frozenset(e[0] for e in edges)))

    def reach(self, starts: Iterable[str], categories: Iterable[str]) -> tuple[list[Doc], dict[str, Stored]]:
        """The flows downstream of `starts` that carry data of `categories` (overlapping), one
        breadth-first layer per query, with the nodes they reach and the agreements they name."""
        relevant = sorted(frozenset().union(*(self.tree.overlapping.get(c, {c}) for c in categories)))
        seen, frontier = set(starts), sorted(set(starts))
        flows: dict[str, Doc] = {}
        entities: dict[str, Stored] = {}
        for _ in range(MAX_DEPTH):
            if not frontier:
                break
            following = []
            for a, b, system, f, g, holds in self.query(LAYER, frontier=frontier, relevant=relevant):
                flows[f["id"]] = {"from": a, "to": b, **f}
                if g:
                    entities[g["id"]] = Stored("agreement", dict(g))
                if b not in entities:
                    entities[b] = _holder(b, system, holds)
                if b not in seen:
                    seen.add(b)
                    following.append(b)
            frontier = sorted(following)
        return list(flows.values()), entities

    def _subject(self, id_: str) -> tuple[SubjectRow, dict[str, Stored]] | None:
        rows = self.query(SUBJECT, id=id_)
        if not rows or rows[0][0] is None:
            return None
        _, kind, consents, records = rows[0]
        entities, kept = {}, []
        for system, categories, source, holds in records:
            if system is None:
                continue
            entities[system] = _holder(system, True, holds)
            kept.append({"system": system, "categories": categories or [h[0] for h in holds],
                         **({"source": source} if source else {})})
        return SubjectRow(id_, kind, kept, orjson.loads(consents or "[]")), entities

    def dsar(self, picks: Picks, i: int, subject: str | None = None) -> Answer:
        row, entities = self._subject(subject or picks.subject(i))
        flows: dict[str, Doc] = {}
        for record in row.records:  # as `SubjectService._report`: the reach of each record
            found, reached = self.reach([record["system"]], record["categories"])
            flows.update((f["id"], f) for f in found)
            entities.update((id_, stored) for id_, stored in reached.items() if id_ not in entities)
        entities.update((id_, Stored("flow", doc)) for id_, doc in flows.items())
        entities.update((id_, Stored("category", doc)) for id_, doc in self.categories.items())
        report = dsar.compute(row, list(flows.values()), entities, self.tree)
        return Answer(len(report.holdings) + len(report.recipients),
                      (frozenset((h.system, h.category) for h in report.holdings),
                       frozenset((r.party, r.flow) for r in report.recipients)))

    def dsar_email(self, picks: Picks, i: int) -> Answer:
        [[subject]] = self.query(SUBJECT_BY_EMAIL, hash=self.hasher.hash("email", picks.email(i)))
        return self.dsar(picks, i, subject)

    def findings(self, picks: Picks, i: int) -> Answer:
        rows = self.query(FINDINGS, as_of=picks.as_of.isoformat())
        return Answer(len(rows), Counter(rule for rule, _, _ in rows))

    def breach(self, picks: Picks, i: int) -> Answer:
        """As `registry.compliance.breach_impact` for breached systems: the categories they hold,
        the recipients downstream (our `downstream` over the peer's reach), the subjects counted."""
        exposed = set()
        for system in picks.breached:
            exposed.update(c for c, _, _, _ in self.query(HOLDINGS, holder=system))
        peer = self

        class Reach:  # what `downstream` asks of a registry: the category-filtered lineage
            def lineage(self, start, direction, depth, categories, as_of=None):
                return Lineage(edges=peer.reach([start], categories)[0])

        received = downstream(Reach(), self.tree, {s: set(exposed) for s in picks.breached},
                              picks.as_of) if exposed else {}
        recipients = frozenset(received) - set(picks.breached)
        [[count]] = self.query(COUNT_SUBJECTS, systems=list(picks.breached))
        return Answer(len(recipients), (recipients, count))

    def answers(self) -> dict[str, Callable[[Picks, int], Answer]]:
        return {"holders": self.holders, "holders-page": self.holders_page, "holdings": self.holdings,
                "lineage-depth-3": self.lineage_answer(3), "lineage": self.lineage_answer(None),
                "lineage-whole": self.whole_lineage,
                "dsar": self.dsar, "dsar-email": self.dsar_email, "findings": self.findings, "breach": self.breach}


def _holder(id_: str, system: bool, holds: list) -> Stored:
    if not system:
        return Stored("party", {"id": id_})
    return Stored("system", {"id": id_, "holds": [
        {key: value for key, value in zip(("category", "purposes", "legal_basis", "condition", "retention"), h)
         if value is not None} for h in holds]})


def _fields(kind: str) -> tuple[str, ...]:
    return {
        "category": ("id", "special", "criminal"), "parent": ("id", "parent"), "legal-basis": ("id", "kind"),
        "purpose": ("id", "insurance_function"), "system": ("id", "name", "country"),
        "holds": ("system", "category", "purposes", "legal_basis", "condition", "retention"),
        "party": ("id", "name", "kind", "country", "role"),
        "agreement": ("id", "kind", "legal_basis", "condition", "transfer_mechanism", "effective", "expires",
                      "status", "categories", "purposes", "parties"),
        "flow": ("id", "from", "to", "categories", "purpose", "legal_basis", "condition", "agreement",
                 "transfer_mechanism"),
    }[kind]


def timed(work: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    items = work()
    return time.perf_counter() - started, items
