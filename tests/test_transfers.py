"""Onward transfers at any depth (GDPR and UK GDPR Art. 44): a flow is a transfer when its
receiving end is in a third country without adequacy for the regime concerned and it carries data
that came from the regime's territory through any chain, adequate hops included. On every backend."""

from datetime import date

import pytest
import yaml

from registry.compliance import Settings, findings, ropa
from registry.compliance.transfers import Countries
from tests.compliance_cases import entity, load_case

TODAY = date(2026, 11, 25)
CHAIN = "onward-transfer-two-hops"


def found(registry, as_of=TODAY):
    return [(f.rule, f.entity_id, f.regime) for f in findings(registry, as_of=as_of)]


def test_the_third_hop_of_eea_data_to_an_unsafeguarded_us_retrocessionaire_is_caught(registry):
    # It left the EEA through the UK and the UK through Bermuda: both regimes see it.
    assert found(load_case(registry, CHAIN)) == [("transfer-without-safeguard", "f3", "gdpr"),
                                                  ("transfer-without-safeguard", "f3", "uk-gdpr")]
    [gdpr, uk] = findings(registry, as_of=TODAY)
    assert gdpr.message == (
        "Flow f3 (reinsurer → retro) is an onward transfer of data received from the EEA to US, where no EU adequacy "
        "decision covers this recipient, and there is no transfer mechanism on the flow or its agreement: the data "
        "leaves the GDPR's protection without appropriate safeguards.")
    assert (uk.reference, uk.message.split(", where")[0]) == (
        "UK GDPR Art. 44-46", "Flow f3 (reinsurer → retro) is an onward transfer of data received from the UK to US")


def test_holders_see_the_data_arrive_at_the_end_of_the_chain(registry):
    [retro] = [v.holding for v in load_case(registry, CHAIN).holders("claims-history") if v.holding.holder == "retro"]
    assert retro.path == ("f1", "f2", "f3")


@pytest.mark.parametrize("overlay, expected", [
    (entity(CHAIN, "agreements", "a3", transfer_mechanism="scc"), []),
    # Without the GB hop (the broker flow ended, the cedant cedes to Bermuda directly): the GDPR alone.
    (entity(CHAIN, "flows", "f2", status="ended")
     + entity(CHAIN, "flows", "f1", to="reinsurer", agreement="a2").replace("flows:\n", ""),
     [("transfer-without-safeguard", "f3", "gdpr")]),
    # Through two adequate countries (GB, then CH): still caught at the third hop.
    (entity(CHAIN, "parties", "reinsurer", country="CH"),
     [("transfer-without-safeguard", "f3", "gdpr"), ("transfer-without-safeguard", "f3", "uk-gdpr")]),
    # A DPF-certified retrocessionaire: adequate for the EU, not for the UK without the UK Extension.
    (entity(CHAIN, "parties", "retro", dpf_certified=True), [("transfer-without-safeguard", "f3", "uk-gdpr")]),
    (entity(CHAIN, "parties", "retro", dpf_certified=True, dpf_uk_extension=True), []),
    # The chain broken: the reinsurer's flow carries other data than it received.
    ("categories: [{id: cat-models, name: Catastrophe model output}]\n"
     + entity(CHAIN, "flows", "f3", categories=["cat-models"]), []),
], ids=["scc-on-the-last-treaty", "without-the-gb-hop", "two-adequate-hops", "dpf-without-uk-extension",
        "dpf-with-uk-extension", "other-data-onward"])
def test_near_misses(registry, overlay, expected):
    assert found(load_case(registry, CHAIN, overlay)) == expected


def test_uk_data_alone_is_judged_by_the_uk_list(registry):
    # A UK cedant: Switzerland is adequate for the UK, and no EU rule applies.
    overlay = entity(CHAIN, "systems", "cedant", country="GB") + entity(CHAIN, "parties", "broker", country="CH")
    registry = load_case(registry, CHAIN, overlay)
    assert found(registry) == [("transfer-without-safeguard", "f3", "uk-gdpr")]
    record = ropa(registry, settings=Settings.packaged(), on=TODAY)
    [cedant] = [a for a in record.activities if a.system == "cedant"]
    assert [(t.flow, t.regime, t.safeguard) for t in cedant.transfers] == [
        ("f1", "uk-gdpr", "UK adequacy regulation: Data Protection Act 2018 Sch. 21 para. 5 (Switzerland)")]


def test_the_uk_lists_are_dated():
    countries = Countries.load()
    assert countries.decision_for("KR", date(2022, 12, 18), regime="uk-gdpr") is None
    assert countries.decision_for("KR", date(2022, 12, 19), regime="uk-gdpr") is not None
    assert countries.decision_for("BR", date(2026, 11, 25), regime="uk-gdpr") is None   # an EU decision only
    assert countries.decision_for("BR", date(2026, 11, 25)) is not None
    assert countries.territory("uk-gdpr") == {"GB"} and "FR" in countries.territory("gdpr")


def test_a_countries_file_without_a_uk_section_keeps_the_packaged_uk_lists(tmp_path):
    text = Countries.load().model_dump(mode="json", exclude={"uk"})
    path = tmp_path / "countries.yaml"
    path.write_text(yaml.safe_dump(text))
    assert Countries.load(path).uk == Countries.load().uk
