"""DSAR over GraphQL: the issue's report shape, the subject-data permission, one-call withdrawal."""

import asyncio
import json

import pytest
from starlette.testclient import TestClient

from registry.auth.roles import Principal
from registry.api.app import create_app
from registry.settings import Settings
from registry.api.context import Context
from registry.api.schema import schema
from registry.subjects.service import SubjectService
from registry.subjects.keys import KeyHasher
from tests.subject_graphs import SUBJECT, bundles

DSAR = """query ($email: String) { dsar(email: $email) {
  subject { id kind }
  holdings { system { id name } category purposes legalBasis condition retention retentionFrom path source }
  recipients { party { id name kind country } categories purposes legalBasis agreement { id } transferMechanism path }
  suspendedFlows { id purpose }
  consents { purpose status at notice channel }
  currentConsents { purpose status }
  consentStates { purpose status }
  sources { party { id } system categories }
  rights { right reference }
} }"""


HASHER = KeyHasher(b"test-secret-test-secret-test-secret")


@pytest.fixture
def loaded(registry, tmp_path):
    registry.load(bundles(), actor="test")
    path = tmp_path / "subjects.jsonl"
    path.write_text(json.dumps(SUBJECT) + "\n")
    SubjectService(registry, HASHER).load(path, principal=Principal.of("loader", "admin"))
    return registry


def run(registry, query, roles="dpo", **variables):
    context = Context(registry=registry, principal=Principal.of("alice", roles),
                      subjects=SubjectService(registry, HASHER))
    return asyncio.run(schema.execute(query, variable_values=variables, context_value=context))


def test_dsar_report_has_the_shape_a_portal_reads(loaded):
    result = run(loaded, DSAR, email="c1@example.org")
    assert result.errors is None
    report = result.data["dsar"]
    assert report["subject"] == {"id": "C-1", "kind": "policyholder"}
    assert report["holdings"][2] == {
        "system": {"id": "claims", "name": "Claims"}, "category": "health.diagnosis", "purposes": ["claims-handling"],
        "legalBasis": "gdpr-6-1-b", "condition": "gdpr-9-2-f", "retention": "P10Y", "retentionFrom": "END", "path": [],
        "source": "broker"}
    assert report["recipients"] == [
        {"party": {"id": "adco", "name": "AdCo Agency", "kind": "PROCESSOR", "country": "DE"},
         "categories": ["contact"], "purposes": ["marketing"], "legalBasis": "gdpr-6-1-a",
         "agreement": {"id": "dpa-adco"}, "transferMechanism": None, "path": ["m1"]},  # before C-1 withdrew consent
        {"party": {"id": "re", "name": "Reinsurer", "kind": "REINSURER", "country": "US"},
         "categories": ["health.diagnosis"], "purposes": ["reinsurance"], "legalBasis": "gdpr-6-1-b",
         "agreement": {"id": "treaty"}, "transferMechanism": "SCC", "path": ["f1", "f2"]},
        {"party": {"id": "re", "name": "Reinsurer", "kind": "REINSURER", "country": "US"},
         "categories": ["health.diagnosis"], "purposes": ["reinsurance"], "legalBasis": "gdpr-6-1-b",
         "agreement": {"id": "treaty"}, "transferMechanism": "SCC", "path": ["f3"]}]
    assert report["suspendedFlows"] == [{"id": "m1", "purpose": "marketing"}, {"id": "w1", "purpose": "wellness"}]
    assert report["consents"] == [
        {"purpose": "marketing", "status": "GRANTED", "at": "2024-01-10T09:00:00+00:00", "notice": "v2", "channel": "web"},
        {"purpose": "marketing", "status": "WITHDRAWN", "at": "2025-05-01T09:00:00+00:00", "notice": "v3", "channel": "web"}]
    assert report["currentConsents"] == [{"purpose": "marketing", "status": "WITHDRAWN"}]
    assert report["consentStates"] == [{"purpose": "marketing", "status": "WITHDRAWN"}]
    assert report["sources"] == [{"party": {"id": "broker"}, "system": "claims", "categories": ["health.diagnosis"]}]
    assert [r["right"] for r in report["rights"]] == [
        "rectification", "erasure", "restriction", "portability", "objection", "withdraw-consent", "complaint"]


