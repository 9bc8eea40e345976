"""Planned and ended flows: only flows in force on the evaluation date carry data (holders,
holdings, lineage, DSAR, breach, the Art. 30 record); proposed flows are still checked, with
findings at most warnings; flows out of force for any other reason raise nothing. Every answer
takes the date (`asOf`, default today). On every backend."""

import asyncio
import json
from datetime import date, datetime, timezone

import pytest

from registry.api.context import Context
from registry.api.schema import schema
from registry.auth.roles import Principal
from registry.compliance import Settings, breach_impact, findings, ropa
from registry.subjects.keys import KeyHasher
from registry.subjects.service import SubjectService
from tests.compliance_cases import entity, load_case

TODAY = date(2026, 11, 25)
PLANNED = "proposed-flow-counted-as-holding"
PROPOSED = entity(PLANNED, "flows", "claims-to-vendor", status="proposed")


def holders(registry, on=TODAY):
    return [(v.holding.holder, v.holding.flow) for v in registry.holders("health", as_of=on)]


def recipients(registry, on=TODAY):
    return [r.holder.id for r in breach_impact(registry, systems=["claims"], as_of=on,
                                              detected_at=datetime(2026, 11, 25, 9, tzinfo=timezone.utc)).recipients]


def ropa_recipients(registry, on=TODAY):
    [claims] = ropa(registry, settings=Settings.packaged(), on=on).activities
    return [r.id for r in claims.recipients]


def found(registry, on=TODAY):
    return [(f.rule, f.severity, f.entity_id) for f in findings(registry, as_of=on)]


def test_the_flow_as_it_came_counts_as_live(registry):
    load_case(registry, PLANNED)
    assert holders(registry) == [("claims", None), ("new-vendor", "claims-to-vendor")]
    assert recipients(registry) == ropa_recipients(registry) == ["new-vendor"]
    assert found(registry) == [("agreement-not-active", "error", "claims-to-vendor")]


def test_a_proposed_flow_carries_nothing_but_is_still_checked_as_a_warning(registry):
    load_case(registry, PLANNED, PROPOSED)
    assert holders(registry) == [("claims", None)]
    assert [v.holding.flow for v in registry.holdings("new-vendor", as_of=TODAY)] == []
    assert recipients(registry) == ropa_recipients(registry) == []
    [finding] = findings(registry, as_of=TODAY)
    assert (finding.rule, finding.severity, finding.regime) == ("agreement-not-active", "warning", "gdpr")
    assert finding.message.endswith("no agreement in force covers the data. The flow is proposed: it carries no data "
                                    "yet, so this is a warning to settle before it goes live.")
    assert findings(registry, as_of=TODAY, severity="error") == []


def test_lineage_shows_proposed_flows_only_when_asked_and_marks_them(registry):
    load_case(registry, PLANNED, PROPOSED)
    assert registry.lineage("claims", as_of=TODAY).edges == []
    planned = registry.lineage("claims", as_of=TODAY, include_proposed=True)
    assert [(e["id"], e["status"]) for e in planned.edges] == [("claims-to-vendor", "proposed")]
    assert planned.distances == {"claims": 0, "new-vendor": 1}


@pytest.mark.parametrize("changes, live", [
    (dict(status="ended"), []),
    (dict(status="suspended"), []),
    (dict(until="2026-11-24"), []),
    (dict(since="2026-11-26"), []),
    (dict(status="ended", since="2025-01-01", until="2026-11-25"), ["claims-to-vendor"]),
    (dict(since="2026-11-25", until="2026-11-25"), ["claims-to-vendor"]),
], ids=["ended", "suspended", "until-passed", "since-ahead", "ended-on-its-last-day", "one-day-window"])
def test_flows_out_of_force_carry_nothing_and_raise_nothing(registry, changes, live):
    # The agreement made active, so that only the flow's own state decides.
    load_case(registry, PLANNED, entity(PLANNED, "agreements", "dpa-draft", status="active", effective="2025-01-01"),
              entity(PLANNED, "flows", "claims-to-vendor", **changes))
    assert [flow for _, flow in holders(registry) if flow] == live
    assert recipients(registry) == ropa_recipients(registry) == ["new-vendor"] * len(live)
    assert found(registry) == []
    assert [e["id"] for e in registry.lineage("claims", as_of=TODAY, include_proposed=True).edges] == live


