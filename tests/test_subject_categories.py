"""Categories of data subjects as registry entities: a bundle section, named on declared holdings
and flows, listed and changed over GraphQL, and the `kind` of a data subject (a registry that
defines none still takes the kinds of earlier versions). On every backend."""

import asyncio
import json

import pytest

from registry.api.context import Context
from registry.api.schema import schema
from registry.auth.roles import Principal
from registry.bundle import BundleInvalid
from registry.errors import InvalidArgument
from registry.subjects.keys import KeyHasher
from registry.subjects.model import SubjectsInvalid
from registry.subjects.service import SubjectService

BUNDLE = """
subject_categories:
  - {id: policyholder, name: Policyholders}
  - {id: claimant, name: Claimants, description: Anyone who reports a loss.}
categories: [{id: contact, name: Contact details}]
purposes: [{id: claims, name: Claims handling}]
systems:
  - {id: claims-sys, name: Claims, country: DE, holds: [{category: contact, purposes: [claims],
     legal_basis: gdpr-6-1-b, retention: P10Y, subject_categories: [claimant, policyholder]}]}
  - {id: dwh, name: Warehouse, country: DE}
flows:
  - {id: f1, name: F1, from: claims-sys, to: dwh, categories: [contact], purpose: claims, legal_basis: gdpr-6-1-b,
     subject_categories: [claimant]}
"""
ADMIN = Principal.of("dpo", "admin")


def run(registry, query, role="steward"):
    context = Context(registry=registry, principal=Principal.of("tester", role))
    return asyncio.run(schema.execute(query, context_value=context))


def test_subject_categories_are_named_on_holdings_and_flows(registry):
    registry.load([("bundle.yaml", BUNDLE)], actor="test")
    assert [doc["id"] for doc in registry.list("subject-category")] == ["claimant", "policyholder"]
    [declared, carried] = sorted(registry.holders("contact"), key=lambda v: v.holding.flow or "")
    assert (declared.holding.subject_categories, carried.holding.subject_categories) == (
        ("claimant", "policyholder"), ("claimant",))
    assert carried.entity("claimant").doc == {"id": "claimant", "name": "Claimants",
                                              "description": "Anyone who reports a loss."}
    assert registry.export()["subject_categories"] == [
        {"id": "claimant", "name": "Claimants", "description": "Anyone who reports a loss."},
        {"id": "policyholder", "name": "Policyholders"}]


def test_unknown_subject_categories_are_refused_by_location(registry):
    with pytest.raises(BundleInvalid) as error:
        registry.load([("bundle.yaml", BUNDLE.replace("subject_categories: [claimant]}", "subject_categories: [x]}")
                        .replace("[claimant, policyholder]", "[contact]"))], actor="test")
    assert [str(p) for p in error.value.problems] == [
        "bundle.yaml:9:69: system 'claims-sys': holds[0].subject_categories[0]: 'contact' is a category, not a "
        "subject-category",
        "bundle.yaml:13:27: flow 'f1': subject_categories[0]: unknown subject-category 'x'"]


def test_a_subject_category_in_use_cannot_be_deleted(registry):
    registry.load([("bundle.yaml", BUNDLE)], actor="test")
    with pytest.raises(InvalidArgument, match="subject-category 'claimant' cannot be deleted: still referenced by "
                                              r"system 'claims-sys' \(holds\[0\]\.subject_categories\[0\]\), "
                                              r"flow 'f1' \(subject_categories\[0\]\)"):
        registry.delete("subject-category", "claimant", actor="test")


def test_subject_categories_over_graphql(registry):
    registry.load([("bundle.yaml", BUNDLE)], actor="test")
    result = run(registry, """mutation { upsertSubjectCategory(input: {id: "prospect", name: "Prospects"}) { id name } }""")
    assert result.errors is None and result.data == {"upsertSubjectCategory": {"id": "prospect", "name": "Prospects"}}
    result = run(registry, """{ subjectCategories { nodes { id name } }
        systems { nodes { holds { subjectCategories { id } } } } flows { nodes { subjectCategories { name } } } }""")
    assert result.errors is None
    assert result.data == {
        "subjectCategories": {"nodes": [{"id": "claimant", "name": "Claimants"},
                                        {"id": "policyholder", "name": "Policyholders"},
                                        {"id": "prospect", "name": "Prospects"}]},
        "systems": {"nodes": [{"holds": [{"subjectCategories": [{"id": "claimant"}, {"id": "policyholder"}]}]},
                              {"holds": []}]},
        "flows": {"nodes": [{"subjectCategories": [{"name": "Claimants"}]}]}}
    result = run(registry, 'mutation { deleteSubjectCategory(id: "prospect") { id } }')
    assert result.errors is None


