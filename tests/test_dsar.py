"""Data subjects, consents, DSAR reports and erasure plans: exact answers on a hand-built graph,
on every backend."""

import json
from datetime import date, datetime, timezone

import pytest

from registry.auth.roles import Forbidden, Principal
from registry.errors import InvalidArgument, NotFound
from registry.subjects.service import SubjectService
from registry.subjects.keys import KeyHasher
from registry.subjects.model import SubjectsInvalid
from tests.subject_graphs import SUBJECT, bundles

DPO = Principal.of("alice", "dpo")


@pytest.fixture
def service(registry, tmp_path):
    registry.load(bundles(), actor="test")
    service = SubjectService(registry, KeyHasher(b"test-secret-test-secret-test-secret"))
    path = tmp_path / "subjects.jsonl"
    path.write_text(json.dumps(SUBJECT) + "\n" + json.dumps({"id": "C-2", "kind": "prospect"}) + "\n")
    assert service.load(path, principal=DPO) == 2
    return service


def holdings(report):
    return [(h.system, h.category, h.path, h.source) for h in report.holdings]


def recipients(report):
    return [(r.party, r.flow, r.categories, r.path) for r in report.recipients]


def test_report_follows_records_through_flows_with_the_category_hierarchy(service):
    report = service.report(principal=DPO, subject="C-1")
    assert holdings(report) == [
        ("actuarial", "contact", ("f6", "f4"), None),
        ("actuarial", "health.diagnosis.oncology", ("f1", "f4"), None),
        ("claims", "health.diagnosis", (), "broker"),
        ("crm", "contact", (), None),
        ("dwh", "contact", ("f6",), None),
        ("dwh", "health.diagnosis", ("f1",), None),
    ]
    # m1 rests on the marketing consent C-1 gave in 2024 and withdrew in 2025: the agency got the contact
    # details meanwhile (the flow is suspended now, test_consent_based_flows_are_suspended...).
    assert recipients(report) == [
        ("adco", "m1", ("contact",), ("m1",)),
        ("re", "f2", ("health.diagnosis",), ("f1", "f2")),
        ("re", "f3", ("health.diagnosis",), ("f3",)),
    ]


def test_a_record_without_categories_follows_what_its_system_declares(service, registry):
    assert service.find(principal=DPO, subject="C-1").records[0] == {
        "system": "crm", "categories": ["contact"], "since": "2020-03-01"}
    crm = registry.entity("crm", "system").doc
    registry.upsert("system", {**crm, "holds": [*crm["holds"], {"category": "health", "purposes": ["claims-handling"],
                                                                "legal_basis": "gdpr-6-1-b", "condition": "gdpr-9-2-a"}]},
                    actor="test")
    report = service.report(principal=DPO, subject="C-1")
    assert report.subject.records[0]["categories"] == ["contact", "health"]
    assert ("crm", "health", (), None) in holdings(report)


def test_a_report_after_a_change_of_terms_gives_the_new_terms(service, registry):
    """Flows' terms are kept between reports only for the very same flow and agreement documents."""
    def terms():
        return [(r.flow, r.legal_basis, r.condition) for r in service.report(principal=DPO, subject="C-1").recipients]

    assert terms()[1:] == [("f2", "gdpr-6-1-b", "gdpr-9-2-f"), ("f3", "gdpr-6-1-b", "gdpr-9-2-f")]
    treaty = registry.entity("treaty", "agreement").doc
    registry.upsert("agreement", {**treaty, "legal_basis": "gdpr-6-1-c"}, actor="test")
    assert terms()[1:] == [("f2", "gdpr-6-1-b", "gdpr-9-2-f"), ("f3", "gdpr-6-1-c", "gdpr-9-2-f")]
    f2 = registry.entity("f2", "flow").doc
    registry.upsert("flow", {**f2, "condition": "gdpr-9-2-c"}, actor="test")
    assert terms() == [("m1", "gdpr-6-1-a", None), ("f2", "gdpr-6-1-b", "gdpr-9-2-c"), ("f3", "gdpr-6-1-c", "gdpr-9-2-f")]