def test_the_evaluation_date_moves_the_window(registry):
    load_case(registry, PLANNED, entity(PLANNED, "flows", "claims-to-vendor", since="2027-01-01"))
    assert (holders(registry, date(2026, 12, 31)), holders(registry, date(2027, 1, 1))) == (
        [("claims", None)], [("claims", None), ("new-vendor", "claims-to-vendor")])
    # From the day it runs, the draft DPA is an error.
    assert found(registry, date(2026, 12, 31)) == []
    assert found(registry, date(2027, 1, 1)) == [("agreement-not-active", "error", "claims-to-vendor")]


def test_a_dsar_follows_only_flows_in_force(registry, tmp_path):
    load_case(registry, PLANNED)
    service = SubjectService(registry, KeyHasher(b"secret"))
    admin = Principal.of("dpo", "admin")
    path = tmp_path / "subjects.jsonl"
    path.write_text(json.dumps({"id": "C-1", "kind": "claimant", "records": [{"system": "claims"}]}) + "\n")
    service.load(path, principal=admin)
    assert [r.party for r in service.report(principal=admin, subject="C-1", as_of=TODAY).recipients] == ["new-vendor"]
    load_case(registry, PLANNED, PROPOSED)
    assert service.report(principal=admin, subject="C-1", as_of=TODAY).recipients == []


def test_dates_out_of_order_are_refused(registry):
    from registry.bundle import BundleInvalid

    with pytest.raises(BundleInvalid) as error:
        load_case(registry, PLANNED, entity(PLANNED, "flows", "claims-to-vendor", since="2027-01-01",
                                            until="2026-01-01"))
    assert str(error.value) == "overlay-0.yaml:13:10: flow 'claims-to-vendor': until: 2026-01-01 is before `since` 2027-01-01"
    with pytest.raises(BundleInvalid, match=r"flow 'claims-to-vendor': status: Input should be 'proposed', 'active', 'suspended' "
                                            r"or 'ended'"):
        load_case(registry, PLANNED, entity(PLANNED, "flows", "claims-to-vendor", status="planned"))


def run(registry, query, **variables):
    context = Context(registry=registry, principal=Principal.of("tester", "viewer"))
    return asyncio.run(schema.execute(query, variable_values=variables or None, context_value=context))


def test_graphql_takes_the_date_and_marks_proposed_flows(registry):
    load_case(registry, PLANNED, entity(PLANNED, "flows", "claims-to-vendor", status="proposed", since="2027-01-01"))
    result = run(registry, """{
        holders(category: "health", asOf: "2026-11-25") { nodes { holder { ... on System { id } } } }
        lineage(from: "claims", asOf: "2026-11-25", includeProposed: true) {
            nodes { id distance } edges { id status proposed } truncated }
        flows { nodes { id status since until } } }""")
    assert result.errors is None
    assert result.data == {
        "holders": {"nodes": [{"holder": {"id": "claims"}}]},
        "lineage": {"nodes": [{"id": "claims", "distance": 0}, {"id": "new-vendor", "distance": 1}],
                    "edges": [{"id": "claims-to-vendor", "status": "PROPOSED", "proposed": True}], "truncated": False},
        "flows": {"nodes": [{"id": "claims-to-vendor", "status": "PROPOSED", "since": "2027-01-01", "until": None}]}}


def test_a_breach_follows_the_flows_in_force_when_it_became_known(registry):
    load_case(registry, PLANNED, entity(PLANNED, "agreements", "dpa-draft", status="active", effective="2025-01-01"),
              entity(PLANNED, "flows", "claims-to-vendor", since="2027-01-01"))

    def known(at):
        return [r.holder.id for r in breach_impact(registry, systems=["claims"], detected_at=at).recipients]

    assert known(datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)) == []
    # 00:30 in Berlin on 1 January is still 31 December in UTC.
    assert known(datetime.fromisoformat("2027-01-01T00:30:00+01:00")) == []
    assert known(datetime(2027, 1, 1, 0, 30, tzinfo=timezone.utc)) == ["new-vendor"]
