"""Which law applies: the GDPR only where it reaches (an end under it, or data that came from the
EEA through any chain), the UK GDPR likewise, GLBA and NAIC where the sender is under them; the
health flag, not every special category, for NAIC; findings name their regime. On every backend."""

import json
from datetime import date

import pytest

from registry.compliance import findings
from registry.compliance.findings import all_rules
from registry.compliance.sarif import sarif_log
from tests.compliance_cases import entity, load_case

TODAY = date(2026, 11, 25)
US_ONLY = "us-only-health-flagged-under-gdpr-art9"
VOICEPRINT = "naic-rule-treats-biometric-as-health"


def found(registry):
    return [(f.rule, f.entity_kind, f.entity_id, f.category, f.regime) for f in findings(registry, as_of=TODAY)]


def test_us_health_data_under_glba_and_naic_alone_raises_no_gdpr_finding(registry):
    assert found(load_case(registry, US_ONLY)) == []


@pytest.mark.parametrize("overlay", [
    entity(US_ONLY, "systems", "us-underwriting", country="DE"),
    # A US portal offering policies to EU residents (GDPR Art. 3(2)).
    entity(US_ONLY, "systems", "us-underwriting", jurisdictions=["gdpr", "glba", "naic"]),
], ids=["same-holding-in-a-german-system", "us-system-under-gdpr-art-3-2"])
def test_the_same_holding_where_the_gdpr_reaches_is_flagged(registry, overlay):
    assert found(load_case(registry, US_ONLY, overlay)) == [
        ("missing-legal-basis", "holding", "us-underwriting", "health", "gdpr"),
        ("special-category-without-condition", "holding", "us-underwriting", "health", "gdpr")]


def test_a_holding_can_record_what_each_regime_needs_at_once(registry):
    overlay = """
systems:
  - id: us-underwriting
    name: US underwriting
    country: US
    jurisdictions: [gdpr, glba, naic]
    holds:
      - {category: health, purposes: [underwriting], legal_basis: gdpr-6-1-b, condition: gdpr-9-2-a,
         additional_bases: [glba-6802-e-1, naic-672-authorisation], retention: P7Y}
"""
    assert found(load_case(registry, US_ONLY, overlay)) == []


def test_data_that_came_from_the_eea_brings_the_gdpr_along_any_chain(registry):
    # Applicants' health answers reach the US system from a German portal through a US intake queue.
    overlay = """
systems:
  - {id: de-portal, name: German portal, country: DE, holds: [{category: health, purposes: [underwriting],
     legal_basis: gdpr-6-1-b, condition: gdpr-9-2-a, retention: P1Y}]}
  - {id: us-intake, name: US intake queue, country: US}
flows:
  - {id: portal-to-intake, name: Applications, from: de-portal, to: us-intake, categories: [health],
     purpose: underwriting, legal_basis: gdpr-6-1-b, condition: gdpr-9-2-a, transfer_mechanism: scc}
  - {id: intake-to-uw, name: Applications to underwriting, from: us-intake, to: us-underwriting,
     categories: [health], purpose: underwriting, legal_basis: glba-6802-e-1, condition: naic-672-authorisation}
"""
    assert found(load_case(registry, US_ONLY, overlay)) == [
        ("missing-legal-basis", "flow", "intake-to-uw", None, "gdpr"),
        ("missing-legal-basis", "holding", "us-underwriting", "health", "gdpr"),
        ("special-category-without-condition", "flow", "intake-to-uw", None, "gdpr"),
        ("special-category-without-condition", "holding", "us-underwriting", "health", "gdpr"),
        ("transfer-without-safeguard", "flow", "intake-to-uw", None, "gdpr")]  # an onward transfer of EEA data


