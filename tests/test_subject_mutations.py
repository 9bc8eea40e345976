"""The subject mutations over GraphQL, with exact answers on hand-built graphs, on every backend:
`recordDisclosure` moves a case flow's recipient from `potentialRecipients` to `recipients` and
into the accounting of disclosures; `eraseSubject` removes what its plan erases and keeps what
the law requires; a flow of scope `case` into one of our own systems decides the subject's
holdings the same way it decides recipients (no disclosure: not held there); and `serve --demo`
answers a DSAR for the demo's customers out of the box.

Audit entries are checked only for their existence and actor (their contents are another change's)."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timezone

import pytest

from registry.api.context import Context
from registry.api.schema import schema
from registry.auth.roles import Principal
from registry.subjects.keys import KeyHasher
from registry.subjects.service import SubjectService
from tests.subject_graphs import SUBJECT, bundles

TODAY = date(2026, 11, 25)
"""Today, for the subject service (an erasure may not be carried out as of a later day)."""
HASHER = KeyHasher(b"test-secret-test-secret-test-secret")

FORMER = {
    # A former customer of the CONSENTS graph (tests.subject_graphs) whose every retention has run by TODAY:
    # contract and claim ended 2010-12-31 (claims: P10Y from the end, to 2020-12-31), a marketing consent that
    # still stands, an e-mail key and a fraud referral to the police recorded in 2010.
    "id": "C-9", "kind": "policyholder",
    "records": [{"system": "crm", "since": "2005-03-01", "until": "2010-12-31"},
                {"system": "claims", "categories": ["health.diagnosis"], "since": "2008-05-01", "until": "2010-12-31"}],
    "consents": [{"purpose": "marketing", "status": "granted", "at": "2009-01-10T10:00:00Z", "notice": "v1",
                  "channel": "paper"}],
    "disclosures": [{"flow": "fraud", "at": "2010-06-01T08:00:00Z", "reference": "LKA-2010-1"}],
    "keys": {"email": "c9@example.org"},
}


def service_of(registry) -> SubjectService:
    return SubjectService(registry, HASHER, clock=lambda: TODAY)


def run(registry, query: str, roles: str = "dpo", name: str = "alice", **variables):
    """`query` as `name` with `roles`, through the schema (permissions and error codes included)."""
    context = Context(registry=registry, principal=Principal.of(name, roles), subjects=service_of(registry))
    return asyncio.run(schema.execute(query, variable_values=variables, context_value=context))


def ok(registry, query: str, **variables) -> dict:
    result = run(registry, query, **variables)
    assert result.errors is None, result.errors
    return result.data


def error(registry, query: str, roles: str = "dpo", **variables) -> tuple[str, str]:
    """(code, message) of the one error `query` gives; its data must be null."""
    result = run(registry, query, roles=roles, **variables)
    assert result.data is None and len(result.errors) == 1, (result.data, result.errors)
    [found] = result.errors
    return found.extensions["code"], found.message


def load_subjects(registry, tmp_path, *subjects: dict) -> None:
    path = tmp_path / "subjects.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in subjects))
    assert service_of(registry).load(path, principal=Principal.of("loader", "admin")) == len(subjects)


@pytest.fixture
def consents(registry, tmp_path):
    """The CONSENTS graph with C-1 (tests.subject_graphs.SUBJECT) and the former customer C-9."""
    registry.load(bundles(), actor="test")
    load_subjects(registry, tmp_path, SUBJECT, FORMER)
    return registry


def audit_entries(registry, subject: str) -> list:
    return registry.audit(entity=subject, limit=1000)


# --- recordDisclosure -------------------------------------------------------------------------

REACH = """query ($subject: ID!, $asOf: Date) { dsar(subject: $subject, asOf: $asOf) {
  recipients { party { id name } flow path }
  potentialRecipients { party { id name } flow path caseFlows }
  disclosures { flow party { id name } at reference categories purpose }
} }"""

POLICE = {"id": "police", "name": "State criminal police office"}
ALWAYS = [  # C-1's recipients through flows of scope all (adco: what m1 took before C-1 withdrew consent)
    {"party": {"id": "adco", "name": "AdCo Agency"}, "flow": "m1", "path": ["m1"]},
    {"party": {"id": "re", "name": "Reinsurer"}, "flow": "f2", "path": ["f1", "f2"]},
    {"party": {"id": "re", "name": "Reinsurer"}, "flow": "f3", "path": ["f3"]},
]
BEFORE = {"recipients": ALWAYS,
          "potentialRecipients": [{"party": POLICE, "flow": "fraud", "path": ["fraud"], "caseFlows": ["fraud"]}],
          "disclosures": []}
DISCLOSE = """mutation ($at: DateTime, $reference: String) {
  recordDisclosure(subject: "C-1", flow: "fraud", at: $at, reference: $reference) {
    id kind disclosures { flow at reference } } }"""


def reach(registry, subject="C-1", as_of="2026-11-25") -> dict:
    return ok(registry, REACH, subject=subject, asOf=as_of)["dsar"]


def test_record_disclosure_moves_the_police_from_potential_recipients_to_recipients(consents):
    assert reach(consents) == BEFORE
    recorded = ok(consents, DISCLOSE, at="2026-02-01T10:00:00+01:00", reference="LKA NRW 2026/4711")
    assert recorded["recordDisclosure"] == {"id": "C-1", "kind": "policyholder", "disclosures": [
        {"flow": "fraud", "at": "2026-02-01T09:00:00+00:00", "reference": "LKA NRW 2026/4711"}]}
    assert reach(consents) == {
        "recipients": [ALWAYS[0], {"party": POLICE, "flow": "fraud", "path": ["fraud"]}, *ALWAYS[1:]],
        "potentialRecipients": [],
        "disclosures": [{"flow": "fraud", "party": POLICE, "at": "2026-02-01T09:00:00+00:00",
                         "reference": "LKA NRW 2026/4711", "categories": ["health.diagnosis"],
                         "purpose": "fraud-prevention"}]}
    # A report of the day before the disclosure: the police had received nothing yet.
    assert reach(consents, as_of="2026-01-31") == BEFORE
    # Its day counts (the disclosure's UTC day, 2026-02-01).
    assert reach(consents, as_of="2026-02-01")["potentialRecipients"] == []


def test_record_disclosure_is_audited_with_the_caller_as_actor(consents):
    assert [e for e in audit_entries(consents, "C-1") if e.type == "disclosure"] == []
    ok(consents, DISCLOSE, at="2026-02-01T10:00:00+01:00", reference="LKA NRW 2026/4711")
    assert [e.actor for e in audit_entries(consents, "C-1") if e.type == "disclosure"] == ["alice"]


def test_record_disclosure_without_a_time_records_it_now(consents):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    [disclosure] = ok(consents, DISCLOSE, reference="LKA-now")["recordDisclosure"]["disclosures"]
    after = datetime.now(timezone.utc)
    assert disclosure["reference"] == "LKA-now" and disclosure["flow"] == "fraud"
    assert before <= datetime.fromisoformat(disclosure["at"]) <= after


@pytest.mark.parametrize("arguments, code, message", [
    ('subject: "nobody", flow: "fraud"', "NOT_FOUND", "subject: unknown subject 'nobody'"),
    ('subject: "C-1", flow: "nope"', "NOT_FOUND", "flow: unknown flow 'nope'"),
    ('subject: "C-1", flow: "crm"', "NOT_FOUND", "flow: unknown flow 'crm'"),  # a system, not a flow
    ('subject: "C-1", flow: "f3"', "BAD_INPUT", "flow 'f3' has scope all: it carries every subject's data; "
                                                "disclosures are recorded on flows of scope case"),
    ('subject: "C-1", flow: "fraud", at: "2099-01-01T00:00:00Z"', "BAD_INPUT",
     "at: 2099-01-01T00:00:00+00:00 is in the future: record an event once it has happened"),
], ids=["unknown-subject", "unknown-flow", "not-a-flow", "scope-all", "future"])
def test_record_disclosure_refuses_bad_arguments_and_changes_nothing(consents, arguments, code, message):
    audited = len(audit_entries(consents, "C-1"))
    assert error(consents, f"mutation {{ recordDisclosure({arguments}) {{ id }} }}") == (code, message)
    assert consents.store.subject("C-1").disclosures == []
    assert [e for e in audit_entries(consents, "C-1")[audited:] if e.type == "disclosure"] == []
    assert reach(consents) == BEFORE


@pytest.mark.parametrize("roles", ["auditor", "viewer,steward"])
def test_record_disclosure_needs_the_subject_data_write_permission(consents, roles):
    mutation = 'mutation { recordDisclosure(subject: "C-1", flow: "fraud", reference: "LKA-1") { id } }'
    assert error(consents, mutation, roles=roles) == (
        "FORBIDDEN", f"'alice' (roles: {', '.join(sorted(roles.split(',')))}) lacks the 'subject-data:write' permission")
    assert consents.store.subject("C-1").disclosures == []
    assert [e for e in audit_entries(consents, "C-1") if e.type == "disclosure"] == []
    assert reach(consents) == BEFORE


# --- eraseSubject -----------------------------------------------------------------------------

PLAN = """query ($subject: ID!) { erasurePlan(subject: $subject, today: "2026-11-25") {
  erase { system { id } categories } keep { system category until reason } notify { party { id } flow path } } }"""
ERASE = """mutation ($subject: ID!, $today: Date) { eraseSubject(subject: $subject, today: $today) {
  subject erased kept consents keys disclosures } }"""


def test_erase_subject_removes_a_subject_whose_retention_has_run_and_leaves_one_proof(consents):
    assert ok(consents, PLAN, subject="C-9")["erasurePlan"] == {
        "erase": [{"system": {"id": "actuarial"}, "categories": ["contact", "health.diagnosis.oncology"]},
                  {"system": {"id": "claims"}, "categories": ["health.diagnosis"]},  # P10Y from 2010-12-31 has run
                  {"system": {"id": "crm"}, "categories": ["contact"]},
                  {"system": {"id": "dwh"}, "categories": ["contact", "health.diagnosis"]}],
        "keep": [],
        "notify": [{"party": {"id": "adco"}, "flow": "m1", "path": ["m1"]},
                   {"party": {"id": "police"}, "flow": "fraud", "path": ["fraud"]},
                   {"party": {"id": "re"}, "flow": "f2", "path": ["f1", "f2"]},
                   {"party": {"id": "re"}, "flow": "f3", "path": ["f3"]}]}
    assert ok(consents, ERASE, subject="C-9")["eraseSubject"] == {
        "subject": "C-9", "erased": ["claims", "crm"], "kept": [], "consents": 1, "keys": 1, "disclosures": 1}
    assert consents.store.subject("C-9") is None
    assert error(consents, '{ dsar(subject: "C-9") { subject { id } } }') == (
        "NOT_FOUND", "subject: unknown subject 'C-9'")
    assert error(consents, '{ dsar(email: "c9@example.org") { subject { id } } }') == (
        "NOT_FOUND", "email: no subject with that e-mail address")
    assert error(consents, '{ erasurePlan(subject: "C-9") { keep { system } } }') == (
        "NOT_FOUND", "subject: unknown subject 'C-9'")
    assert [s["id"] for s in ok(consents, "{ subjects { nodes { id } } }")["subjects"]["nodes"]] == ["C-1"]
    assert consents.store.count_disclosures(["fraud"]) == {}
    assert [e.actor for e in audit_entries(consents, "C-9") if e.action == "erase"] == ["alice"]
    # Erased means erased: a second erasure finds nobody, and adds no proof.
    assert error(consents, ERASE, subject="C-9") == ("NOT_FOUND", "subject: unknown subject 'C-9'")
    assert [e.actor for e in audit_entries(consents, "C-9") if e.action == "erase"] == ["alice"]


def test_erase_subject_keeps_exactly_the_records_the_law_requires(consents):
    # C-1's diagnoses in claims rest on the legal-claims condition, kept until 10 years after the relationship ends
    # (not ended: no date); everything else goes, the CRM record with it.
    assert ok(consents, PLAN, subject="C-1")["erasurePlan"]["keep"] == [
        {"system": "claims", "category": "health.diagnosis", "until": None, "reason": (
            "Art. 17(3)(e): establishment, exercise or defence of legal claims, until 10 years after the relationship "
            "ends (it has not ended yet: no date)")}]
    assert ok(consents, ERASE, subject="C-1", today="2026-11-25")["eraseSubject"] == {
        "subject": "C-1", "erased": ["crm"], "kept": ["claims"], "consents": 0, "keys": 0, "disclosures": 0}
    left = ok(consents, '{ dsar(subject: "C-1", asOf: "2026-11-25") { subject { id records { system categories '
                        'since until source } } holdings { system { id } category path } } }')["dsar"]
    assert left["subject"] == {"id": "C-1", "records": [
        {"system": "claims", "categories": ["health.diagnosis"], "since": "2024-06-01", "until": None,
         "source": "broker"}]}
    assert {(h["system"]["id"], h["category"]) for h in left["holdings"] if not h["path"]} == {
        ("claims", "health.diagnosis")}  # the CRM record went: crm holds nothing of C-1 any more
    assert "crm" not in {h["system"]["id"] for h in left["holdings"]}
    assert [e.actor for e in audit_entries(consents, "C-1") if e.action == "erase"] == ["alice"]


@pytest.mark.parametrize("query, roles, expected", [
    ('mutation { eraseSubject(subject: "nobody") { subject } }', "dpo",
     ("NOT_FOUND", "subject: unknown subject 'nobody'")),
    ('mutation { eraseSubject(subject: "C-9") { subject } }', "auditor",
     ("FORBIDDEN", "'alice' (roles: auditor) lacks the 'subject-data:write' permission")),
    ('mutation { eraseSubject(subject: "C-9") { subject } }', "viewer,steward",
     ("FORBIDDEN", "'alice' (roles: steward, viewer) lacks the 'subject-data:write' permission")),
    ('mutation { eraseSubject(subject: "C-9", today: "2026-11-26") { subject } }', "dpo",
     ("BAD_INPUT", "today: 2026-11-26 is after today (2026-11-25, UTC); an erasure is carried out as of today or an "
                   "earlier day, never ahead of the retention it must respect (an erasure plan may look ahead)")),
], ids=["unknown-subject", "auditor", "steward", "today-ahead"])
def test_erase_subject_refusals_change_nothing(consents, query, roles, expected):
    held = consents.store.subject("C-9")
    assert error(consents, query, roles=roles) == expected
    assert consents.store.subject("C-9") == held
    assert [e for e in audit_entries(consents, "C-9") if e.action == "erase"] == []


def test_erase_subject_as_of_today_itself_is_carried_out(consents):
    assert ok(consents, ERASE, subject="C-9", today="2026-11-25")["eraseSubject"]["erased"] == ["claims", "crm"]


def test_over_http_the_audit_log_names_the_token_that_disclosed_and_erased(tmp_path):
    """The actor is the authenticated caller (`token:NAME`), not the server or a default (embedded store)."""
    from tests.auth import bearer
    from tests.served import served

    with served(tmp_path) as (client, tokens):
        def post(query: str, role: str) -> dict:
            answer = client.post("/graphql", json={"query": query}, headers=bearer(tokens[role]))
            assert answer.status_code == 200
            return answer.json()

        refused = post('mutation { eraseSubject(subject: "C-2") { subject } }', "auditor")
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
        assert post('mutation { recordDisclosure(subject: "C-2", flow: "fraud", at: "2026-02-01T09:00:00Z", '
                    'reference: "LKA-9") { id } }', "dpo") == {"data": {"recordDisclosure": {"id": "C-2"}}}
        assert post('mutation { eraseSubject(subject: "C-2") { subject erased kept } }', "dpo") == {
            "data": {"eraseSubject": {"subject": "C-2", "erased": ["crm"], "kept": ["claims"]}}}
        log = post('{ auditLog(entity: "C-2", first: 1000) { nodes { action entityType actor } } }', "admin")
        entries = log["data"]["auditLog"]["nodes"]
        assert [e["actor"] for e in entries if e["action"] == "ERASE"] == ["token:dpo"]
        assert [e["actor"] for e in entries if e["entityType"] == "DISCLOSURE"] == ["token:dpo"]


# --- a flow of scope case into one of our own systems -----------------------------------------

INTERNAL = """
# A fraud referral inside the group (scope case) into the special investigations unit, which archives its files
# and files criminal complaints with the police:
#
#   claims --to-siu[claim] (case)--> siu --siu-arch[claim]--> siu-archive
#                                     +---siu-lka[claim]----> lka
categories:
  - {id: contact, name: Contact details}
  - {id: claim, name: Claim files}
