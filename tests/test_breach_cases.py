"""Breach answers a DPO can send (issue 13): recipients that received exposed data apart from those
that only may have (flows of scope `case` without a recorded disclosure), overdue deadlines, and
whose duty each notification is; on every backend, through the service, GraphQL and the CLI."""

import asyncio
import json
from datetime import datetime

import pytest

from registry.api.context import Context
from registry.api.schema import schema
from registry.auth.roles import Principal
from registry.compliance import breach_impact
from registry.subjects.keys import KeyHasher
from registry.subjects.service import SubjectService
from tests.subject_graphs import CASE_SUBJECTS, CASES

DPO = Principal.of("alice", "dpo")


@pytest.fixture
def loaded(registry, tmp_path):
    registry.load([("cases.yaml", CASES)], actor="test")
    path = tmp_path / "subjects.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in CASE_SUBJECTS))  # P-1: a disclosure on fac, 2025-03-01
    SubjectService(registry, KeyHasher(None)).load(path, principal=DPO)
    return registry


def at(text):
    return datetime.fromisoformat(text)


def holders(recipients):
    return [(r.holder.id, r.flows) for r in recipients]


def test_case_flows_with_a_disclosure_received_the_data_those_without_only_may_have(loaded):
    found = breach_impact(loaded, systems=["claims"], detected_at=at("2026-11-25T09:00:00+01:00"))
    assert holders(found.recipients) == [("fac-re", ["fac"]), ("retro-re", ["retro"]), ("surveyco", ["survey"])]
    assert holders(found.potential_recipients) == [("lka", ["lka-referral"])]


def test_before_the_first_disclosure_the_case_flow_and_what_lies_beyond_only_may_have(loaded):
    found = breach_impact(loaded, systems=["claims"], detected_at=at("2025-02-01T09:00:00Z"))
    assert holders(found.recipients) == [("surveyco", ["survey"])]
    assert holders(found.potential_recipients) == [
        ("fac-re", ["fac"]), ("lka", ["lka-referral"]), ("retro-re", ["retro"])]


def test_deadlines_before_the_analysis_are_overdue(loaded):
    detected = at("2026-11-25T09:00:00Z")
    early = breach_impact(loaded, systems=["claims"], detected_at=detected, now=at("2026-11-28T08:59:59Z"))
    late = breach_impact(loaded, systems=["claims"], detected_at=detected, now=at("2026-11-28T09:00:01Z"))
    assert [(d.id, d.overdue) for d in early.duties] == [("gdpr-art-33", False)]
    assert [(d.id, d.overdue) for d in late.duties] == [("gdpr-art-33", True)]


def test_a_processor_must_tell_us_and_an_independent_controller_notifies_on_its_own(loaded):
    processor = breach_impact(loaded, parties=["mailer"], detected_at=at("2026-11-25T09:00:00Z"))
    assert [(d.id, d.duty_of, d.notify, d.reference, d.deadline) for d in processor.duties] == [
        ("gdpr-art-33", None, "the competent supervisory authority", "GDPR Art. 33(1)", at("2026-11-28T09:00:00Z")),
        ("gdpr-art-33-2", "mailer", "us, the controller", "GDPR Art. 33(2)", None)]
    assert processor.duties[1].timing == "without undue delay after becoming aware of the breach"
    controller = breach_impact(loaded, parties=["fac-re"], detected_at=at("2026-11-25T09:00:00Z"))
    assert [(d.id, d.duty_of) for d in controller.duties] == [("controller-own", "fac-re")]
    assert controller.duties[0].reason.startswith("Facultative Re is an independent controller: notifying is its own")


def test_the_breach_over_graphql(loaded):
    context = Context(registry=loaded, principal=Principal.of("tester", "viewer"))
    result = asyncio.run(schema.execute(
        '{ breachImpact(systems: ["claims"], parties: ["mailer"], detectedAt: "2025-02-01T09:00:00Z") { '
        'recipients { holder { id } flows } potentialRecipients { holder { id } } '
        'duties { id dutyOf overdue } } }', context_value=context))
    assert result.errors is None
    answer = result.data["breachImpact"]
    assert [r["holder"]["id"] for r in answer["recipients"]] == ["surveyco"]
    assert [r["holder"]["id"] for r in answer["potentialRecipients"]] == ["fac-re", "lka", "retro-re"]
    assert answer["duties"] == [{"id": "gdpr-art-33", "dutyOf": None, "overdue": True},
                                {"id": "gdpr-art-33-2", "dutyOf": "mailer", "overdue": False}]


SURVEY_FILES = """
flows:
  - {id: survey-files, name: Disputed claims to Survey Co, from: claims, to: surveyco, categories: [CARRIED],
     purpose: claims-handling, legal_basis: gdpr-6-1-f, scope: case}
"""


def test_a_recipient_that_received_some_exposed_data_may_still_have_received_more_in_a_case(loaded):
    loaded.load([("survey-files.yaml", SURVEY_FILES.replace("CARRIED", "claim"))], actor="test")
    found = breach_impact(loaded, systems=["claims"], detected_at=at("2026-11-25T09:00:00Z"))
    assert [(r.holder.id, [c["id"] for c in r.categories], r.flows) for r in found.recipients
            if r.holder.id == "surveyco"] == [("surveyco", ["contact"], ["survey"])]
    assert [(r.holder.id, [c["id"] for c in r.categories], r.flows) for r in found.potential_recipients] == [
        ("lka", ["claim"], ["lka-referral"]), ("surveyco", ["claim"], ["survey-files"])]


def test_a_case_flow_carrying_only_what_its_recipient_received_anyway_adds_no_potential_recipient(loaded):
    loaded.load([("survey-files.yaml", SURVEY_FILES.replace("CARRIED", "contact"))], actor="test")
    found = breach_impact(loaded, systems=["claims"], detected_at=at("2026-11-25T09:00:00Z"))
    assert holders(found.potential_recipients) == [("lka", ["lka-referral"])]
