"""Lineage gaps (`source-does-not-hold`): a system holds a category it declares, or receives
through a chain of flows that starts at a declaration or at a party; a cycle nothing feeds is a
gap on each of its flows, and so is a chain that starts at a gap. On every backend."""

from datetime import date

import pytest

from registry.compliance import findings
from tests.compliance_cases import entity, load_case

TODAY = date(2026, 11, 25)
CYCLE = "cycle-hides-lineage-gap"


def gaps(registry):
    return [f.entity_id for f in findings(registry, as_of=TODAY, rule="source-does-not-hold")]


def test_a_cycle_nothing_feeds_is_a_gap_on_every_flow_of_it(registry):
    assert gaps(load_case(registry, CYCLE)) == ["archive-to-claims", "claims-to-archive"]


FEEDS = """
parties: [{id: broker, name: Broker, kind: broker, country: DE, role: controller}]
agreements: [{id: dsa, name: DSA, kind: dsa, parties: [broker], effective: 2025-01-01}]
flows:
  - {id: broker-to-claims, name: Claims notices, from: broker, to: claims, categories: [claims-history],
     purpose: claims-handling, legal_basis: gdpr-6-1-b, agreement: dsa}
"""


@pytest.mark.parametrize("overlay", [
    entity(CYCLE, "systems", "claims", holds=[{"category": "claims-history", "purposes": ["claims-handling"],
                                                 "legal_basis": "gdpr-6-1-b", "retention": "P10Y"}]),
    FEEDS,
    """
systems:
  - {id: fnol, name: Loss notices, country: DE, holds: [{category: claims-history, purposes: [claims-handling],
     legal_basis: gdpr-6-1-b, retention: P1Y}]}
flows:
  - {id: fnol-to-archive, name: Notices, from: fnol, to: archive, categories: [claims-history],
     purpose: claims-handling, legal_basis: gdpr-6-1-b}
""",
], ids=["one-end-declares", "a-party-feeds-it", "a-declaring-system-feeds-it"])
def test_a_cycle_fed_from_outside_is_no_gap(registry, overlay):
    assert gaps(load_case(registry, CYCLE, overlay)) == []


def test_a_feed_no_longer_in_force_leaves_the_cycle_unfed(registry):
    overlay = FEEDS.replace("agreement: dsa}", "agreement: dsa, until: 2026-06-30}")
    assert gaps(load_case(registry, CYCLE, overlay)) == ["archive-to-claims", "claims-to-archive"]


def test_a_chain_that_starts_at_a_gap_is_a_gap_all_along(registry):
    overlay = """
systems: [{id: reports, name: Reporting, country: DE}]
flows:
  - {id: archive-to-reports, name: Report extracts, from: archive, to: reports, categories: [claims-history],
     purpose: claims-handling, legal_basis: gdpr-6-1-b}
  - {id: archive-to-claims, name: restore sync, from: archive, to: claims, categories: [claims-history],
     purpose: claims-handling, legal_basis: gdpr-6-1-b, status: ended}
"""
    assert gaps(load_case(registry, CYCLE, overlay)) == ["archive-to-reports", "claims-to-archive"]