purposes:
  - {id: claims-handling, name: Claims handling}
  - {id: fraud-prevention, name: Fraud prevention}
systems:
  - id: claims
    name: Claims system
    country: DE
    holds:
      - {category: claim, purposes: [claims-handling], legal_basis: gdpr-6-1-b, retention: P10Y}
      - {category: contact, purposes: [claims-handling], legal_basis: gdpr-6-1-b}
  - id: siu
    name: Special investigations
    country: DE
    holds:
      - {category: claim, purposes: [fraud-prevention], legal_basis: gdpr-6-1-c, retention: P5Y}
  - {id: siu-archive, name: Investigations archive, country: DE}
parties:
  - {id: lka, name: State criminal police office, kind: law-enforcement, country: DE, role: controller}
flows:
  - {id: to-siu, name: Suspicious claims, from: claims, to: siu, categories: [claim], purpose: fraud-prevention, legal_basis: gdpr-6-1-f, scope: case}
  - {id: siu-arch, name: Closed investigations, from: siu, to: siu-archive, categories: [claim], purpose: fraud-prevention, legal_basis: gdpr-6-1-f}
  - {id: siu-lka, name: Criminal complaints, from: siu, to: lka, categories: [claim], purpose: fraud-prevention, legal_basis: gdpr-6-1-f}
