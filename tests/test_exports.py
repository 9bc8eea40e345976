"""Lineage exports, read back with the real readers: networkx for GraphML, Graphviz `dot` for DOT,
and JSON for Cytoscape (Mermaid is rendered in a browser: `test_mermaid.py`); on every backend."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import date
from xml.etree import ElementTree

import networkx as nx
import pytest
from click.testing import CliRunner

from registry.cli import DEMO, main
from registry.compliance.transfers import Countries
from registry.errors import InvalidArgument, NotFound
from registry.exports import FORMATS, export
from tests.graphs import LINEAGE

COUNTRIES = Countries.load()
DAY = date(2026, 11, 25)
"""The evaluation day of these tests (the demo's ended flow has ended, its pilot is proposed)."""

ODD_IDS = ['claims "core" [EU]', "Zürich Rück (CH) — Δ", "urn:x:dwh <main>", "a#b & c|e%% {x}", "end\\"]
"""Ids with quotes, spaces, unicode, brackets, colons, markup and a backslash: every one must survive."""

ODD = f"""
categories:
  - {{id: "health [Art. 9]", name: "Health \\"data\\"", special: true}}
  - {{id: contact, name: Contact}}
purposes:
  - {{id: "claims: handling", name: Claims <handling>}}
systems:
  - {{id: {json.dumps(ODD_IDS[0])}, name: "Claims \\"core\\" [EU]", country: DE,
     holds: [{{category: "health [Art. 9]", purposes: ["claims: handling"], legal_basis: gdpr-6-1-b,
              condition: gdpr-9-2-f}}]}}
  - {{id: {json.dumps(ODD_IDS[2])}, name: "DWH <main>", country: DE}}
parties:
  - {{id: {json.dumps(ODD_IDS[1])}, name: "Zürich Rück", kind: reinsurer, country: CH, role: controller}}
  - {{id: {json.dumps(ODD_IDS[3])}, name: "a#b&c;d", kind: processor, country: US, role: processor}}
  - {{id: {json.dumps(ODD_IDS[4])}, name: "end\\\\", kind: other, country: DE, role: controller}}
flows:
  - {{id: 'f "1"', name: "to re [1]", from: {json.dumps(ODD_IDS[0])}, to: {json.dumps(ODD_IDS[1])},
     categories: ["health [Art. 9]"], purpose: "claims: handling", legal_basis: gdpr-6-1-b, condition: gdpr-9-2-f}}
  - {{id: "f:2 <b>", name: "to dwh", from: {json.dumps(ODD_IDS[0])}, to: {json.dumps(ODD_IDS[2])},
     categories: [contact], purpose: "claims: handling"}}
  - {{id: "f|3 ü &x;", name: "to processor", from: {json.dumps(ODD_IDS[2])}, to: {json.dumps(ODD_IDS[3])},
     categories: [contact, "health [Art. 9]"], purpose: "claims: handling", legal_basis: gdpr-6-1-f}}
  - {{id: "f4\\\\", name: "to the end", from: {json.dumps(ODD_IDS[3])}, to: {json.dumps(ODD_IDS[4])},
     categories: [contact], purpose: "claims: handling", legal_basis: gdpr-6-1-f}}
"""


@pytest.fixture
def demo(registry):
    registry.load([("demo", DEMO.read_text())], actor="test")
    return registry


@pytest.fixture
def odd(registry):
    registry.load([("odd.yaml", ODD)], actor="test")
    return registry


def read_graphml(text: str) -> nx.MultiDiGraph:
    return nx.read_graphml(io.BytesIO(text.encode()), force_multigraph=True)


def dot_json(text: str) -> dict:
    """What Graphviz itself reads from DOT text (`dot -Tjson`: attributes as written), after
    checking that it draws SVG without a warning; `svg_edges` has the flow ids as drawn."""
    svg = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, check=True)
    assert not svg.stderr, svg.stderr
    drawn = json.loads(subprocess.run(["dot", "-Tjson"], input=text, capture_output=True, text=True, check=True).stdout)
    tree = ElementTree.fromstring(svg.stdout)
    drawn["svg_edges"] = {g.get("id") for g in tree.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "edge"}
    return drawn