def test_report_gives_purposes_bases_retention_safeguards_and_sources(service):
    report = service.report(principal=DPO, subject="C-1")
    claims = next(h for h in report.holdings if h.system == "claims")
    assert (claims.purposes, claims.legal_basis, claims.condition, claims.retention) == (
        ("claims-handling",), "gdpr-6-1-b", "gdpr-9-2-f", "P10Y")
    dwh = next(h for h in report.holdings if h.system == "dwh" and h.category == "contact")
    assert (dwh.purposes, dwh.legal_basis, dwh.retention) == (("analytics",), None, None)
    to_re = report.recipients[2]
    assert (to_re.purpose, to_re.legal_basis, to_re.condition, to_re.agreement, to_re.transfer_mechanism) == (
        "reinsurance", "gdpr-6-1-b", "gdpr-9-2-f", "treaty", "scc")
    assert report.entities["re"].doc["country"] == "US"
    assert report.sources == [("broker", "claims", ("health.diagnosis",))]
    assert report.legal_bases == ["gdpr-6-1-a", "gdpr-6-1-b", "gdpr-9-2-f"]


def test_consent_based_flows_are_suspended_without_consent_and_restored_after_grant(service):
    report = service.report(principal=DPO, subject="C-1")
    assert [(s.flow, s.purpose, s.categories) for s in report.suspended] == [
        ("m1", "marketing", ("contact",)), ("w1", "wellness", ("health.diagnosis",))]
    assert "vitality" not in {r.party for r in report.recipients}  # w1 carries no contact details of C-1

    service.set_consent(principal=DPO, subject="C-1", purpose="wellness", status="granted",
                        at=datetime(2025, 6, 1, tzinfo=timezone.utc), notice="v1", channel="app")
    service.set_consent(principal=DPO, subject="C-1", purpose="marketing", status="granted")
    report = service.report(principal=DPO, subject="C-1")
    assert report.suspended == []
    assert [(r.party, r.flow, r.categories) for r in report.recipients] == [
        ("adco", "m1", ("contact",)), ("re", "f2", ("health.diagnosis",)), ("re", "f3", ("health.diagnosis",)),
        ("vitality", "w1", ("health.diagnosis",))]

    service.set_consent(principal=DPO, subject="C-1", purpose="marketing", status="withdrawn")
    report = service.report(principal=DPO, subject="C-1")
    assert [s.flow for s in report.suspended] == ["m1"]
    assert [e["status"] for e in report.subject.consents if e["purpose"] == "marketing"] == [
        "granted", "withdrawn", "granted", "withdrawn"]
    assert report.consents["marketing"].status == "withdrawn"


def test_a_subject_without_records_has_an_empty_report(service):
    report = service.report(principal=DPO, subject="C-2")
    assert (report.holdings, report.recipients, report.suspended) == ([], [], [])


def test_subjects_are_found_by_normalised_email_and_the_email_is_not_stored(service, store):
    assert service.report(principal=DPO, email="c1@EXAMPLE.org ").subject.id == "C-1"
    assert "example.org" not in json.dumps(store.subject("C-1").__dict__).lower()
    with pytest.raises(NotFound, match="^email: no subject with that e-mail address$"):
        service.report(principal=DPO, email="nobody@example.org")
    with pytest.raises(NotFound, match="^subject: unknown subject 'C-9'$"):
        service.report(principal=DPO, subject="C-9")


def test_reading_subject_data_needs_the_permission_and_every_lookup_is_audited(service, registry):
    with pytest.raises(Forbidden, match="'bob' \\(roles: steward, viewer\\) lacks the 'subject-data:read' permission"):
        service.report(principal=Principal.of("bob", "viewer,steward"), subject="C-1")
    service.report(principal=DPO, subject="C-1")
    service.erasure_plan(principal=DPO, subject="C-1")
    reads = [(e.actor, e.id, e.after) for e in registry.audit(entity="C-1") if e.action == "read"]
    assert reads == [("alice", "C-1", {"what": "dsar"}), ("alice", "C-1", {"what": "erasure-plan"})]
    with pytest.raises(NotFound):
        service.erasure_plan(principal=DPO, subject="C-404")
    assert [(e.actor, e.after) for e in registry.audit(entity="C-404")] == [
        ("alice", {"what": "erasure-plan", "found": False})]
    [load] = [e for e in registry.audit(limit=1000) if e.action == "load"]
    assert (load.actor, load.type, load.id, load.after) == ("alice", "subject-file", "subjects.jsonl", {"subjects": 2})


