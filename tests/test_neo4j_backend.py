"""What only the Neo4j backend has to prove: the same answers as the embedded one on graphs
nobody drew by hand, all-or-nothing writes when the server, the client or a constraint fails
half-way, values that stay values, connection errors without passwords, and a graph model
that answers the Cypher in README.md."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest
from neo4j import GraphDatabase

import graph.neo4j.store
from graph.embedded import EmbeddedStore
from graph.neo4j.connection import Connection
from graph.neo4j.model import LABELS
from graph.neo4j.store import Neo4jStore
from graph.store import MAX_DEPTH, StoreError, Stored
from registry.sources import BundleInvalid
from registry.bootstrap import open_store
from registry.service import Registry
from registry.settings import Settings
from tests.graphs import LINEAGE
from tests.neo4j_server import TestServer, credentials

ROOT = Path(__file__).resolve().parent.parent


def driver_for(uri: str):
    connection = Connection.parse(uri, **credentials())
    return GraphDatabase.driver(connection.uri, auth=connection.auth), connection.database


def cypher(uri: str, query: str, **params) -> list[dict]:
    driver, database = driver_for(uri)
    with driver:
        return [record.data() for record in driver.execute_query(query, params, database_=database).records]


def state(registry: Registry) -> tuple:
    return registry.export(), registry.audit(limit=1000), registry.store.version()


# --- the same answers as the embedded backend -----------------------------------------------

TRICKY = ["a", "b", "B", "é", "z", "\ufffd", "\U0001f600", "a'b", 'q"q', "x`y"]
"""Ids whose order differs between Python (code points) and Neo4j (UTF-16 code units)."""


def random_graph(rng: random.Random) -> list[Stored]:
    categories = []
    for i in range(rng.randint(2, 7)):
        doc = {"id": f"c{i}", "name": f"C{i}"}
        if i and rng.random() < 0.7:
            doc["parent"] = f"c{rng.randrange(i)}"
        categories.append(Stored("category", doc))
    nodes = [f"n{i}" for i in range(rng.randint(3, 12))]
    holders = []
    for node in nodes:
        holds = [{"category": rng.choice(categories).id, "purposes": ["p"]}
                 for _ in range(rng.choice([0, 0, 0, 1, 2]))]
        holders.append(Stored("system", {"id": node, "name": node, "country": "DE", "holds": holds})
                       if rng.random() < 0.7 else
                       Stored("party", {"id": node, "name": node, "kind": "other", "country": "US", "role": "controller"}))
    parties = [stored.id for stored in holders if stored.type == "party"]
    agreements = [Stored("agreement", {"id": f"a{i}", "name": "A", "kind": "dsa", "parties": parties[:1] or ["x"],
                                       "effective": "2024-01-01", "status": "active",
                                       **rng.choice([{}, {"legal_basis": "gdpr-6-1-b"},
                                                     {"condition": "gdpr-9-2-f", "transfer_mechanism": "scc"},
                                                     {"additional_bases": ["glba-6802-e-1"]}])})
                  for i in range(rng.randint(0, 3))] if parties else []
    flows = []
    for i, name in enumerate(rng.sample(TRICKY + [f"f{j:02d}" for j in range(40)], rng.randint(0, 35))):
        source, target = rng.sample(nodes, 2)
        doc = {"id": f"{name}-{i}" if rng.random() < 0.5 else name, "name": name, "from": source, "to": target,
               "purpose": "p", "categories": sorted({rng.choice(categories).id for _ in range(rng.randint(1, 2))})}
        if agreements and rng.random() < 0.5:
            doc["agreement"] = rng.choice(agreements).id
        if rng.random() < 0.3:
            doc["legal_basis"] = "gdpr-6-1-f"
        doc.update(rng.choice(WINDOWS))
        flows.append(Stored("flow", doc))
    unique = {stored.id: stored for stored in flows}
    return [Stored("purpose", {"id": "p", "name": "P"}), *categories, *holders, *agreements, *unique.values()]


WINDOWS = [{}] * 6 + [{"status": "proposed"}, {"status": "suspended"}, {"status": "ended"},
                      {"status": "ended", "until": "2026-06-30"}, {"since": "2026-07-01"}, {"until": "2026-06-30"},
                      {"status": "proposed", "until": "2026-06-30"}, {"since": "2026-01-01", "until": "2026-12-31"}]
"""Flow states and windows; the evaluation days below fall before, between and after their dates."""
DAYS = [date(2026, 3, 1), date(2026, 9, 1), date(2027, 3, 1)]


def test_answers_equal_the_embedded_backends_on_random_graphs(neo4j_store, tmp_path):
    rng = random.Random(20261125)
    previous: list[str] = []
    for round_ in range(10):
        docs = random_graph(rng)
        embedded = EmbeddedStore(tmp_path / f"{round_}.db")
        embedded.write(docs, [], actor="t")
        ids = {stored.id for stored in docs}
        neo4j_store.write(docs, [id_ for id_ in previous if id_ not in ids], actor="t")
        previous = sorted(ids)
        assert neo4j_store.types_by_id() == embedded.types_by_id()
        categories = [s.id for s in docs if s.type == "category"]
        nodes = [s.id for s in docs if s.type in ("system", "party")]
        for category in categories:
            for descendants in (True, False):
                day = rng.choice(DAYS)
                assert neo4j_store.holders(category, descendants, day) == embedded.holders(category, descendants, day), \
                    (round_, category, descendants, day)
        for node in nodes:
            day = rng.choice(DAYS)
            assert neo4j_store.holdings(node, day) == embedded.holdings(node, day), (round_, node, day)
            for direction in ("downstream", "upstream", "both"):
                for depth, filter_ in ((None, None), (1, None), (2, None), (None, [rng.choice(categories)]),
                                       (rng.choice([0, 1, 2]), [rng.choice(categories)])):
                    day, proposed = rng.choice(DAYS), rng.random() < 0.3
                    assert neo4j_store.lineage(node, direction, depth, filter_, day, proposed) == \
                        embedded.lineage(node, direction, depth, filter_, day, proposed), \
                        (round_, node, direction, depth, filter_, day, proposed)
        embedded.close()


def _small_registry(suffix: str) -> list[Stored]:
    """A category, a purpose, two systems and a flow between them; `suffix` names the receiver."""
    return [Stored("category", {"id": "c", "name": "C"}), Stored("purpose", {"id": "p", "name": "P"}),
            Stored("system", {"id": "a", "name": "A", "holds": [{"category": "c"}]}),
            Stored("system", {"id": f"b{suffix}", "name": "B"}),
            Stored("flow", {"id": "f", "from": "a", "to": f"b{suffix}", "categories": ["c"], "purpose": "p"})]


def test_answers_kept_by_one_store_follow_writes_made_through_another(neo4j_store, neo4j_uri):
    neo4j_store.write(_small_registry("1"), [], actor="t")
    assert [h.holder for h in neo4j_store.holders("c")] == ["a", "b1"]
    assert [n.id for n in neo4j_store.lineage("a", "downstream", None, None).nodes] == ["a", "b1"]
    assert neo4j_store.get_many(["f"])["f"].doc["to"] == "b1"
    other = Neo4jStore.from_uri(neo4j_uri, **credentials())  # another API server, the CLI …
    try:
        other.write(_small_registry("2"), ["b1"], actor="t")
    finally:
        other.close()
    assert [h.holder for h in neo4j_store.holders("c")] == ["a", "b2"]
    assert [h.holder for h in neo4j_store.holdings("b1")] == []
    assert [n.id for n in neo4j_store.lineage("a", "downstream", None, None).nodes] == ["a", "b2"]
    assert neo4j_store.get_many(["f", "b1"]) == {"f": Stored("flow", _small_registry("2")[-1].doc)}


def test_answers_kept_are_not_served_for_a_database_emptied_and_filled_again(neo4j_store, neo4j_uri, _neo4j_wiper):
    neo4j_store.write(_small_registry("1"), [], actor="t")
    version = neo4j_store.version()
    assert [h.holder for h in neo4j_store.holders("c")] == ["a", "b1"]
    assert set(neo4j_store.get_many(["b1", "b2"])) == {"b1"}
    _neo4j_wiper()
    neo4j_store.write(_small_registry("2"), [], actor="t")  # the same version number, another registry
    assert neo4j_store.version() != version  # the epoch differs: what callers keep per version goes
    assert [h.holder for h in neo4j_store.holders("c")] == ["a", "b2"]
    assert set(neo4j_store.get_many(["b1", "b2"])) == {"b2"}


def test_a_dsar_after_the_database_was_emptied_and_filled_again_follows_the_new_registry(neo4j_store,
                                                                                           _neo4j_wiper):
    """The subject service keeps what it derives per store version (downstream walks, flows' terms):
    a registry written again from empty reaches the same version number, and must not get the
    walks of the one before."""
    from graph.subjects import SubjectRow
    from registry.auth.roles import Principal
    from registry.subjects.service import SubjectService

    dpo, subject = Principal.of("dpo", "dpo"), SubjectRow("S-1", "policyholder", [{"system": "a"}], [], [])
    service, systems, numbers = SubjectService(Registry(neo4j_store)), [], []
    for suffix in ("1", "2"):
        _neo4j_wiper()
        neo4j_store.write(_small_registry(suffix), [], actor="t")
        for renamed in range(5):  # the meta node's version number of the first registry, again
            if numbers and neo4j_store._now()[1] >= numbers[0]:
                break
            neo4j_store.write([Stored("purpose", {"id": "p", "name": f"P{renamed}"})], [], actor="t")
        numbers.append(neo4j_store._now()[1])
        neo4j_store.write_subjects([subject], actor="t", source="t")
        systems.append(sorted({h.system for h in service.report(principal=dpo, subject="S-1",
                                                                  as_of=date(2026, 11, 25)).holdings}))
    assert numbers[0] == numbers[1] and systems == [["a", "b1"], ["a", "b2"]]


def test_chains_longer_than_the_depth_cap_are_cut_like_the_embedded_ones(neo4j_store, tmp_path):
    length = MAX_DEPTH + 3
    docs = [Stored("purpose", {"id": "p", "name": "P"}), Stored("category", {"id": "c", "name": "C"}),
            Stored("system", {"id": "n000", "name": "n", "country": "DE", "holds": [{"category": "c"}]})]
    docs += [Stored("system", {"id": f"n{i:03d}", "name": "n", "country": "DE"}) for i in range(1, length + 1)]
    docs += [Stored("flow", {"id": f"f{i:03d}", "name": "f", "from": f"n{i:03d}", "to": f"n{i + 1:03d}",
                             "categories": ["c"], "purpose": "p"}) for i in range(length)]
    embedded = EmbeddedStore(tmp_path / "chain.db")
    for store in (embedded, neo4j_store):
        store.write(docs, [], actor="t")
    assert neo4j_store.holders("c") == embedded.holders("c")
    assert neo4j_store.lineage("n000", "downstream", None, None) == embedded.lineage("n000", "downstream", None, None)
    cut = neo4j_store.lineage("n000", "downstream", None, None)
    assert (len(cut.edges), max(cut.distances.values()), cut.truncated) == (MAX_DEPTH, MAX_DEPTH, True)
    embedded.close()


# --- writes: all or nothing ---------------------------------------------------------------

def test_a_write_failing_on_the_server_half_way_leaves_the_previous_state(neo4j_store, neo4j_uri):
    registry = Registry(neo4j_store)
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    before = state(registry)
    # A party node outside the registry's control makes the last batch break a uniqueness constraint.
    cypher(neo4j_uri, "CREATE (:Party {id: 'rogue'})")
    upserts = [Stored("category", {"id": f"bulk-{i:05d}", "name": "Bulk"}) for i in range(5000)]
    upserts.append(Stored("system", {**registry.entity("dwh").doc, "name": "Renamed"}))
    upserts.append(Stored("party", {"id": "rogue", "name": "Rogue", "kind": "other", "country": "DE", "role": "processor"}))
    with pytest.raises(StoreError, match="rogue"):
        neo4j_store.write(upserts, ["f1"], actor="mallory")
    assert state(registry) == before
    assert cypher(neo4j_uri, "MATCH (n:Entity) WHERE n.id STARTS WITH 'bulk-' RETURN count(n) AS n") == [{"n": 0}]


def large_bundle(flows: int) -> str:
    data = {"systems": [{"id": f"s{i}", "name": f"S{i}", "country": "DE"} for i in range(100)],
            "flows": [{"id": f"bulk-{i:06d}", "name": "Bulk", "from": f"s{i % 100}", "to": f"s{(i * 7 + 1) % 100}",
                       "categories": ["contact"], "purpose": "analytics"} for i in range(flows)]}
    return json.dumps(data)


@pytest.mark.slow
def test_a_server_killed_during_a_large_write_restarts_with_the_previous_state(tmp_path, monkeypatch):
    data = tmp_path / "neo4j"
    server = TestServer("--data", str(data))
    try:
        store = Neo4jStore.from_uri(server.uri, max_transaction_retry_time=0)
        registry = Registry(store)
        registry.load([("lineage.yaml", LINEAGE)], actor="alice")
        before = state(registry)
        real_batches, sent = graph.neo4j.store._batches, []

        def batches(rows):
            for batch in real_batches(rows):
                sent.append(len(batch))
                if len(sent) == 16:  # past reading the current documents, well into the new nodes
                    server.kill()
                yield batch

        monkeypatch.setattr(graph.neo4j.store, "_batches", batches)
        with pytest.raises(StoreError, match="Neo4j at bolt://127.0.0.1"):
            registry.load([("large.json", large_bundle(20_000))], actor="bob")
        assert len(sent) == 16
        monkeypatch.undo()
        store.close()
    finally:
        server.stop()
    server = TestServer("--data", str(data))
    try:
        store = Neo4jStore.from_uri(server.uri)
        assert state(Registry(store)) == before
        assert cypher(server.uri, "MATCH (n) WHERE n.id STARTS WITH 'bulk-' OR n.id =~ 's[0-9]+' "
                                  "RETURN count(n) AS n") == [{"n": 0}]
        store.close()
    finally:
        server.stop()


@pytest.mark.slow
def test_a_client_killed_during_a_large_write_leaves_the_previous_state(neo4j_store, neo4j_uri, tmp_path):
    registry = Registry(neo4j_store)
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    before = state(registry)
    (tmp_path / "large.json").write_text(large_bundle(20_000))
    script = textwrap.dedent(f"""
        import os, signal, sys
        import graph.neo4j.store as module
        from graph.neo4j.store import Neo4jStore
        from registry.service import Registry
        real, sent = module._batches, []
        def batches(rows):
            for batch in real(rows):
                sent.append(batch)
                if len(sent) == 16:
                    os.kill(os.getpid(), signal.SIGKILL)  # the client dies mid-transaction
                yield batch
        module._batches = batches
        registry = Registry(Neo4jStore.from_uri({neo4j_uri!r}, **{credentials()!r}))
        registry.load([("large.json", open(sys.argv[1]).read())], actor="bob")
    """)
    child = subprocess.run([sys.executable, "-c", script, str(tmp_path / "large.json")], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == -9, child.stderr
    assert state(registry) == before
    registry.load([("update.yaml", LINEAGE.replace("name: Data warehouse", "name: DWH"))], actor="carol")
    assert registry.entity("dwh").doc["name"] == "DWH"  # no lock was left behind


# --- values stay values ---------------------------------------------------------------------

NASTY = ["it's", 'say "hi"', "back`tick", "new\nline", "ünï©ødé ✓ 😀", "}) DETACH DELETE n //",
         "x' OR 1=1 //", "$param", "{id: 'x'}", "\\u0027"]


def ident(text: str) -> str:
    """`text` as an id may hold it: a character that is not printable escaped (a line break as a
    backslash and an n)."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def test_ids_and_names_with_quotes_backticks_newlines_and_cypher_round_trip(registry):
    """Names keep every character; ids are printable (a line break in an id is refused), so an id
    carries the escaped form: a backslash, which Cypher must keep as it is too."""
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    counts = {type_: len(registry.list(type_)) for type_ in LABELS}
    bundle = {
        "categories": [{"id": f"cat {ident(s)}", "name": s, "parent": "health"} for s in NASTY],
        "systems": [{"id": f"sys {ident(s)}", "name": s, "country": "DE", "owner": s,
                     "holds": [{"category": f"cat {ident(s)}", "purposes": ["analytics"]}]} for s in NASTY],
        "flows": [{"id": f"flow {ident(s)}", "name": s, "from": f"sys {ident(s)}", "to": "re", "categories": [f"cat {ident(s)}"],
                   "purpose": "reinsurance", "frequency": s} for s in NASTY],
    }
    registry.load_data(bundle, source="nasty", actor=NASTY[5])
    for type_, section in (("category", "categories"), ("system", "systems"), ("flow", "flows")):
        assert len(registry.list(type_)) == counts[type_] + len(NASTY)
        for doc in bundle[section]:
            assert doc.items() <= registry.entity(doc["id"]).doc.items()
    assert registry.audit(entity="flow " + ident(NASTY[5]))[0].actor == NASTY[5]
    for s in NASTY:
        found = {(v.holding.holder, v.holding.category, v.holding.flow) for v in registry.holders(f"cat {ident(s)}")}
        assert {("re", f"cat {ident(s)}", f"flow {ident(s)}"), (f"sys {ident(s)}", f"cat {ident(s)}", None)} <= found
        assert ("re", "health", "f3") in found  # and the ancestor's holders
        assert [(h.holding.flow, h.holding.path) for h in registry.holdings(f"sys {ident(s)}")] == [(None, ())]
        lineage = registry.lineage(f"sys {ident(s)}", categories=[f"cat {ident(s)}"])
        assert ([n.id for n in lineage.nodes], [e["id"] for e in lineage.edges]) == (["re", f"sys {ident(s)}"], [f"flow {ident(s)}"])
    assert {type_: len(registry.list(type_)) for type_ in LABELS} == {
        type_: counts[type_] + (len(NASTY) if type_ in ("category", "system", "flow") else 0) for type_ in LABELS}


def test_an_id_with_a_line_break_is_refused_and_changes_nothing(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    before = registry.export()
    with pytest.raises(BundleInvalid, match="must be printable"):
        registry.load_data({"categories": [{"id": "cat new\nline", "name": "x"}]}, source="nasty", actor="alice")
    assert registry.export() == before


# --- the graph as the docs describe it ------------------------------------------------------

def documented_queries() -> list[str]:
    return re.findall(r"```cypher\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_the_documented_cypher_answers_on_the_graph(neo4j_store, neo4j_uri):
    Registry(neo4j_store).load([("lineage.yaml", LINEAGE)], actor="alice")
    health, third_country = documented_queries()
    rows = cypher(neo4j_uri, health)
    assert [(r["holder"], r["category"], r["flow"]) for r in rows] == [
        ("Actuarial models", "Oncology diagnoses", "f4"),
        ("Claims", "Health data", None),
        ("Data warehouse", "Diagnoses", "f1"),
        ("Data warehouse", "Diagnoses", "f5"),
        ("Reinsurer", "Diagnoses", "f2"),
        ("Reinsurer", "Health data", "f3"),
    ]
    rows = cypher(neo4j_uri, third_country)
    assert [(r["flow"], r["to"], r["country"], r["agreement"], r["mechanism"]) for r in rows] == [
        ("f2", "Reinsurer", "US", "Treaty", "scc"), ("f3", "Reinsurer", "US", "Treaty", "scc")]


def test_every_flow_reaches_its_ends_categories_purpose_basis_and_agreement(neo4j_store, neo4j_uri):
    Registry(neo4j_store).load([("lineage.yaml", LINEAGE)], actor="alice")
    [row] = cypher(neo4j_uri, """
        MATCH (s:System {id: 'dwh'})-[:SENDS]->(f:Flow {id: 'f2'})-[:TO]->(p:Party),
              (f)-[:CARRIES]->(c:DataCategory), (f)-[:FOR]->(u:Purpose), (f)-[:UNDER]->(a:Agreement),
              (f)-[:LEGAL_BASIS]->(b:LegalBasis), (f)-[:CONDITION]->(k:LegalBasis),
              (c)-[:PARENT]->(:DataCategory {id: 'health'}), (a)-[:PARTY]->(p), (a)-[:COVERS]->(:DataCategory)
        RETURN p.id AS party, c.id AS category, u.id AS purpose, a.id AS agreement, b.id AS basis, k.id AS condition""")
    assert row == {"party": "re", "category": "health.diagnosis", "purpose": "reinsurance", "agreement": "treaty",
                   "basis": "gdpr-6-1-b", "condition": "gdpr-9-2-f"}
    [held] = cypher(neo4j_uri, "MATCH (:System {id: 'claims'})-[h:HOLDS]->(c:DataCategory) "
                               "RETURN c.id AS category, h {.*} AS holds")
    assert held == {"category": "health", "holds": {"purposes": ["claims-handling"], "legal_basis": "gdpr-6-1-b",
                                                     "condition": "gdpr-9-2-f", "retention": "P10Y"}}


NEW_ENTITIES = """
subject_categories: [{id: claimant, name: Claimants}]
categories: [{id: health, name: Health, special: true, health: true}]
purposes: [{id: claims, name: Claims}, {id: claims.review, name: Review, parent: claims}]
systems:
  - {id: a, name: A, country: DE, jurisdictions: [gdpr], dpia: DPIA-1,
     holds: [{category: health, purposes: [claims], additional_bases: [naic-672-authorisation],
              subject_categories: [claimant]}]}
  - {id: b, name: B, country: US}
agreements: [{id: ag, name: AG, kind: dsa, parties: [p], effective: 2025-01-01, additional_bases: [glba-6802-e-1]}]
parties: [{id: p, name: P, kind: other, country: US, role: controller}]
flows:
  - {id: f, name: F, from: a, to: b, categories: [health], purpose: claims.review, status: proposed,
     since: 2027-01-01, subject_categories: [claimant], additional_bases: [naic-672-authorisation]}
  - {id: g, name: G, from: a, to: p, categories: [health], purpose: claims, agreement: ag}
"""


def test_subject_categories_purpose_parents_and_additional_bases_are_in_the_graph(neo4j_store, neo4j_uri):
    Registry(neo4j_store).load([("new.yaml", NEW_ENTITIES)], actor="alice")
    [row] = cypher(neo4j_uri, """
        MATCH (f:Flow {id: 'f'})-[:CONCERNS]->(s:DataSubjectCategory), (f)-[:ADDITIONAL_BASIS]->(b:LegalBasis),
              (f)-[:FOR]->(:Purpose)-[:PARENT]->(p:Purpose), (:Agreement {id: 'ag'})-[:ADDITIONAL_BASIS]->(x:LegalBasis),
              (:System {id: 'a'})-[h:HOLDS]->(:DataCategory {id: 'health'})
        RETURN s.id AS subjects, b.id AS basis, p.id AS parent, x.id AS agreed, f.status AS status, f.since AS since,
               f.conditional AS conditional, h.subject_categories AS held_by, h.additional_bases AS held_on""")
    assert row == {"subjects": "claimant", "basis": "naic-672-authorisation", "parent": "claims",
                   "agreed": "glba-6802-e-1", "status": "proposed", "since": "2027-01-01", "conditional": True,
                   "held_by": ["claimant"], "held_on": ["naic-672-authorisation"]}
    assert cypher(neo4j_uri, "MATCH (f:Flow) WHERE f.conditional RETURN collect(f.id) AS ids") == [{"ids": ["f"]}]
    assert "flow_conditional" in {r["name"] for r in cypher(neo4j_uri, "SHOW INDEXES YIELD name")}


def test_constraints_and_indexes_exist_in_neo4j_5_syntax(neo4j_store, neo4j_uri):
    constraints = {r["name"]: r for r in cypher(neo4j_uri, "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties")}
    for label in ["Entity", *LABELS.values()]:
        assert any(c["labelsOrTypes"] == [label] and c["properties"] == ["id"] and c["type"] == "UNIQUENESS"
                   for c in constraints.values()), label
    assert "audit_entry_entity" in {r["name"] for r in cypher(neo4j_uri, "SHOW INDEXES YIELD name")}


def test_a_change_of_type_relabels_the_node_and_keeps_the_flows_that_name_it(neo4j_store, neo4j_uri):
    registry = Registry(neo4j_store)
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    as_party = LINEAGE.replace("  - {id: dwh, name: Data warehouse, country: DE}\n", "").replace(
        "parties:\n", "parties:\n  - {id: dwh, name: Data warehouse, kind: affiliate, country: DE, role: controller}\n")
    registry.load([("lineage.yaml", as_party)], actor="alice", replace=True)
    assert registry.entity("dwh").type == "party"
    [row] = cypher(neo4j_uri, "MATCH (n {id: 'dwh'}) RETURN labels(n) AS labels")
    assert sorted(row["labels"]) == ["Entity", "Party"]
    assert [v.holding.flow for v in registry.holdings("dwh")] == ["f6", "f1", "f5"]


def test_writes_in_any_order_give_the_graph_of_the_documents(neo4j_store, neo4j_uri):
    flow = Stored("flow", {"id": "f", "name": "F", "from": "a", "to": "b", "categories": ["c"], "purpose": "p"})
    neo4j_store.write([flow], [], actor="t")  # before everything it names
    neo4j_store.write([Stored("category", {"id": "c", "name": "C"}), Stored("purpose", {"id": "p", "name": "P"}),
                       Stored("system", {"id": "a", "name": "A", "country": "DE", "holds": [{"category": "c"}]}),
                       Stored("party", {"id": "b", "name": "B", "kind": "other", "country": "US", "role": "processor"})],
                      [], actor="t")
    assert [(h.holder, h.flow, h.path) for h in neo4j_store.holders("c")] == [("a", None, ()), ("b", "f", ("f",))]
    assert neo4j_store.types_by_id() == {"f": "flow", "c": "category", "p": "purpose", "a": "system", "b": "party"}
    neo4j_store.write([], ["a", "b", "c", "p"], actor="t")  # still named by f: placeholders, not entities
    assert neo4j_store.get_many(["a", "b", "c", "p", "f"]).keys() == {"f"}
    neo4j_store.write([], ["f"], actor="t")
    assert cypher(neo4j_uri, "MATCH (n) WHERE NOT n:AuditEntry AND NOT n:RegistryMeta RETURN count(n) AS n") == [{"n": 0}]


# --- connections ------------------------------------------------------------------------------

def test_an_unreachable_server_is_a_store_error_without_the_password():
    with pytest.raises(StoreError) as caught:
        Neo4jStore.from_uri("bolt://alice:secret@127.0.0.1:1")
    assert "cannot reach Neo4j at bolt://alice@127.0.0.1:1" in str(caught.value)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("uri, message", [
    ("bolt://127.0.0.1:7687?database=x&policy=y", "invalid Neo4j URI bolt://127.0.0.1:7687?database=x&policy=y"),
    ("http://alice:secret@db:7474", "invalid Neo4j URI http://alice@db:7474"),
    ("neo4j://alice:secret@db:port", "invalid Neo4j URI neo4j://alice@db:port"),
])
def test_bad_uris_are_store_errors_without_the_password(uri, message):
    with pytest.raises(StoreError) as caught:
        Neo4jStore.from_uri(uri)
    assert message in str(caught.value) and "secret" not in str(caught.value)


def test_the_cli_reports_an_unreachable_store_in_one_line_without_the_password():
    for args, env in ((["--store", "bolt://user:secret@127.0.0.1:1"], {}),
                      ([], {"DSA_REGISTRY_STORE": "neo4j://user:secret@127.0.0.1:1"})):
        result = subprocess.run([sys.executable, "-m", "registry.cli", *args, "export"], cwd=ROOT, timeout=120,
                                capture_output=True, text=True, env={**_environ(), **env})
        output = result.stdout + result.stderr
        assert result.returncode != 0, output
        assert "Traceback" not in output and "secret" not in output
        assert "cannot reach Neo4j at" in output and "user@127.0.0.1:1" in output


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "DSA_REGISTRY_"))}