def test_graphml_reads_back_as_the_lineage_graph_with_its_attributes(demo):
    lineage = demo.lineage("claims", "both", 2, None)
    graph = read_graphml(export(demo, "graphml", COUNTRIES, start="claims", direction="both", depth=2))
    assert sorted(graph.nodes) == [n.id for n in lineage.nodes]
    assert sorted(key for _, _, key in graph.edges(keys=True)) == [e["id"] for e in lineage.edges]
    for node in lineage.nodes:
        data = graph.nodes[node.id]
        assert (data["name"], data["country"], data["entity"]) == (node.doc["name"], node.doc["country"], node.type)
        assert data["kind"] == (node.doc["kind"] if node.type == "party" else "system")
        assert data["third_country"] == (node.doc["country"] not in COUNTRIES.eea.countries)
        declared = list(dict.fromkeys(h["category"] for h in node.doc.get("holds", ())))
        assert json.loads(data.get("categories", "[]")) == declared
    assert graph.nodes["claims"]["start"] is True and graph.graph["start"] == "claims"
    for flow in lineage.edges:
        source, target, data = next((u, v, d) for u, v, k, d in graph.edges(keys=True, data=True) if k == flow["id"])
        assert (source, target, json.loads(data["categories"]), data["purpose"]) == (
            flow["from"], flow["to"], flow["categories"], flow["purpose"])
        assert (data.get("legal_basis"), data.get("condition"), data.get("agreement")) == (
            flow.get("legal_basis"), flow.get("condition"), flow.get("agreement"))
    assert graph.nodes["coral-re"]["third_country"] is True
    to_coral = next(d for _, _, k, d in graph.edges(keys=True, data=True) if k == "claims-to-coral")
    assert (to_coral["special"], to_coral["agreement_expires"], to_coral["transfer_mechanism"]) == (
        True, "2027-12-31", "scc")


def test_without_a_start_the_whole_registry_is_exported(demo):
    graph = read_graphml(export(demo, "graphml", COUNTRIES, as_of=DAY))
    assert set(graph.nodes) == {d["id"] for t in ("system", "party") for d in demo.list(t)}
    in_force = [f["id"] for f in demo.list("flow") if f.get("status", "active") == "active"]
    assert sorted(k for _, _, k in graph.edges(keys=True)) == in_force
    assert "start" not in graph.graph and graph.graph["as_of"] == DAY.isoformat()


def test_planned_flows_are_drawn_only_when_asked_for_and_dashed(demo):
    [pilot] = [f["id"] for f in demo.list("flow") if f.get("status") == "proposed"]
    [ended] = [f["id"] for f in demo.list("flow") if f.get("status") == "ended"]
    assert pilot not in {key for _, _, key in read_graphml(export(demo, "graphml", COUNTRIES, as_of=DAY)).edges(keys=True)}
    graph = read_graphml(export(demo, "graphml", COUNTRIES, as_of=DAY, include_proposed=True))
    statuses = {key: data.get("status") for _, _, key, data in graph.edges(keys=True, data=True)}
    assert statuses[pilot] == "proposed" and ended not in statuses
    assert {key for key, status in statuses.items() if status} == {pilot}
    dot = export(demo, "dot", COUNTRIES, as_of=DAY, include_proposed=True)
    assert [line for line in dot.splitlines() if 'style="dashed"' in line or "style=dashed" in line] == \
        [line for line in dot.splitlines() if f'id="{pilot}"' in line]
    assert export(demo, "mermaid", COUNTRIES, as_of=DAY, include_proposed=True).count("-.->") == 1


