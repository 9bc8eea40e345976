"""Loading bundles: every class of validation error is reported together and nothing is applied;
every entity round-trips through load and export. On every backend."""

import json

import pytest
import yaml

from registry.bundle import BundleInvalid
from tests.graphs import LINEAGE


def problems(registry, text, **kwargs):
    with pytest.raises(BundleInvalid) as caught:
        registry.load([("bad.yaml", text)], actor="test", **kwargs)
    return [str(p) for p in caught.value.problems]


@pytest.fixture
def loaded(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="test")
    return registry


def unchanged(registry, before_export, before_audit):
    return registry.export() == before_export and len(registry.audit(limit=1000)) == before_audit


BAD = """
categories:
  - {id: health, name: Health re-declared, parent: health.diagnosis}
  - {id: genetic, name: Genetic, special: maybe}
  - {id: dup, name: One}
  - {id: dup, name: Two}
purposes:
  - {id: gdpr-6-1-a, name: Consent as a purpose}
  - {id: crm, name: Clashes with a system}
systems:
  - id: s1
    name: S1
    country: Germany
    holds:
      - {category: nope, purposes: [analytics], retention: 10 years}
parties:
  - {id: p1, name: P1, kind: insurer, country: DE, role: controller, colour: blue}
agreements:
  - {id: a1, name: A1, kind: dsa, parties: [p1], effective: 2024-02-30}
  - {id: a2, name: A2, kind: dsa, parties: [crm], effective: 2025-01-01, expires: 2024-12-31}
flows:
  - {id: fx, name: FX, from: crm, to: ghost, categories: [contact, health.genes], purpose: reinsurance, agreement: a2}
  - {id: fy, name: FY, from: crm, to: crm, categories: [], purpose: analytics}
  - {id: fz, name: FZ, from: dwh, to: re, categories: [contact], purpose: analytics, legal_basis: contact}
"""


def test_every_problem_is_reported_together_and_nothing_is_applied(loaded):
    before, audit = loaded.export(), len(loaded.audit(limit=1000))
    assert problems(loaded, BAD) == [
        "bad.yaml:3:52: category 'health': parent: parent cycle: health → health.diagnosis → health",
        "bad.yaml:4:43: category 'genetic': special: Input should be a valid boolean, unable to interpret input",
        "bad.yaml:6:10: category 'dup': id: duplicate id 'dup' (also at bad.yaml:5)",
        "bad.yaml:8:10: purpose 'gdpr-6-1-a': id: 'gdpr-6-1-a' is a built-in legal basis and cannot be redefined",
        "bad.yaml:9:10: purpose 'crm': id: id 'crm' is already used by a system",
        "bad.yaml:13:14: system 's1': country: 'Germany' is not an ISO 3166-1 alpha-2 country code",
        "bad.yaml:15:20: system 's1': holds[0].category: unknown category 'nope'",
        "bad.yaml:15:60: system 's1': holds[0].retention: '10 years' is not an ISO 8601 duration such as P10Y or P6M",
        "bad.yaml:17:30: party 'p1': kind: Input should be 'reinsurer', 'regulator', 'broker', 'tpa', 'processor', "
        "'affiliate', 'auditor', 'law-enforcement' or 'other' (did you mean 'reinsurer'?)",
        "bad.yaml:17:70: party 'p1': colour: unknown field",
        "bad.yaml:19:61: agreement 'a1': effective: Input should be a valid date or datetime, day value is outside "
        "expected range",
        "bad.yaml:20:45: agreement 'a2': parties[0]: 'crm' is a system, not a party",
        "bad.yaml:20:83: agreement 'a2': expires: 2024-12-31 is before `effective` 2025-01-01",
        "bad.yaml:22:39: flow 'fx': to: unknown system or party 'ghost'",
        "bad.yaml:22:68: flow 'fx': categories[1]: unknown category 'health.genes' (did you mean 'health.diagnosis'?)",
        "bad.yaml:23:56: flow 'fy': categories: List should have at least 1 item after validation, not 0",
        "bad.yaml:24:99: flow 'fz': legal_basis: 'contact' is a category, not a legal-basis",
    ]
    assert unchanged(loaded, before, audit)


