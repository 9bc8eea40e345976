"""The GraphQL API: queries through the schema on every backend, and what crosses the wire over HTTP."""

import asyncio
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from registry.api.app import create_app
from registry.auth.roles import Principal
from registry.api.context import Context
from registry.api.schema import schema
from tests.graphs import LINEAGE

ROOT = Path(__file__).resolve().parent.parent


def run(registry, query, **variables):
    context = Context(registry=registry, principal=Principal.of("tester", "admin"))
    return asyncio.run(schema.execute(query, variable_values=variables or None, context_value=context))


@pytest.fixture
def loaded(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="test")
    return registry


HOLDERS = """
query ($category: ID!) {
  holders(category: $category) { totalCount nodes {
    holder { __typename ... on System { id name owner } ... on Party { id name role country } }
    category { id name special }
    declared
    flow { id from { id } to { id } }
    purposes { id }
    legalBasis { id reference }
    condition { id }
    agreement { id kind expires }
    retention
    path
  } }
}
"""


def test_holders_answer_who_holds_health_data_and_why(loaded):
    result = run(loaded, HOLDERS, category="health")
    assert result.errors is None
    by_flow = {h["flow"]["id"] if h["flow"] else None: h for h in result.data["holders"]["nodes"]}
    assert set(by_flow) == {None, "f1", "f2", "f3", "f4", "f5"} and result.data["holders"]["totalCount"] == 6
    assert by_flow["f2"] == {
        "holder": {"__typename": "Party", "id": "re", "name": "Reinsurer", "role": "CONTROLLER", "country": "US"},
        "category": {"id": "health.diagnosis", "name": "Diagnoses", "special": False},
        "declared": False,
        "flow": {"id": "f2", "from": {"id": "dwh"}, "to": {"id": "re"}},
        "purposes": [{"id": "reinsurance"}],
        "legalBasis": {"id": "gdpr-6-1-b", "reference": by_flow["f2"]["legalBasis"]["reference"]},
        "condition": {"id": "gdpr-9-2-f"},
        "agreement": {"id": "treaty", "kind": "REINSURANCE_TREATY", "expires": "2027-12-31"},
        "retention": None,
        "path": ["f1", "f2"],
    }
    assert by_flow["f2"]["legalBasis"]["reference"].startswith("GDPR Art. 6(1)(b)")
    assert by_flow[None]["holder"] == {"__typename": "System", "id": "claims", "name": "Claims",
                                       "owner": by_flow[None]["holder"]["owner"]}
    assert by_flow[None]["retention"] == "P10Y"


def test_lineage_is_a_flat_graph_for_visualisations(loaded):
    result = run(loaded, """{ lineage(from: "crm", categories: ["contact"]) {
        nodes { id kind name } edges { id from to categories purpose legalBasis agreement } } }""")
    assert result.errors is None
    assert result.data["lineage"] == {
        "nodes": [{"id": "actuarial", "kind": "SYSTEM", "name": "Actuarial models"},
                  {"id": "crm", "kind": "SYSTEM", "name": "CRM"},
                  {"id": "dwh", "kind": "SYSTEM", "name": "Data warehouse"}],
        "edges": [{"id": "f4", "from": "dwh", "to": "actuarial", "categories": ["health.diagnosis.oncology", "contact"],
                   "purpose": "analytics", "legalBasis": None, "agreement": None},
                  {"id": "f6", "from": "crm", "to": "dwh", "categories": ["contact"], "purpose": "analytics",
                   "legalBasis": None, "agreement": None}],
    }


def test_lineage_without_from_is_the_whole_registry_as_one_flat_graph(loaded):
    result = run(loaded, """{ lineage { nodes { id kind distance } edges { id from to } truncated } }""")
    assert result.errors is None
    graph = result.data["lineage"]
    assert graph["nodes"] == [{"id": "actuarial", "kind": "SYSTEM", "distance": None},
                              {"id": "broker", "kind": "PARTY", "distance": None},
                              {"id": "claims", "kind": "SYSTEM", "distance": None},
                              {"id": "crm", "kind": "SYSTEM", "distance": None},
                              {"id": "dwh", "kind": "SYSTEM", "distance": None},
                              {"id": "re", "kind": "PARTY", "distance": None}]
    assert [(e["id"], e["from"], e["to"]) for e in graph["edges"]] == [
        ("b1", "broker", "crm"), ("f1", "claims", "dwh"), ("f2", "dwh", "re"), ("f3", "claims", "re"),
        ("f4", "dwh", "actuarial"), ("f5", "actuarial", "dwh"), ("f6", "crm", "dwh")]
    assert graph["truncated"] is False
    started = run(loaded, '{ lineage(from: "claims") { nodes { id distance } } }').data["lineage"]["nodes"]
    assert started[1] == {"id": "claims", "distance": 0}  # from a start, distances as before