def test_gdpr_rules_check_only_the_categories_the_gdpr_governs_on_a_flow(registry):
    # EEA contact details and US health answers travel together: the GDPR governs the contact
    # details only, so Art. 9 has nothing to say about the health answers; GLBA/NAIC bases are
    # no Art. 6 basis, and the onward transfer of the contact details needs a safeguard.
    overlay = """
categories:
  - {id: contact, name: Contact details}
systems:
  - {id: de-crm, name: German CRM, country: DE, holds: [{category: contact, purposes: [underwriting],
     legal_basis: gdpr-6-1-b, retention: P1Y}]}
  - {id: us-lab, name: US lab, country: US}
flows:
  - {id: crm-to-uw, name: Contacts, from: de-crm, to: us-underwriting, categories: [contact], purpose: underwriting,
     legal_basis: gdpr-6-1-b, transfer_mechanism: scc}
  - {id: uw-to-lab, name: Lab orders, from: us-underwriting, to: us-lab, categories: [contact, health],
     purpose: underwriting, legal_basis: gdpr-6-1-b, additional_bases: [glba-6802-e-1], transfer_mechanism: scc}
  - {id: uw-to-lab-2, name: Lab results, from: us-underwriting, to: us-lab, categories: [contact, health],
     purpose: underwriting, legal_basis: glba-6802-e-1, condition: naic-672-authorisation}
"""
    assert found(load_case(registry, US_ONLY, overlay)) == [
        ("missing-legal-basis", "flow", "uw-to-lab-2", None, "gdpr"),
        ("transfer-without-safeguard", "flow", "uw-to-lab-2", None, "gdpr")]


def test_findings_name_their_regime_and_sarif_carries_it(registry):
    load_case(registry, US_ONLY, entity(US_ONLY, "systems", "us-underwriting", country="GB"))
    found_ = findings(registry, as_of=TODAY)
    assert [(f.rule, f.regime, f.reference) for f in found_] == [
        ("missing-legal-basis", "uk-gdpr", "UK GDPR Art. 6(1)"),
        ("special-category-without-condition", "uk-gdpr", "UK GDPR Art. 9(1)-(2)")]
    log = sarif_log(found_, all_rules(registry).values(), version="test")
    [run] = log["runs"]
    assert [r["properties"]["regime"] for r in run["results"]] == ["uk-gdpr", "uk-gdpr"]
    rules = {r["id"]: r["properties"]["regimes"] for r in run["tool"]["driver"]["rules"]}
    assert (rules["missing-legal-basis"], rules["naic-health-without-authorisation"]) == (["gdpr", "uk-gdpr"], ["naic"])
    json.dumps(log)


# --- health is not every special category ----------------------------------------------------

def test_a_voiceprint_is_not_health_information_for_naic(registry):
    assert found(load_case(registry, VOICEPRINT)) == []


def test_health_information_still_needs_the_naic_authorisation(registry):
    overlay = entity(VOICEPRINT, "categories", "voiceprint", health=True)
    assert found(load_case(registry, VOICEPRINT, overlay)) == [
        ("naic-health-without-authorisation", "flow", "ivr-to-vendor", None, "naic")]


def test_health_is_inherited_by_descendants(registry):
    overlay = """
categories:
  - {id: voiceprint, name: Caller voiceprint, special: true, health: true}
  - {id: hearing, name: Hearing test results, parent: voiceprint}
""" + entity(VOICEPRINT, "flows", "ivr-to-vendor", categories=["hearing"])
    assert found(load_case(registry, VOICEPRINT, overlay)) == [
        ("naic-health-without-authorisation", "flow", "ivr-to-vendor", None, "naic")]


def test_a_voiceprint_flow_leaving_the_eea_stays_under_gdpr_art_9(registry):
    # The same IVR in Germany, recording what a US team would: the NAIC authorisation, no Art. 9(2) condition.
    overlay = entity(VOICEPRINT, "systems", "us-ivr", country="DE") \
        + entity(VOICEPRINT, "flows", "ivr-to-vendor", condition="naic-672-authorisation")
    assert found(load_case(registry, VOICEPRINT, overlay)) == [
        ("missing-legal-basis", "flow", "ivr-to-vendor", None, "gdpr"),
        ("special-category-without-condition", "flow", "ivr-to-vendor", None, "gdpr"),
        ("transfer-without-safeguard", "flow", "ivr-to-vendor", None, "gdpr")]


@pytest.mark.parametrize("jurisdictions, rules", [
    (None, ["naic-health-without-authorisation"]),
    (["gdpr"], ["missing-legal-basis", "transfer-without-safeguard"]),
], ids=["us-country", "declared-under-the-gdpr-only"])
def test_us_rules_follow_the_senders_jurisdictions_not_its_country(registry, jurisdictions, rules):
    overlay = entity(VOICEPRINT, "categories", "voiceprint", health=True, npi=True) \
        + entity(VOICEPRINT, "systems", "us-ivr", jurisdictions=jurisdictions)
    assert [f[0] for f in found(load_case(registry, VOICEPRINT, overlay))] == rules
