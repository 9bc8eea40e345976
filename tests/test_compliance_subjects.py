"""Compliance answers that count data subjects: the consent-withdrawal finding, impact and breach
counts, and the DPO's list of affected subjects. On every backend."""

import asyncio
import json
from datetime import datetime, timezone

import pytest

from registry.auth.roles import Principal
from registry.api.context import Context
from registry.api.schema import schema
from registry.compliance import breach_impact, findings, impact
from registry.subjects.service import SubjectService
from registry.subjects.model import KeyHasher
from tests.subject_graphs import bundles

MARKETING = """
systems:
  - {id: mkt, name: Marketing automation, country: DE}
flows:
  - {id: m2, name: Newsletter audience, from: crm, to: mkt, categories: [contact], purpose: marketing, legal_basis: gdpr-6-1-a}
"""
ADMIN = Principal.of("alice", "admin")


def subject(id_, system, status=None):
    consents = [{"purpose": "marketing", "status": "granted", "at": "2024-01-01T00:00:00Z"}]
    if status:
        consents.append({"purpose": "marketing", "status": status, "at": "2025-01-01T10:00:00+02:00"})
    return {"id": id_, "kind": "policyholder", "records": [{"system": system}], "consents": consents}


@pytest.fixture
def service(registry, tmp_path):
    registry.load([*bundles(), ("marketing.yaml", MARKETING)], actor="test")
    service = SubjectService(registry, KeyHasher(b"secret"))
    lines = [subject("S-1", "mkt", "withdrawn"), subject("S-2", "mkt", "granted"), subject("S-3", "mkt"),
             subject("S-4", "crm", "withdrawn"), subject("S-5", "claims")]
    path = tmp_path / "subjects.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    service.load(path, principal=ADMIN)
    return service


def test_consent_withdrawn_data_still_flowing_counts_subjects_in_consent_only_systems(service, registry):
    [found] = findings(registry, rule="consent-withdrawn-data-still-flowing")
    assert (found.severity, found.entity_kind, found.entity_id, found.subject_count) == ("info", "system", "mkt", 1)
    assert found.message == ("1 data subject(s) withdrew consent for marketing, yet system mkt, which receives data "
                             "only through consent-based flows (m2), still holds their data.")
    assert found.reference == "GDPR Art. 7(3), Art. 17(1)(b)"


def test_a_later_grant_clears_the_finding_and_times_compare_in_utc(service, registry):
    # 2025-01-01T09:00Z is after the withdrawal at 2025-01-01T10:00+02:00 (08:00Z).
    service.set_consent(principal=ADMIN, subject="S-1", purpose="marketing", status="granted",
                        at=datetime(2025, 1, 1, 9, 0, tzinfo=timezone.utc))
    assert findings(registry, rule="consent-withdrawn-data-still-flowing") == []
    assert service.store.subject("S-1").consents[1]["at"] == "2025-01-01T08:00:00+00:00"


def test_a_system_that_also_declares_data_on_another_basis_is_not_consent_only(service, registry):
    registry.upsert("system", {"id": "mkt", "name": "Marketing automation", "country": "DE",
                               "holds": [{"category": "contact", "purposes": ["marketing"], "legal_basis": "gdpr-6-1-f"}]},
                    actor="test")
    assert findings(registry, rule="consent-withdrawn-data-still-flowing") == []


def test_impact_and_breach_count_subjects_and_the_dpo_sees_who(service, registry):
    affected = impact(registry, system="mkt")  # mkt's own subjects and those of crm, which feeds it
    assert (affected.subject_systems, affected.subject_count) == (["crm", "mkt"], 4)
    breach = breach_impact(registry, systems=["crm", "mkt"], detected_at=datetime(2026, 11, 25, tzinfo=timezone.utc))
    assert breach.subject_count == 4
    query = '{ breachImpact(systems: ["crm", "mkt"], detectedAt: "2026-11-25T09:00:00+01:00") { subjectCount subjects } }'

    def run(roles):
        context = Context(registry=registry, subjects=service, principal=Principal.of("carol", roles))
        return asyncio.run(schema.execute(query, context_value=context))

    result = run("dpo")
    assert result.errors is None
    assert result.data["breachImpact"] == {"subjectCount": 4, "subjects": ["S-1", "S-2", "S-3", "S-4"]}
    denied = run("viewer")
    assert denied.data is None or denied.data["breachImpact"] is None
    assert denied.errors[0].extensions["code"] == "FORBIDDEN"
    [read] = [e for e in registry.audit(limit=1000) if e.action == "read"]
    assert (read.actor, read.after) == ("carol", {"what": "subjects in crm, mkt: 4"})