def test_lists_and_node_lookups_resolve_references(loaded):
    result = run(loaded, """{
        flows { nodes { id } }
        node(id: "f2") { ... on Flow { from { id kind } agreement { parties { id country } } categories { parent { id } } } }
        category: node(id: "health.diagnosis.oncology") { ... on DataCategory { parent { parent { id special } } } }
        missing: node(id: "nope") { id }
        legalBases { totalCount nodes { id } }
    }""")
    assert result.errors is None
    assert [f["id"] for f in result.data["flows"]["nodes"]] == ["b1", "f1", "f2", "f3", "f4", "f5", "f6"]
    assert result.data["node"] == {"from": {"id": "dwh", "kind": "SYSTEM"},
                                   "agreement": {"parties": [{"id": "re", "country": "US"}]},
                                   "categories": [{"parent": {"id": "health"}}]}
    assert result.data["category"] == {"parent": {"parent": {"id": "health", "special": True}}}
    assert result.data["missing"] is None
    assert len(result.data["legalBases"]["nodes"]) == result.data["legalBases"]["totalCount"] == 27


@pytest.mark.parametrize("query, message", [
    ('{ holders(category: "nope") { totalCount } }', "category: unknown category 'nope'"),
    ('{ holdings(holder: "contact") { totalCount } }', "holder: unknown system or party 'contact'"),
    ('{ lineage(from: "ghost") { nodes { id } } }', "from: unknown system or party 'ghost'"),
    ('{ lineage(from: "crm", depth: 1000) { nodes { id } } }', "depth must be between 0 and 64"),
    ('{ lineage(direction: UPSTREAM) { nodes { id } } }',
     "direction: only with a start node (from); without one the lineage is the whole registry"),
])
def test_bad_arguments_give_graphql_errors(loaded, query, message):
    result = run(loaded, query)
    assert [error.message for error in result.errors] == [message]


def test_mutations_validate_apply_and_audit_with_the_callers_identity(loaded):
    result = run(loaded, """mutation { upsertFlow(input: {id: "f7", name: "Re to Claims", from: "re", to: "claims",
        categories: ["health"], purpose: "reinsurance", agreement: "treaty", transferMechanism: SCC}) { id from { id } } }""")
    assert result.errors is None and result.data == {"upsertFlow": {"id": "f7", "from": {"id": "re"}}}
    assert loaded.audit(entity="f7")[0].actor == "tester"
    assert loaded.entity("f7").doc["transfer_mechanism"] == "scc"
    result = run(loaded, 'mutation { deleteFlow(id: "f7") { id } }')
    assert result.errors is None and loaded.store.get_many(["f7"]) == {}