def load_subject(registry, tmp_path, kind):
    service = SubjectService(registry, KeyHasher(b"secret"))
    path = tmp_path / "subjects.jsonl"
    path.write_text(json.dumps({"id": "C-1", "kind": kind, "records": [{"system": "claims-sys"}]}) + "\n")
    return service.load(path, principal=ADMIN)


def test_a_subjects_kind_names_one_of_the_registrys_subject_categories(registry, tmp_path):
    registry.load([("bundle.yaml", BUNDLE)], actor="test")
    assert load_subject(registry, tmp_path, "claimant") == 1
    with pytest.raises(SubjectsInvalid) as error:
        load_subject(registry, tmp_path, "beneficiary")   # a kind of earlier versions, not defined here
    assert str(error.value).endswith(":1: subject 'C-1': kind: unknown subject category 'beneficiary'; expected one "
                                     "of claimant, policyholder")


def test_a_registry_without_subject_categories_takes_the_earlier_kinds(registry, tmp_path):
    registry.load([("bundle.yaml", "systems: [{id: claims-sys, name: Claims, country: DE}]")], actor="test")
    assert load_subject(registry, tmp_path, "beneficiary") == 1
    with pytest.raises(SubjectsInvalid, match="kind: unknown subject category 'martian'"):
        load_subject(registry, tmp_path, "martian")


STAFF = """
subject_categories:
  - {id: policyholder, name: Policyholders}
  - {id: claimant, name: Claimants}
  - {id: employee, name: Employees}
categories: [{id: contact, name: Contact details}, {id: health, name: Health data}]
purposes: [{id: claims, name: Claims handling}, {id: sick-leave, name: Sick leave}, {id: hr, name: Staff records}]
systems:
  - id: claims-sys
    name: Claims
    country: DE
    holds:
      - {category: contact, purposes: [claims], legal_basis: gdpr-6-1-b, retention: P10Y}
      - {category: health, purposes: [claims], legal_basis: gdpr-6-1-b, retention: P10Y, subject_categories: [claimant]}
      - {category: health, purposes: [sick-leave], legal_basis: gdpr-6-1-c, retention: P3Y,
         subject_categories: [employee]}
      - {category: contact, purposes: [hr], legal_basis: gdpr-6-1-b, retention: P6Y, subject_categories: [employee]}
"""


@pytest.mark.parametrize("kind, expected", [
    # what the system declares for everyone's data, and for claimants'
    ("claimant", [("contact", ("claims",), "gdpr-6-1-b", "P10Y"), ("health", ("claims",), "gdpr-6-1-b", "P10Y")]),
    # no health data: the system declares it for claimants and employees only
    ("policyholder", [("contact", ("claims",), "gdpr-6-1-b", "P10Y")]),
    # the declarations naming employees, before the one for everyone (contact) and the one for claimants (health)
    ("employee", [("contact", ("hr",), "gdpr-6-1-b", "P6Y"), ("health", ("sick-leave",), "gdpr-6-1-c", "P3Y")]),
])
def test_a_record_holds_what_its_system_declares_for_subjects_of_its_kind(registry, tmp_path, kind, expected):
    registry.load([("bundle.yaml", STAFF)], actor="test")
    load_subject(registry, tmp_path, kind)
    service = SubjectService(registry, KeyHasher(b"secret"))
    report = service.report(principal=ADMIN, subject="C-1")
    assert [(h.category, h.purposes, h.legal_basis, h.retention) for h in report.holdings] == expected
    assert [r["categories"] for r in report.subject.records] == [[category for category, *_ in expected]]


def test_a_record_in_a_system_that_declares_nothing_for_its_kind_holds_what_the_system_declares(registry, tmp_path):
    """The registry says the system holds claimants' health data, yet it has a policyholder's
    record: the report lists the system with what it declares, on no recorded terms for them,
    rather than leave it out."""
    registry.load([("bundle.yaml", STAFF.replace(
        "      - {category: contact, purposes: [claims], legal_basis: gdpr-6-1-b, retention: P10Y}\n", "")
        .replace("      - {category: contact, purposes: [hr], legal_basis: gdpr-6-1-b, retention: P6Y, "
                 "subject_categories: [employee]}\n", ""))], actor="test")
    load_subject(registry, tmp_path, "policyholder")
    report = SubjectService(registry, KeyHasher(b"secret")).report(principal=ADMIN, subject="C-1")
    assert [(h.system, h.category, h.purposes, h.legal_basis) for h in report.holdings] == [
        ("claims-sys", "health", (), None)]