def test_erasure_plan_keeps_what_the_law_requires_and_lists_recipients_to_notify(service):
    plan = service.erasure_plan(principal=DPO, subject="C-1", today=date(2026, 11, 25))
    assert plan.erase == [("actuarial", ("contact", "health.diagnosis.oncology")), ("crm", ("contact",)),
                          ("dwh", ("contact", "health.diagnosis"))]
    [kept] = plan.keep
    # P10Y from the end of the relationship, which the record does not say: kept, with no end date
    assert (kept.system, kept.category, kept.until) == ("claims", "health.diagnosis", None)
    assert kept.reason.startswith("Art. 17(3)(e)")
    # the agency that got the contact details before C-1 withdrew consent is told of the erasure too (Art. 19)
    assert [(r.party, r.flow) for r in plan.notify] == [("adco", "m1"), ("re", "f2"), ("re", "f3")]
    later = service.erasure_plan(principal=DPO, subject="C-1", today=date(2034, 6, 2))
    assert [k.system for k in later.keep] == ["claims"]


def test_reloading_a_subject_replaces_records_and_keys_and_adds_consents(service, tmp_path):
    again = {**SUBJECT, "records": [{"system": "dwh", "categories": ["contact"]}], "keys": {"email": "new@example.org"},
             "consents": [{"purpose": "wellness", "status": "granted", "at": "2026-01-01T00:00:00Z"}]}
    path = tmp_path / "again.jsonl"
    path.write_text(json.dumps(again) + "\n")
    service.load(path, principal=DPO)
    report = service.report(principal=DPO, email="new@example.org")
    assert holdings(report)[:1] == [("actuarial", "contact", ("f4",), None)]
    assert [e["purpose"] for e in report.subject.consents] == ["marketing", "marketing", "wellness"]
    with pytest.raises(NotFound):
        service.report(principal=DPO, email="c1@example.org")


def test_a_subject_twice_in_one_file_ends_as_its_last_line_with_both_consents(service, store, tmp_path):
    first = {"id": "C-9", "kind": "prospect", "records": [{"system": "crm"}], "keys": {"email": "old@example.org"},
             "consents": [{"purpose": "marketing", "status": "granted", "at": "2025-01-01T00:00:00Z"}]}
    last = {"id": "C-9", "kind": "policyholder", "records": [{"system": "dwh", "categories": ["contact"]}],
            "keys": {"email": "new@example.org"},
            "consents": [{"purpose": "marketing", "status": "withdrawn", "at": "2025-02-01T00:00:00Z"}]}
    path = tmp_path / "twice.jsonl"
    path.write_text(json.dumps(first) + "\n" + json.dumps({"id": "C-8", "kind": "prospect"}) + "\n"
                    + json.dumps(last) + "\n")
    assert service.load(path, principal=DPO) == 3
    row = service.find(principal=DPO, email=" New@Example.org")
    assert (row.id, row.kind, row.records) == ("C-9", "policyholder", [{"system": "dwh", "categories": ["contact"]}])
    assert [(e["status"], e["at"]) for e in row.consents] == [("granted", "2025-01-01T00:00:00+00:00"),
                                                              ("withdrawn", "2025-02-01T00:00:00+00:00")]
    with pytest.raises(NotFound):
        service.find(principal=DPO, email="old@example.org")
    assert store.subject_ids(["crm"], 10) == ["C-1"] and store.subject_ids(["dwh"], 10) == ["C-9"]


def test_a_file_of_many_batches_applies_whole_or_not_at_all(service, store, tmp_path):
    lines = [json.dumps({"id": f"B-{i:05d}", "kind": "insured", "records": [{"system": "claims"}],
                         "keys": {"email": f"b{i}@example.org"}}) for i in range(41_000)]
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join([*lines, '{"id": "B-X", "kind": "insured", "records": [{"system": "nowhere"}]}']) + "\n")
    with pytest.raises(SubjectsInvalid) as caught:
        service.load(path, principal=DPO)
    assert [str(p) for p in caught.value.problems] == [f"{path}:41001: subject 'B-X': records[0].system: unknown system 'nowhere'"]
    assert store.count_subjects(["claims"]) == 1  # C-1 alone: none of the 41,000 before the bad line
    path.write_text("\n".join(reversed(lines)) + "\n")  # ids in descending order
    assert service.load(path, principal=DPO) == 41_000
    assert store.count_subjects(["claims"]) == 41_001
    assert [service.find(principal=DPO, email=f"b{i}@example.org").id for i in (0, 40_999)] == ["B-00000", "B-40999"]