def test_flow_scope_and_retention_from_are_enums_stored_as_bundles_write_them(loaded):
    result = run(loaded, """mutation {
        archive: upsertSystem(input: {id: "archive", name: "Archive", country: "DE", holds: [
            {category: "contact", purposes: ["underwriting"], retention: "P6Y", retentionFrom: COLLECTION},
            {category: "health", purposes: ["claims-handling"], retention: "P10Y"}]}) {
          holds { category { id } retention retentionFrom } }
        referral: upsertFlow(input: {id: "f7", name: "Referrals", from: "claims", to: "re", categories: ["health"],
            purpose: "reinsurance", agreement: "treaty", scope: CASE}) { scope }
        feed: upsertFlow(input: {id: "f8", name: "Feed", from: "crm", to: "dwh", categories: ["contact"],
            purpose: "analytics"}) { scope } }""")
    assert result.errors is None
    assert result.data == {
        "archive": {"holds": [{"category": {"id": "contact"}, "retention": "P6Y", "retentionFrom": "COLLECTION"},
                              {"category": {"id": "health"}, "retention": "P10Y", "retentionFrom": "END"}]},
        "referral": {"scope": "CASE"}, "feed": {"scope": "ALL"}}
    assert [h.get("retention_from", "end") for h in loaded.entity("archive").doc["holds"]] == ["collection", "end"]
    assert loaded.entity("f7").doc["scope"] == "case"
    assert loaded.entity("f8").doc.get("scope", "all") == "all"
    stored = run(loaded, """{ f1: node(id: "f1") { ... on Flow { scope } } f7: node(id: "f7") { ... on Flow { scope } }
                              claims: node(id: "claims") { ... on System { holds { retentionFrom } } } }""")
    assert stored.errors is None
    assert stored.data == {"f1": {"scope": "ALL"}, "f7": {"scope": "CASE"}, "claims": {"holds": [{"retentionFrom": "END"}]}}
    refused = run(loaded, """mutation { upsertFlow(input: {id: "f9", name: "F9", from: "crm", to: "dwh",
        categories: ["contact"], purpose: "analytics", scope: "case"}) { id } }""")
    assert "Enum 'FlowScope' cannot represent non-enum value: \"case\"" in refused.errors[0].message
    assert loaded.store.get_many(["f9"]) == {}


def test_invalid_mutations_report_every_problem_and_change_nothing(loaded):
    before = loaded.export()
    result = run(loaded, """mutation { upsertAgreement(input: {id: "a", name: "A", kind: DSA, parties: ["crm"],
        purposes: ["nope"], effective: "2025-01-01"}) { id } }""")
    [error] = result.errors
    assert error.extensions["code"] == "BAD_INPUT"
    assert [(p["field"], p["message"]) for p in error.extensions["problems"]] == [
        ("parties[0]", "'crm' is a system, not a party"), ("purposes[0]", "unknown purpose 'nope'")]
    result = run(loaded, """mutation { upsertAgreement(input: {id: "a", name: "A", kind: NDA, parties: ["re"],
        effective: "2025-01-01"}) { id } }""")
    assert "Value 'NDA' does not exist in 'AgreementKind' enum" in result.errors[0].message
    result = run(loaded, 'mutation { deleteCategory(id: "contact") { id } }')
    assert "still referenced by" in result.errors[0].message
    assert loaded.export() == before


def test_import_bundle_mutation_applies_a_whole_bundle(registry):
    result = run(registry, "mutation ($yaml: String!) { importBundle(yaml: $yaml) { created updated deleted unchanged } }",
                 yaml=LINEAGE)
    assert result.errors is None
    assert result.data["importBundle"] == {"created": 22, "updated": 0, "deleted": 0, "unchanged": 0}
    result = run(registry, 'mutation { importBundle(yaml: "flows: [{id: f1}]", replace: true) { created } }')
    assert result.errors[0].extensions["problems"][0] == {
        "source": "bundle", "line": 1, "column": 9, "entity": "flow 'f1'", "field": "name",
        "message": "required field is missing"}
    assert len(registry.list("flow")) == 7


def test_schema_graphql_matches_the_code():
    assert (ROOT / "schema.graphql").read_text() == schema.as_str() + "\n", \
        "schema.graphql is stale: run `strawberry export-schema registry.api.schema:schema --output schema.graphql`"


@pytest.fixture
def client(tmp_path):
    from graph.embedded import EmbeddedStore
    from registry.service import Registry

    from registry.settings import Settings

    from tests.auth import bearer, issue

    registry = Registry(EmbeddedStore(tmp_path / "r.db"))
    registry.load([("lineage.yaml", LINEAGE)], actor="test")
    token = issue(registry.store, "steward", name="governance-sync")
    registry.store.close()
    with TestClient(create_app(Settings.load(store=str(tmp_path / "r.db"))), headers=bearer(token)) as client:
        yield client


def test_http_post_answers_queries_and_errors_are_not_500s(client):
    response = client.post("/graphql", json={"query": '{ holdings(holder: "re") { nodes { flow { id } path } } }'})
    assert response.status_code == 200
    assert response.json() == {"data": {"holdings": {"nodes": [{"flow": {"id": "f3"}, "path": ["f3"]},
                                                               {"flow": {"id": "f2"}, "path": ["f1", "f2"]}]}}}
    response = client.post("/graphql", json={"query": '{ holdings(holder: "nobody") { totalCount } }'})
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == "holder: unknown system or party 'nobody'"
    assert client.post("/graphql", json={"query": "{ nosuchfield }"}).status_code == 200