def test_a_dsar_and_its_context_go_when_the_request_ends_without_the_garbage_collector(loaded, monkeypatch):
    """Nothing of a request waits in a reference cycle: the collector's pauses grow with what waits."""
    import gc
    import weakref

    from registry.api import subjects

    answers = []
    monkeypatch.setattr(subjects, "to_report", lambda report, convert=subjects.to_report: answers.append(
        weakref.ref(made := convert(report))) or made)
    gc.collect()
    gc.disable()
    try:
        context = Context(registry=loaded, principal=Principal.of("alice", "dpo"), subjects=SubjectService(loaded, HASHER))
        unused = weakref.ref(Context(registry=loaded, principal=Principal.of("bob", "dpo")))
        assert unused() is None
        result = asyncio.run(schema.execute(DSAR, variable_values={"email": "c1@example.org"}, context_value=context))
        assert result.errors is None and result.data["dsar"]["subject"]["id"] == "C-1"
        del result
        assert len(answers) == 1 and answers[0]() is None
    finally:
        gc.enable()


def test_a_dsar_makes_only_the_fields_the_query_asks_for(loaded, monkeypatch):
    """A portal asks for a few of the report's fields; converting the rest is work at every DSAR."""
    from registry.api import subjects

    made = []
    monkeypatch.setattr(subjects, "to_report", lambda report, convert=subjects.to_report: made.append(
        answer := convert(report)) or answer)
    result = run(loaded, 'query { dsar(subject: "C-1") { subject { id } recipients { path } } }')
    assert result.errors is None
    assert result.data["dsar"] == {"subject": {"id": "C-1"},
                                   "recipients": [{"path": ["m1"]}, {"path": ["f1", "f2"]}, {"path": ["f3"]}]}
    report = made[0]
    assert vars(report).keys() - {"_doc"} == {"subject", "recipients", "generated_at"}
    assert [r.right for r in report.rights][-1] == "complaint"  # made when first read
    assert "rights" in vars(report)


def test_withdrawing_is_one_call_and_suspends_the_flow(loaded):
    result = run(loaded, 'mutation { setConsent(subject: "C-1", purpose: "wellness", status: GRANTED, '
                         'notice: "v1", channel: "app") { id } }')
    assert result.errors is None
    assert run(loaded, DSAR, email="c1@example.org").data["dsar"]["suspendedFlows"] == [{"id": "m1", "purpose": "marketing"}]
    result = run(loaded, 'mutation { withdrawConsent(subject: "C-1", purpose: "wellness", channel: "phone") '
                         '{ consents { purpose status channel } } }')
    assert result.data["withdrawConsent"]["consents"][-1] == {"purpose": "wellness", "status": "WITHDRAWN", "channel": "phone"}
    assert [f["id"] for f in run(loaded, DSAR, email="c1@example.org").data["dsar"]["suspendedFlows"]] == ["m1", "w1"]
    assert [e.actor for e in loaded.audit(entity="C-1") if e.type == "consent"] == ["alice", "alice"]


def test_erasure_plan_over_graphql(loaded):
    result = run(loaded, '{ erasurePlan(subject: "C-1", today: "2026-11-25") { erase { system { id } categories } '
                         'keep { system category until reason } notify { party { id } path } } }')
    assert result.errors is None
    plan = result.data["erasurePlan"]
    assert [step["system"]["id"] for step in plan["erase"]] == ["actuarial", "crm", "dwh"]
    assert plan["keep"] == [{"system": "claims", "category": "health.diagnosis", "until": None, "reason": (
        "Art. 17(3)(e): establishment, exercise or defence of legal claims, until 10 years after the relationship "
        "ends (it has not ended yet: no date)")}]
    assert [n["party"]["id"] for n in plan["notify"]] == ["adco", "re", "re"]


@pytest.mark.parametrize("query, code, message", [
    ('{ dsar(subject: "C-1") { subject { id } } }', "FORBIDDEN",
     "'alice' (roles: steward, viewer) lacks the 'subject-data:read' permission"),
    ('mutation { withdrawConsent(subject: "C-1", purpose: "marketing") { id } }', "FORBIDDEN",
     "'alice' (roles: steward, viewer) lacks the 'subject-data:write' permission"),
    ('{ dsar(subject: "nobody") { subject { id } } }', "FORBIDDEN",
     "'alice' (roles: steward, viewer) lacks the 'subject-data:read' permission"),
])
def test_subject_data_needs_the_permission(loaded, query, code, message):
    [error] = run(loaded, query, roles="viewer,steward").errors
    assert (error.extensions["code"], error.message) == (code, message)