def test_whole_registry_category_filter_keeps_flows_of_overlapping_categories(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="test")
    graph = read_graphml(export(registry, "graphml", COUNTRIES, categories=["health.diagnosis"]))
    # f1, f2 carry diagnoses, f3 health (broader), f4 oncology (narrower), f5 diagnoses; b1, f6 only contact
    assert sorted(k for _, _, k in graph.edges(keys=True)) == ["f1", "f2", "f3", "f4", "f5"]
    assert sorted(graph.nodes) == ["actuarial", "claims", "dwh", "re"]  # crm and broker hold no health data


def test_dot_renders_with_graphviz_and_keeps_names_ids_and_attributes(demo):
    text = export(demo, "dot", COUNTRIES, start="claims", depth=1)
    drawn = dot_json(text)
    lineage = demo.lineage("claims", "downstream", 1, None)
    assert sorted(o["name"] for o in drawn["objects"]) == [n.id for n in lineage.nodes]
    assert sorted(e["id"] for e in drawn["edges"]) == sorted(drawn["svg_edges"]) == [e["id"] for e in lineage.edges]
    coral = next(o for o in drawn["objects"] if o["name"] == "coral-re")
    assert (coral["kind"], coral["country"], coral["third_country"], coral["shape"], coral["peripheries"]) == (
        "reinsurer", "BM", "true", "hexagon", "2")
    edge = next(e for e in drawn["edges"] if e["id"] == "claims-to-coral")
    [flow] = [f for f in demo.list("flow") if f["id"] == "claims-to-coral"]
    assert (edge["purpose"], edge["legal_basis"], edge["agreement"], json.loads(edge["categories"])) == (
        "reinsurance", "gdpr-6-1-f", "treaty-coral-xl-2025", flow["categories"])
    assert edge["label"] == "reinsurance · gdpr-6-1-f + gdpr-9-2-f" and edge["color"] == "#7c3aed"


def test_odd_ids_survive_graphml_dot_and_cytoscape_json(odd):
    graph = read_graphml(export(odd, "graphml", COUNTRIES))
    assert sorted(graph.nodes) == sorted(ODD_IDS)
    assert sorted(k for _, _, k in graph.edges(keys=True)) == sorted(['f "1"', "f:2 <b>", "f|3 ü &x;", "f4\\"])
    assert json.loads(graph.edges[ODD_IDS[0], ODD_IDS[1], 'f "1"']["categories"]) == ["health [Art. 9]"]

    drawn = dot_json(export(odd, "dot", COUNTRIES))
    names = {o["name"] for o in drawn["objects"]}
    # DOT cannot write an odd run of backslashes at the end of a quoted id: it gets one more
    assert names == set(ODD_IDS[:4]) | {"end\\\\"}
    assert drawn["svg_edges"] == {'f "1"', "f:2 <b>", "f|3 ü &x;", "f4\\"}  # the edges' ids (escString) are exact
    titles = {o["name"]: o["title"] for o in drawn["objects"]}
    assert titles[ODD_IDS[0]] == 'Claims "core" [EU]' and titles["end\\\\"] == "end\\\\"  # the same limitation

    document = json.loads(export(odd, "cytoscape-json", COUNTRIES))
    assert sorted(n["data"]["id"] for n in document["elements"]["nodes"]) == sorted(ODD_IDS)
    assert {(e["data"]["source"], e["data"]["target"]) for e in document["elements"]["edges"]} == {
        (ODD_IDS[0], ODD_IDS[1]), (ODD_IDS[0], ODD_IDS[2]), (ODD_IDS[2], ODD_IDS[3]), (ODD_IDS[3], ODD_IDS[4])}


def test_cytoscape_json_is_what_the_page_draws(demo):
    document = json.loads(export(demo, "cytoscape-json", COUNTRIES, start="claims", direction="upstream", as_of=DAY))
    lineage = demo.lineage("claims", "upstream", None, None, as_of=DAY)
    assert [n["data"]["id"] for n in document["elements"]["nodes"]] == [n.id for n in lineage.nodes]
    assert sorted(e["data"]["id"] for e in document["elements"]["edges"]) == [e["id"] for e in lineage.edges]
    claims = next(n["data"] for n in document["elements"]["nodes"] if n["data"]["id"] == "claims")
    assert (claims["start"], claims["shape"], claims["caption"]) == (True, "round-rectangle", "system · DE")
    assert document["data"] == {"start": "claims", "direction": "upstream", "as_of": DAY.isoformat(),
                                "truncated": False}