@pytest.fixture(scope="module")
def server_with_password():
    server = TestServer("--password", "right horse battery")
    yield server
    server.stop()


def test_wrong_credentials_are_a_store_error_naming_the_user_not_the_password(server_with_password, monkeypatch):
    uri = server_with_password.uri.replace("bolt://", "bolt://neo4j:wrong-staple@")
    with pytest.raises(StoreError) as caught:
        Neo4jStore.from_uri(uri)
    assert str(caught.value) == (f"Neo4j at {server_with_password.uri.replace('bolt://', 'bolt://neo4j@')} "
                                 "refused the credentials for user 'neo4j'")
    monkeypatch.setenv("NEO4J_USER", "neo4j")
    monkeypatch.setenv("NEO4J_PASSWORD", "wrong-staple")
    with pytest.raises(StoreError, match="refused the credentials for user 'neo4j'"):
        open_store(Settings.load(store=server_with_password.uri))


def test_credentials_from_the_uri_or_the_environment_and_the_database_from_the_uri(server_with_password, monkeypatch):
    monkeypatch.delenv("NEO4J_DATABASE", raising=False)
    encoded = server_with_password.uri.replace("bolt://", "bolt://neo4j:right%20horse%20battery@")
    store = Neo4jStore.from_uri(encoded + "?database=neo4j")
    assert store.version() >= 0
    assert "battery" not in repr(store) and repr(store).startswith("Neo4jStore('bolt://neo4j@")
    store.close()
    monkeypatch.setenv("NEO4J_USER", "neo4j")
    monkeypatch.setenv("NEO4J_PASSWORD", "right horse battery")
    store = open_store(Settings.load(store=server_with_password.uri))
    assert Registry(store).list("legal-basis")
    store.close()
    with pytest.raises(StoreError, match="nosuch") as caught:
        Neo4jStore.from_uri(server_with_password.uri + "?database=nosuch")
    assert "battery" not in str(caught.value)