@pytest.mark.parametrize("query, message", [
    ('{ dsar(subject: "nobody") { subject { id } } }', "subject: unknown subject 'nobody'"),
    ('{ dsar { subject { id } } }', "give exactly one of subject and email"),
    ('mutation { setConsent(subject: "C-1", purpose: "spam", status: GRANTED) { id } }', "purpose: unknown purpose 'spam'"),
])
def test_bad_dsar_arguments_are_errors(loaded, query, message):
    assert [e.message for e in run(loaded, query).errors] == [message]


def test_over_http_subject_data_goes_only_to_roles_with_the_permission(tmp_path, monkeypatch):
    from graph.embedded import EmbeddedStore
    from registry.service import Registry
    from tests.auth import bearer, issue

    monkeypatch.setenv("DSA_REGISTRY_HMAC_KEY", "test-secret-test-secret-test-secret")
    registry = Registry(EmbeddedStore(tmp_path / "r.db"))
    registry.load(bundles(), actor="test")
    path = tmp_path / "subjects.jsonl"
    path.write_text(json.dumps(SUBJECT) + "\n")
    SubjectService(registry, HASHER).load(path, principal=Principal.of("loader", "admin"))
    tokens = {role: issue(registry.store, role) for role in ("steward", "dpo", "auditor")}
    registry.store.close()
    query = {"query": '{ dsar(subject: "C-1") { subject { id } } }'}
    with TestClient(create_app(Settings.load(store=str(tmp_path / "r.db")))) as client:
        refused = client.post("/graphql", json=query, headers=bearer(tokens["steward"])).json()
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        for role in ("dpo", "auditor"):
            assert client.post("/graphql", json=query, headers=bearer(tokens[role])).json() == {
                "data": {"dsar": {"subject": {"id": "C-1"}}}}


def test_every_kind_of_audit_entry_has_its_entity_type_in_the_schema(loaded):
    """A bundle load, a subject file, a consent and a subject read: the log lists each with its enum."""
    assert run(loaded, 'mutation { withdrawConsent(subject: "C-1", purpose: "wellness") { id } }').errors is None
    assert run(loaded, DSAR, email="c1@example.org").errors is None
    result = run(loaded, "{ auditLog(first: 1000) { nodes { action entityType } } }")
    assert result.errors is None
    seen = {(e["action"], e["entityType"]) for e in result.data["auditLog"]["nodes"]}
    assert {("LOAD", "SUBJECT_FILE"), ("UPDATE", "CONSENT"), ("READ", "SUBJECT"), ("CREATE", "FLOW"),
            ("CREATE", "LEGAL_BASIS"), ("CREATE", "SYSTEM")} <= seen


def test_after_an_erasure_the_audit_log_shows_seals_where_the_subjects_documents_were(loaded):
    assert run(loaded, 'mutation { withdrawConsent(subject: "C-1", purpose: "wellness", channel: "phone") '
                       '{ id } }').errors is None
    entries = "{ auditLog(entity: \"C-1\") { nodes { action entityType after seal salt erased } } }"
    before = run(loaded, entries).data["auditLog"]["nodes"]
    assert [(e["action"], e["after"]["purpose"], len(e["seal"]), len(e["salt"]), e["erased"]) for e in before] == [
        ("UPDATE", "wellness", 64, 32, False)]
    kept = run(loaded, 'mutation { eraseSubject(subject: "C-1", today: "2026-11-25") { kept auditDocuments } }')
    assert kept.data["eraseSubject"] == {"kept": ["claims"], "auditDocuments": 0}  # data kept: so is the trail
    assert not any(e["erased"] for e in run(loaded, entries).data["auditLog"]["nodes"])
    loaded.store.erase_subject("C-1", keep=(), actor="os:dpo", plan_date="2036-11-25")  # once nothing must be kept
    *trail, proof = reversed(run(loaded, entries).data["auditLog"]["nodes"])
    assert [(e["action"], e["after"], e["seal"] is not None, e["salt"], e["erased"]) for e in trail[:2]] == [
        ("UPDATE", None, True, None, True), ("READ", None, True, None, True)]  # the consent, the erasure plan's read
    assert [(e["action"], e["after"]["kept"], e["seal"], e["erased"]) for e in trail[2:]] == [
        ("ERASE", ["claims"], None, False)]  # a proof holds no personal data: never sealed
    assert (proof["action"], proof["seal"], proof["erased"], proof["after"]["audit_documents"]) == (
        "ERASE", None, False, 2)