"""
CLAIMANT = {"id": "K-7", "kind": "claimant", "records": [{"system": "claims", "since": "2024-02-01"}]}
HELD = """query ($asOf: Date) { dsar(subject: "K-7", asOf: $asOf) {
  holdings { system { id } category path legalBasis retention retainedUntil }
  recipients { party { id } flow path }
  potentialRecipients { party { id } flow path caseFlows }
} }"""
IN_CLAIMS = [
    {"system": {"id": "claims"}, "category": "claim", "path": [], "legalBasis": "gdpr-6-1-b", "retention": "P10Y",
     "retainedUntil": None},
    {"system": {"id": "claims"}, "category": "contact", "path": [], "legalBasis": "gdpr-6-1-b", "retention": None,
     "retainedUntil": None}]
NOT_YET = {"holdings": IN_CLAIMS, "recipients": [],
           "potentialRecipients": [{"party": {"id": "lka"}, "flow": "siu-lka", "path": ["to-siu", "siu-lka"],
                                    "caseFlows": ["to-siu"]}]}


@pytest.fixture
def internal(registry, tmp_path):
    registry.load([("internal.yaml", INTERNAL)], actor="test")
    load_subjects(registry, tmp_path, CLAIMANT)
    return registry


def disclose_to_siu(registry) -> None:
    ok(registry, 'mutation { recordDisclosure(subject: "K-7", flow: "to-siu", at: "2025-06-12T14:30:00+02:00", '
                 'reference: "SIU-2025-17") { id } }')


def test_without_a_disclosure_an_internal_system_behind_a_case_flow_holds_nothing_of_the_subject(internal):
    # Not among the holdings at all (there are no "potential holdings"); the police beyond it is a potential recipient.
    assert ok(internal, HELD, asOf="2026-11-25")["dsar"] == NOT_YET
    assert ok(internal, PLAN, subject="K-7")["erasurePlan"] == {
        "erase": [{"system": {"id": "claims"}, "categories": ["claim", "contact"]}], "keep": [], "notify": []}


def test_with_a_disclosure_the_internal_system_and_what_lies_beyond_it_hold_the_data(internal):
    disclose_to_siu(internal)
    assert ok(internal, HELD, asOf="2025-06-11")["dsar"] == NOT_YET  # the day before the referral
    assert ok(internal, HELD, asOf="2025-06-12")["dsar"] == {
        "holdings": [*IN_CLAIMS,
                     {"system": {"id": "siu"}, "category": "claim", "path": ["to-siu"], "legalBasis": "gdpr-6-1-c",
                      "retention": "P5Y", "retainedUntil": None},
                     {"system": {"id": "siu-archive"}, "category": "claim", "path": ["to-siu", "siu-arch"],
                      "legalBasis": "gdpr-6-1-f", "retention": None, "retainedUntil": None}],
        "recipients": [{"party": {"id": "lka"}, "flow": "siu-lka", "path": ["to-siu", "siu-lka"]}],
        "potentialRecipients": []}
    assert ok(internal, PLAN, subject="K-7")["erasurePlan"] == {
        "erase": [{"system": {"id": "claims"}, "categories": ["claim", "contact"]},
                  {"system": {"id": "siu-archive"}, "categories": ["claim"]}],
        "keep": [{"system": "siu", "category": "claim", "until": None, "reason": (
            "Art. 17(3)(b): legal obligation, until 5 years after the relationship ends (it has not ended yet: "
            "no date)")}],
        "notify": [{"party": {"id": "lka"}, "flow": "siu-lka", "path": ["to-siu", "siu-lka"]}]}


def test_erasing_after_a_disclosure_into_an_internal_system_keeps_a_record_there(internal):
    disclose_to_siu(internal)
    assert ok(internal, ERASE, subject="K-7")["eraseSubject"] == {
        "subject": "K-7", "erased": ["claims"], "kept": ["siu"], "consents": 0, "keys": 0, "disclosures": 0}
    # siu got the claim file from the claims record, which went: it gets a record of what it keeps.
    assert internal.store.subject("K-7").records == [{"system": "siu", "categories": ["claim"], "since": "2024-02-01",
                                                      "restricted": TODAY.isoformat()}]  # kept for that ground only
    assert [e.actor for e in audit_entries(internal, "K-7") if e.action == "erase"] == ["alice"]


def test_the_accounting_of_a_disclosure_into_an_internal_system_names_no_party(internal):
    """A flow into one of our own systems has no recipient party: the accounting's `party` can only be null
    (the schema's Party cannot describe a system), and asking for a party's fields must not fail the report."""
    disclose_to_siu(internal)
    result = run(internal, '{ dsar(subject: "K-7", asOf: "2026-11-25") { disclosures { flow party { __typename id '
                           'name kind country role } receiver { __typename ... on System { id name } '
                           '... on Party { id role } } at reference } } }')
    assert result.errors is None, result.errors
    assert result.data["dsar"]["disclosures"] == [
        {"flow": "to-siu", "party": None, "receiver": {"__typename": "System", "id": "siu", "name": "Special investigations"},
         "at": "2025-06-12T12:30:00+00:00", "reference": "SIU-2025-17"}]


# --- serve --demo: the demo's data subjects out of the box ------------------------------------

DEMO_RECIPIENTS = [  # README, "The demo has people": C-1's recipients and potential recipients on 2026-11-25
    "Aurora Mutual Insurance Company of America", "Bengal Contact Solutions Pvt. Ltd.",
    "Bundesanstalt für Finanzdienstleistungsaufsicht (BaFin)", "Coral Bay Reinsurance Ltd.",
    "Hanse Assekuranzmakler GmbH", "InsurWatch Hinweisdienst GmbH", "Kessler & Partner Wirtschaftsprüfungsgesellschaft",
    "Nimbus Cloud Europe B.V.", "PrintPost Output Services GmbH", "Rheinland Rückversicherung AG",
    "Stratus CRM Cloud Inc."]
DEMO_POTENTIAL = [
    "Assist24 Travel Assistance AG", "Aurora Mutual Insurance Company of America", "Coral Bay Reinsurance Ltd.",
    "Landeskriminalamt Nordrhein-Westfalen", "MedGutachten Partnerschaft", "Rheinland Rückversicherung AG"]


@pytest.mark.parametrize("backend", ["embedded", "neo4j"])
def test_serve_demo_loads_the_demo_subjects_so_a_dsar_for_c1_works(request, tmp_path, backend):
    from tests.test_serve import Server, post

    env = {}
    if backend == "neo4j":
        from tests.neo4j_server import credentials

        request.getfixturevalue("neo4j_store")  # an empty database
        names = {"user": "NEO4J_USER", "password": "NEO4J_PASSWORD", "database": "NEO4J_DATABASE"}
        env = {"DSA_REGISTRY_STORE": request.getfixturevalue("neo4j_uri"),
               **{names[k]: v for k, v in credentials().items() if v}}
    server = Server("--demo", cwd=tmp_path, env=env)
    try:
        assert "loading the demo's data subjects: 6" in server.lines, server.lines
        token = next(line for line in server.lines if line.startswith("created the admin token")).split()[-1]
        status, body = post(server.url, '{ subjects { totalCount nodes { id } } }', token)
        assert (status, body) == (200, {"data": {"subjects": {"totalCount": 6, "nodes": [
            {"id": id_} for id_ in ("C-1", "C-2", "C-3", "C-4", "C-5", "P-1")]}}})
        status, body = post(server.url, '{ dsar(subject: "C-1", asOf: "2026-11-25") { subject { id kind } '
                                        'holdings { system { id } } recipients { party { name } } '
                                        'potentialRecipients { party { name } } } }', token)
        assert status == 200 and "errors" not in body, body
        report = body["data"]["dsar"]
        assert report["subject"] == {"id": "C-1", "kind": "policyholder"}
        assert (len(report["holdings"]), len({h["system"]["id"] for h in report["holdings"]}),
                len(report["recipients"])) == (37, 16, 14)
        assert sorted({r["party"]["name"] for r in report["recipients"]}) == DEMO_RECIPIENTS
        assert sorted({r["party"]["name"] for r in report["potentialRecipients"]}) == DEMO_POTENTIAL
    finally:
        server.stop()