def test_bad_lines_are_all_reported_and_nothing_is_applied(service, tmp_path, registry):
    lines = [
        json.dumps({"id": "C-3", "kind": "claimant", "records": [{"system": "claims"}]}),
        "{not json",
        json.dumps({"id": "C-4", "kind": "martian"}),
        json.dumps({"id": "C-5", "kind": "claimant", "records": [{"system": "re"}, {"system": "crm", "source": "crm"}]}),
        json.dumps({"id": "C-6", "kind": "claimant", "consents": [{"purpose": "spam", "status": "granted",
                                                                   "at": "2025-01-01T00:00:00Z"}]}),
        json.dumps({"id": "C-7", "kind": "claimant", "consents": [{"purpose": "marketing", "status": "granted",
                                                                   "at": "2025-01-01T09:00:00"}]}),  # no offset
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SubjectsInvalid) as caught:
        service.load(path, principal=DPO)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2: Invalid JSON: key must be a string at line 1 column 2",
        f"{path}:3: subject 'C-4': kind: unknown subject category 'martian'; expected one of beneficiary, claimant, "
        "insured, other, policyholder, prospect, third-party",
        f"{path}:4: subject 'C-5': records[0].system: 're' is a party, not a system",
        f"{path}:4: subject 'C-5': records[1].source: 'crm' is a system, not a party",
        f"{path}:5: subject 'C-6': consents[0].purpose: unknown purpose 'spam'",
        f"{path}:6: consents[0].at: Input should have timezone info",
    ]
    with pytest.raises(NotFound):
        service.report(principal=DPO, subject="C-3")
    assert [e.action for e in registry.audit(limit=1000)].count("load") == 1


def test_csv_files_group_consecutive_rows_of_a_subject(service, tmp_path):
    path = tmp_path / "subjects.csv"
    path.write_text(
        "id,kind,system,categories,since,source,consent_purpose,consent_status,consent_at,consent_notice,"
        "consent_channel,key:email\n"
        "C-8,claimant,claims,health.diagnosis;contact,2025-02-01,broker,,,,,,c8@example.org\n"
        "C-8,,crm,,,,wellness,granted,2025-02-01T10:00:00+01:00,v1,phone,\n"
        "C-9,prospect,,,,,marketing,withdrawn,2025-03-01T00:00:00Z,,,\n")
    assert service.load(path, principal=DPO) == 2
    report = service.report(principal=DPO, email="C8@example.org")
    assert report.subject.records == [
        {"system": "claims", "categories": ["health.diagnosis", "contact"], "since": "2025-02-01", "source": "broker"},
        {"system": "crm", "categories": ["contact"]}]
    assert report.subject.consents == [{"at": "2025-02-01T09:00:00+00:00", "purpose": "wellness", "status": "granted",
                                        "notice": "v1", "channel": "phone"}]
    assert ("vitality", "w1", ("contact", "health.diagnosis")) in [(r.party, r.flow, r.categories)
                                                                    for r in report.recipients]
    assert service.store.subject("C-9").consents[0]["status"] == "withdrawn"


def test_consent_for_an_unknown_purpose_is_refused(service):
    with pytest.raises(NotFound, match="^purpose: unknown purpose 'spam'$"):
        service.set_consent(principal=DPO, subject="C-1", purpose="spam", status="granted")


def test_subjects_are_counted_and_listed_by_system(service, store):
    assert store.count_subjects(["claims", "crm"]) == 1
    assert store.count_subjects([]) == 0
    assert store.subject_ids(["crm"], 10) == ["C-1"]


def test_a_system_holding_subject_records_cannot_be_deleted(service, registry):
    for flow in ("f6", "m1", "b1"):
        registry.delete("flow", flow, actor="test")
    with pytest.raises(InvalidArgument, match="system 'crm' cannot be deleted: still referenced by "
                                              "the records of 1 data subject"):
        registry.delete("system", "crm", actor="test")
