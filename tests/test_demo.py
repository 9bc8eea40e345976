"""The bundled demo insurer: realistic size, loads cleanly, and answers the README's question."""

import pytest

from registry.cli import DEMO


@pytest.fixture
def demo(registry):
    registry.load([("demo", DEMO.read_text())], actor="test")
    return registry


def test_demo_has_the_promised_size_and_parties(demo):
    counts = {type_: len(demo.list(type_)) for type_ in ("system", "party", "category", "agreement", "flow")}
    assert counts["system"] >= 15 and counts["party"] >= 8 and counts["category"] >= 12
    assert counts["agreement"] >= 10 and counts["flow"] >= 40
    parties = demo.list("party")
    reinsurers = [p for p in parties if p["kind"] == "reinsurer"]
    assert len(reinsurers) >= 2
    assert any(p["country"] not in EU for p in reinsurers)
    assert {"regulator", "broker", "tpa", "processor", "affiliate"} <= {p["kind"] for p in parties}
    categories = demo.list("category")
    assert any(c.get("criminal") for c in categories)
    assert {"health", "genetic"} <= {c["id"] for c in categories if c.get("special")}
    expired = [a["id"] for a in demo.list("agreement") if a.get("expires", "9999") < "2026-11-25"]
    assert len(expired) == 1


def test_health_data_reaches_both_reinsurers_with_a_path(demo):
    holders = demo.holders("health")
    reinsurers = {p["id"] for p in demo.list("party") if p["kind"] == "reinsurer"}
    reached = {v.holding.holder for v in holders if v.holding.holder in reinsurers}
    assert reached == reinsurers
    assert all(v.holding.path and v.holding.path[-1] == v.holding.flow for v in holders if not v.holding.declared)


EU = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
      "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}