def test_http_answers_are_utf8_json_whatever_the_language(client):
    """Names as written (a German insurer's systems), in UTF-8 JSON that any reader takes back."""
    mutation = 'mutation { upsertPurpose(input: {id: "kuendigung", name: "Kündigungsprüfung – Straße"}) { name } }'
    response = client.post("/graphql", json={"query": mutation})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert response.content == '{"data":{"upsertPurpose":{"name":"Kündigungsprüfung – Straße"}}}'.encode()
    assert json.loads(response.content) == {"data": {"upsertPurpose": {"name": "Kündigungsprüfung – Straße"}}}


def test_graphiql_is_served_to_browsers_and_health_is_reported(client):
    page = client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert client.get("/healthz").json()["status"] == "ok"


def test_http_mutations_are_audited_with_the_callers_token_name(client):
    response = client.post("/graphql", json={"query": 'mutation { upsertPurpose(input: {id: "pricing", name: "Pricing"}) { id } }'})
    assert response.json() == {"data": {"upsertPurpose": {"id": "pricing"}}}
    response = client.post("/graphql", json={"query": '{ auditLog(entity: "pricing") { nodes { actor action entityType after } } }'})
    assert response.json()["data"]["auditLog"]["nodes"] == [
        {"actor": "token:governance-sync", "action": "CREATE", "entityType": "PURPOSE",
         "after": {"id": "pricing", "name": "Pricing"}}]


def test_deeply_nested_queries_are_refused(client):
    deep = "{ node(id: \"f2\") { ... on Flow { agreement { " + "parties { id } categories { " * 12 + "id" + " }" * 12 + " } } } }"
    for _ in range(2):  # the second time from the validation cache
        response = client.post("/graphql", json={"query": deep})
        assert "exceeds maximum operation depth" in response.json()["errors"][0]["message"]


def test_queries_with_too_many_aliases_are_refused(client):
    query = "{ " + " ".join(f'a{i}: node(id: "f2") {{ id }}' for i in range(31)) + " }"
    for _ in range(2):
        assert client.post("/graphql", json={"query": query}).json()["errors"][0]["message"] == \
            "31 aliases found. Allowed: 30"
    assert client.post("/graphql", json={"query": query.replace("a30: ", "")}).json()["data"]["a29"] == {"id": "f2"}


def test_lineage_asked_again_is_the_same_and_follows_a_change(loaded):
    """A store's kept lineage and its GraphQL graph are reused while the registry is unchanged
    (`registry.api.kept`); a write shows in the next answer."""
    query = "{ lineage(from: \"claims\") { nodes { id name distance } edges { id to } truncated } }"
    first, again = run(loaded, query), run(loaded, query)
    assert first.errors is None and again.data == first.data
    assert {(n["id"], n["name"]) for n in first.data["lineage"]["nodes"]} >= {("re", "Reinsurer")}
    loaded.load([("lineage.yaml", LINEAGE.replace("name: Reinsurer,", "name: Reinsurer AG,"))], actor="test")
    changed = run(loaded, query).data["lineage"]
    assert {n["name"] for n in changed["nodes"] if n["id"] == "re"} == {"Reinsurer AG"}
    assert changed["edges"] == first.data["lineage"]["edges"]


def test_holdings_asked_again_are_the_same_and_follow_a_change(loaded):
    """The GraphQL objects of a kept answer are made once (`registry.api.kept`): asking
    again gives the same answer, and a change to an entity it names shows in the next one."""
    first, again = run(loaded, HOLDERS, category="health"), run(loaded, HOLDERS, category="health")
    assert first.errors is None and again.data == first.data
    loaded.load([("lineage.yaml", LINEAGE.replace("name: Reinsurer,", "name: Reinsurer AG,"))], actor="test")
    changed = run(loaded, HOLDERS, category="health")
    names = {h["holder"]["name"] for h in changed.data["holders"]["nodes"] if h["holder"]["id"] == "re"}
    assert names == {"Reinsurer AG"}
    assert changed.data["holders"]["totalCount"] == first.data["holders"]["totalCount"]