@pytest.mark.parametrize("text, expected", [
    ("flows: [{id: f, name: F\n", "bad.yaml:2:1: invalid YAML: did not find expected ',' or '}'"),
    ('{"flows": [}', "bad.yaml:1:12: invalid JSON: Expecting value"),
    ("- just\n- a list\n", "bad.yaml:1:1: a bundle must be a mapping with lists such as `categories:`, `systems:` and "
                          "`flows:`"),
    ("teams: []\n", "bad.yaml:1:1: teams: unknown section; expected one of categories, purposes, "
                    "subject_categories, legal_bases, systems, parties, agreements, flows"),
    ("flow: []\n", "bad.yaml:1:1: flow: unknown section; expected one of categories, purposes, "
                   "subject_categories, legal_bases, systems, parties, agreements, flows (did you mean 'flows'?)"),
    ("flows: {id: f}\n", "bad.yaml:1:8: flows: must be a list"),
    ("flows: [{id: f, name: F, from: crm, to: crm, categories: [contact], purpose: analytics}]",
     "bad.yaml:1:41: flow 'f': to: a flow must go to another system or party than it comes from"),
    ("flows: [{id: 7, name: F, from: crm, to: dwh, categories: [contact], purpose: analytics}]",
     "bad.yaml:1:14: flows[0]: id: Input should be a valid string"),
    ("systems: [{id: s, name: S, country: de}]",
     "bad.yaml:1:37: system 's': country: 'de' is not an ISO 3166-1 alpha-2 country code"),
    ("flows: [{id: f, name: F, from: crm, to: dwh, categories: [contact], purpose: analytics, transfer_mechanism: sccs}]",
     "bad.yaml:1:109: flow 'f': transfer_mechanism: Input should be 'adequacy', 'scc', 'bcr' or 'derogation' "
     "(did you mean 'scc'?)"),
    ("agreements: [{id: a, name: A, kind: dsa, parties: [re], effective: 1 May 2024}]",
     "bad.yaml:1:68: agreement 'a': effective: Input should be a valid date or datetime, invalid character in year"),
])
def test_malformed_bundles_are_refused_with_their_location(loaded, text, expected):
    before, audit = loaded.export(), len(loaded.audit(limit=1000))
    assert problems(loaded, text) == [expected]
    assert unchanged(loaded, before, audit)


def test_a_category_parent_cycle_through_existing_categories_is_refused(loaded):
    assert problems(loaded, "categories: [{id: health, name: Health, parent: health.diagnosis.oncology}]") == [
        "bad.yaml:1:49: category 'health': parent: parent cycle: health → health.diagnosis.oncology → health.diagnosis → health"]


def test_bundles_reference_each_other_and_the_registry(registry):
    registry.load([("a.yaml", "categories: [{id: c, name: C}]\npurposes: [{id: p, name: P}]"),
                   ("b.yaml", "systems: [{id: s, name: S, country: IE, holds: [{category: c, purposes: [p]}]}]")],
                  actor="test")
    registry.load([("c.json", json.dumps({"systems": [{"id": "t", "name": "T", "country": "IE"}],
                                          "flows": [{"id": "f", "name": "F", "from": "s", "to": "t",
                                                     "categories": ["c"], "purpose": "p"}]}))], actor="test")
    assert [d["id"] for d in registry.list("flow")] == ["f"]


def test_problems_in_one_of_several_files_apply_none_of_them(registry):
    with pytest.raises(BundleInvalid) as caught:
        registry.load([("good.yaml", "categories: [{id: c, name: C}]"),
                       ("bad.yaml", "purposes: [{id: p}]")], actor="test")
    assert [str(p) for p in caught.value.problems] == ["bad.yaml:1:12: purpose 'p': name: required field is missing"]
    assert registry.list("category") == []


def test_loading_upserts_by_id(loaded):
    result = loaded.load([("u.yaml", "systems: [{id: dwh, name: Warehouse, country: NL}]\n"
                                     "purposes: [{id: pricing, name: Pricing}]")], actor="test")
    assert (result.created, result.updated) == (1, 1)
    assert loaded.entity("dwh").doc["country"] == "NL"
    assert len(loaded.list("flow")) == 7


def test_replace_deletes_everything_the_bundle_does_not_define_but_keeps_built_ins(loaded):
    result = loaded.load([("r.yaml", "categories: [{id: contact, name: Contact}]")], actor="test", replace=True)
    assert (result.created, result.updated, result.deleted, result.unchanged) == (0, 1, 21, 0)
    assert loaded.export() == {"categories": [{"id": "contact", "name": "Contact"}]}
    assert loaded.entity("gdpr-6-1-a").doc["consent"] is True


def test_replace_may_change_an_ids_entity_type(loaded):
    loaded.load([("r.yaml", "purposes: [{id: crm, name: CRM purpose}]")], actor="test", replace=True)
    assert loaded.entity("crm").type == "purpose"


def test_loading_the_same_bundle_twice_changes_nothing(loaded):
    result = loaded.load([("lineage.yaml", LINEAGE)], actor="test")
    assert (result.created, result.updated, result.deleted, result.unchanged) == (0, 0, 0, 22)


def test_every_entity_round_trips_through_export_and_load(loaded, tmp_path):
    exported = loaded.export()
    assert list(exported) == ["categories", "purposes", "systems", "parties", "agreements", "flows"]
    source = json.loads(json.dumps(yaml.safe_load(LINEAGE), default=str))
    for section, items in source.items():
        by_id = {item["id"]: item for item in exported[section]}
        for item in items:
            for field, value in item.items():
                assert by_id[item["id"]][field] == value, (section, item["id"], field)
    text = yaml.safe_dump(exported, sort_keys=False)
    result = loaded.load([("export.yaml", text)], actor="test", replace=True)
    assert (result.created, result.updated, result.deleted) == (0, 0, 0)
    assert loaded.export() == exported


def test_custom_legal_bases_round_trip(registry):
    basis = {"id": "bdsg-22", "name": "BDSG §22", "kind": "special-condition",
             "reference": "BDSG §22(1)(1)(b)", "consent": False}
    registry.load([("l.yaml", yaml.safe_dump({"legal_bases": [basis]}))], actor="test")
    assert registry.export() == {"legal_bases": [{k: v for k, v in basis.items() if k != "consent"}]}
    assert registry.entity("bdsg-22").doc == basis