def test_mermaid_marks_special_flows_third_countries_and_the_start(demo):
    text = export(demo, "mermaid", COUNTRIES, start="claims", depth=1)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    edges = [line for line in lines if "-->" in line]
    flows = demo.lineage("claims", "downstream", 1, None).edges
    assert len(edges) == len(flows)
    [link_style] = [line for line in lines if line.strip().startswith("linkStyle")]
    special = {int(i) for i in link_style.split()[1].split(",")}
    assert {flows[i]["id"] for i in special} >= {"claims-to-coral"}
    assert any(line.strip().startswith("class ") and line.strip().endswith(" start") for line in lines)


def test_bad_filters_are_refused_with_a_clear_error(demo):
    with pytest.raises(InvalidArgument, match="^direction: only with a start node"):
        export(demo, "dot", COUNTRIES, direction="upstream")
    with pytest.raises(InvalidArgument, match="^depth: only with a start node"):
        export(demo, "dot", COUNTRIES, depth=2)
    with pytest.raises(InvalidArgument, match="^format: unknown format 'svg'"):
        export(demo, "svg", COUNTRIES)
    with pytest.raises(NotFound, match="^categories\\[0\\]: unknown category 'nope'"):
        export(demo, "dot", COUNTRIES, categories=["nope"])
    with pytest.raises(NotFound, match="^from: unknown system or party 'nope'"):
        export(demo, "dot", COUNTRIES, start="nope")


def test_cli_export_writes_every_format_and_refuses_bad_options(tmp_path):
    store = str(tmp_path / "registry.db")
    runner = CliRunner()
    assert runner.invoke(main, ["--store", store, "demo"]).exit_code == 0
    for format_ in FORMATS:
        result = runner.invoke(main, ["--store", store, "export", "--format", format_, "--from", "claims",
                                      "--direction", "both", "--depth", "2", "--categories", "health,contact"])
        assert result.exit_code == 0, result.output
    graph = read_graphml(runner.invoke(main, ["--store", store, "export", "--format", "graphml", "--from", "claims",
                                              "--categories", "health", "--categories", "contact"]).output)
    assert "claims" in graph and graph.graph["categories"] == "[\"health\", \"contact\"]"
    for args, message in [
        (["--format", "yaml", "--from", "claims"], "--from applies only to the lineage formats"),
        (["--format", "dot", "--depth", "2"], "--depth needs --from"),
        (["--format", "dot", "--from", "nope"], "error: from: unknown system or party 'nope'"),
        (["--format", "mermaid", "--categories", "nope"], "error: categories[0]: unknown category 'nope'"),
    ]:
        result = runner.invoke(main, ["--store", store, "export", *args])
        assert result.exit_code == 2 and message in result.output, result.output
        assert "Traceback" not in result.output


def test_graphql_lineage_export_is_the_cli_export(demo):
    from tests.test_api import run

    result = run(demo, """query ($f: LineageFormat!) { lineageExport(format: $f, from: "claims", direction: BOTH,
        depth: 1, categories: ["health"]) }""", f="DOT")
    assert result.errors is None
    assert result.data["lineageExport"] == export(demo, "dot", COUNTRIES, start="claims", direction="both", depth=1,
                                                  categories=["health"])
    bad = run(demo, "{ lineageExport(format: MERMAID, depth: 1) }")
    assert bad.errors[0].extensions["code"] == "BAD_INPUT" and bad.errors[0].message.startswith("depth: only with")
    missing = run(demo, '{ lineageExport(format: GRAPHML, from: "nope") }')
    assert missing.errors[0].extensions["code"] == "NOT_FOUND"
