"""Sizes and ranges at input (`registry.bounds`): printable ids, names and free text of bounded length,
dates from 1900 to 2999 and retention periods up to 200 years, refused with one line naming the field
and the allowed range, the store unchanged; GraphQL date arguments out of range are input errors,
never an internal error. On every backend."""

from __future__ import annotations

import asyncio
from datetime import timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry import bounds
from registry.api.context import Context
from registry.api.schema import schema
from registry.auth.roles import Principal
from registry.bounds import MAX_ID, MAX_NAME, MAX_TEXT
from registry.bundle import BundleInvalid
from tests.graphs import LINEAGE


def problems(registry, text: str) -> list[str]:
    before = registry.export()
    with pytest.raises(BundleInvalid) as caught:
        registry.load([("bad.yaml", text)], actor="test")
    assert registry.export() == before
    return [str(p) for p in caught.value.problems]


@pytest.fixture
def loaded(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="test")
    return registry


@pytest.mark.parametrize("id_, shown", [
    ("a\\0b", "character 2 is U+0000 (NUL)"),
    ("claims\\u202egpj.exe", "character 7 is U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("crm\\u2066x", "character 4 is U+2066 (LEFT-TO-RIGHT ISOLATE)"),
    ("two\\nlines", "character 4 is U+000A (LINE FEED)"),
    ("tab\\tbed", "character 4 is U+0009 (TAB)"),
    ("zero\\u200bwidth", "character 5 is U+200B (ZERO WIDTH SPACE)"),
])
def test_ids_with_control_or_format_characters_are_refused_naming_the_field(loaded, id_, shown):
    raw = id_.encode().decode("unicode_escape")
    assert problems(loaded, f'categories: [{{id: "{id_}", name: X}}]') == [
        f"bad.yaml:1:19: category {raw!r}: id: must be printable: {shown}, a control or format character"]
    found = problems(loaded, f'flows: [{{id: f9, name: F, from: crm, to: dwh, categories: ["{id_}"], '
                             'purpose: analytics}]')
    assert f"bad.yaml:1:60: flow 'f9': categories[0]: must be printable: {shown}, a control or format character" \
        in found


def test_printable_ids_in_any_script_are_accepted(loaded):
    loaded.load([("ok.yaml", "categories: [{id: 'données.santé', name: Santé}, {id: '健康 記録', name: 健康}]")],
                actor="test")
    assert {"données.santé", "健康 記録"} <= {c["id"] for c in loaded.list("category")}


@pytest.mark.parametrize("field, length, limit", [("id", MAX_ID + 1, MAX_ID), ("name", MAX_NAME + 1, MAX_NAME),
                                                  ("description", MAX_TEXT + 1, MAX_TEXT)])
def test_names_descriptions_and_ids_have_a_size_limit(loaded, field, length, limit):
    doc = {"id": "p9", "name": "P", field: "x" * length}
    text = "purposes: [{" + ", ".join(f"{k}: {v}" for k, v in doc.items()) + "}]"
    [problem] = problems(loaded, text)
    assert problem.endswith(f": {field}: String should have at most {limit} characters")
    doc[field] = "x" * limit
    loaded.load([("ok.yaml", "purposes: [{" + ", ".join(f"{k}: {v}" for k, v in doc.items()) + "}]")], actor="test")


def test_a_retention_of_20000_years_is_refused_and_200_accepted(loaded):
    system = "systems: [{{id: crm, name: CRM, country: DE, holds: [{{category: contact, retention: {}}}]}}]"
    assert problems(loaded, system.format("P20000Y")) == [
        "bad.yaml:1:84: system 'crm': holds[0].retention: 'P20000Y' is longer than the longest retention allowed, "
        "200 years (P200Y)"]
    assert problems(loaded, system.format("P2401M"))[0].endswith("'P2401M' is longer than the longest retention "
                                                                 "allowed, 200 years (P200Y)")
    assert problems(loaded, system.format("-P1Y"))[0].endswith("'-P1Y' is negative; a retention period is zero or more")
    loaded.load([("ok.yaml", system.format("P200Y"))], actor="test")
    assert loaded.store.get_many(["crm"])["crm"].doc["holds"][0]["retention"] == "P200Y"


@pytest.mark.parametrize("field, value", [("effective", "9999-12-31"), ("effective", "0001-01-01"),
                                          ("expires", "3000-01-01"), ("effective", "1899-12-31")])
def test_agreement_dates_out_of_range_are_refused_with_the_range(loaded, field, value):
    dates = {"effective": "2024-01-01", field: value}
    text = ("agreements: [{id: a9, name: A, kind: dsa, parties: [re], "
            + ", ".join(f"{k}: {v}" for k, v in dates.items()) + "}]")
    [problem] = problems(loaded, text)
    assert problem.endswith(f"agreement 'a9': {field}: {value} is out of range: dates from 1900-01-01 to 2999-12-31")


def test_flow_dates_at_the_edges_of_the_range_are_accepted(loaded):
    loaded.load([("ok.yaml", "flows: [{id: f9, name: F, from: crm, to: dwh, categories: [contact], purpose: analytics, "
                             "since: 1900-01-01, until: 2999-12-31}]")], actor="test")
    assert problems(loaded, "flows: [{id: f9, name: F, from: crm, to: dwh, categories: [contact], "
                            "purpose: analytics, until: 9999-12-31}]")[0].endswith(
        "flow 'f9': until: 9999-12-31 is out of range: dates from 1900-01-01 to 2999-12-31")


def run(registry, query: str, variables: dict | None = None):
    context = Context(registry=registry, principal=Principal.of("os:test", "admin"))
    return asyncio.run(schema.execute(query, variable_values=variables, context_value=context))


@pytest.mark.parametrize("query", [
    '{ findings(asOf: "9999-12-31") { rule } }',
    '{ holders(category: "contact", asOf: "0001-01-01") { path } }',
    '{ ropa(asOf: "3000-01-01") { activities { system } } }',
    '{ breachImpact(detectedAt: "9999-12-31T23:59:59-05:00", systems: ["crm"]) { highRisk } }',
    '{ breachImpact(detectedAt: "0001-01-01T00:00:00+01:00", systems: ["crm"]) { highRisk } }',
])
def test_graphql_dates_out_of_range_are_input_errors_with_the_range(loaded, query):
    result = run(loaded, query)
    [error] = result.errors
    assert "is out of range: dates from 1900-01-01 to 2999-12-31" in error.message
    assert error.message.startswith("Expected value of type 'Date") and error.locations
    assert "internal error" not in error.message


def test_a_date_variable_out_of_range_names_the_variable(loaded):
    result = run(loaded, "query($day: Date) { findings(asOf: $day) { rule } }", {"day": "9999-12-31"})
    assert result.errors[0].message == (
        "Variable '$day' has invalid value: Expected value of type 'Date', but encountered error '9999-12-31 is out "
        "of range: dates from 1900-01-01 to 2999-12-31'; found: '9999-12-31'.")


@pytest.mark.parametrize("query", [
    '{ findings(asOf: "2999-12-31") { rule } }',
    '{ findings(asOf: "1900-01-01") { rule } }',
    '{ breachImpact(detectedAt: "2999-12-31T12:00:00Z", systems: ["crm"]) { highRisk } }',
    '{ breachImpact(detectedAt: "1900-01-01T12:00:00Z", systems: ["crm"]) { highRisk } }',
])
def test_graphql_dates_at_the_edges_of_the_range_are_answered(loaded, query):
    assert run(loaded, query).errors is None


@pytest.fixture(scope="module")
def scratch():
    from registry.bootstrap import scratch_registry

    registry = scratch_registry()
    registry.load([("lineage.yaml", LINEAGE)], actor="test")
    return registry


@settings(max_examples=60, deadline=None)
@given(day=st.dates())
def test_any_as_of_date_is_answered_or_refused_as_out_of_range(scratch, day):
    result = run(scratch, "query($day: Date) { findings(asOf: $day) { rule } }", {"day": day.isoformat()})
    if bounds.EARLIEST <= day <= bounds.LATEST:
        assert result.errors is None
    else:
        [error] = result.errors
        assert f"{day.isoformat()} is out of range: dates from 1900-01-01 to 2999-12-31" in error.message


@settings(max_examples=60, deadline=None)
@given(moment=st.datetimes(timezones=st.timezones()))
def test_any_breach_time_is_answered_or_refused_as_out_of_range(scratch, moment):
    result = run(scratch, "query($at: DateTime!) { breachImpact(detectedAt: $at, systems: [\"crm\"]) { highRisk } }",
                 {"at": moment.isoformat()})
    messages = [e.message for e in result.errors or ()]
    assert all(m.startswith("Variable '$at' has invalid value") for m in messages), messages  # input errors only
    if bounds.EARLIEST < moment.astimezone(timezone.utc).date() < bounds.LATEST and moment.utcoffset().seconds % 60 == 0:
        assert messages == []


@settings(max_examples=80, deadline=None)
@given(years=st.integers(0, 10**6), months=st.integers(0, 10**5), days=st.integers(0, 10**7))
def test_any_retention_is_stored_only_within_200_years(scratch, years, months, days):
    text = f"P{years}Y{months}M{days}D"
    length = years * 365.2425 + months * 30.436875 + days  # in days, about
    doc = {"id": "crm", "name": "CRM", "country": "DE", "holds": [{"category": "contact", "retention": text}]}
    try:
        scratch.upsert("system", doc, actor="test")
    except BundleInvalid as error:
        [problem] = error.problems
        assert problem.field == "holds[0].retention" and "200 years (P200Y)" in problem.message
        assert length > 200 * 365.2425 - 3
    else:
        assert length < 200 * 365.2425 + 3
