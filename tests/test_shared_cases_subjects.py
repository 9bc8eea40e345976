"""The two DSAR cases of the shared cases (`tests/cases/`, copied as they came with their subject
files): `consent-without-expiry` (consent expiry) and `retention-counted-from-record-start`
(retention from the right event). Each is checked with its exact data over GraphQL, next to the
near-misses that must not change, on every backend."""

from __future__ import annotations

import json

import pytest

from registry.auth.roles import Principal
from tests.compliance_cases import CASES, entity, load_case
from tests.test_subject_mutations import ok, service_of

CONSENT = "consent-without-expiry"
RETENTION = "retention-counted-from-record-start"


def load(registry, name: str, subjects, *overlays: str):
    """Case `name` (with `overlays`) and a subject file: a file name in tests/cases, or a path."""
    load_case(registry, name, *overlays)
    path = CASES / subjects if isinstance(subjects, str) else subjects
    assert service_of(registry).load(path, principal=Principal.of("loader", "dpo")) == 1
    return registry


# --- consent-without-expiry -------------------------------------------------------------------
# After DPV's E0023: U-1 gave consent to the seasonal-offers newsletter on 2021-05-28 for two years.
# Without an `expires` (as it came) the consent stands; the file that says when it runs out
# (`.rejected-expires.jsonl`) must load, and from 2023-05-28 on the consent has expired and the two
# flows resting on it are suspended.

CONSENT_REPORT = """query ($asOf: Date) { dsar(subject: "U-1", asOf: $asOf) {
  holdings { system { id } category legalBasis consentLacking }
  recipients { party { id } flow path }
  suspendedFlows { id purpose categories expired }
  consents { purpose status at notice channel expires }
  consentStates { purpose status at expires }
} }"""
GIVEN = "2021-05-28T12:24:00+00:00"
RUNS_OUT = "2023-05-28T12:24:00+00:00"
RECIPIENTS = [{"party": {"id": "beta"}, "flow": "crm-to-beta", "path": ["crm-to-beta"]},
              {"party": {"id": "epsilon"}, "flow": "crm-to-eps", "path": ["crm-to-eps"]}]
SUSPENDED = [{"id": "crm-to-beta", "purpose": "marketing", "categories": ["email"], "expired": True},
             {"id": "crm-to-eps", "purpose": "marketing", "categories": ["email"], "expired": True}]


def consent_report(registry, as_of: str) -> dict:
    return ok(registry, CONSENT_REPORT, asOf=as_of)["dsar"]


def standing(expires: str | None) -> dict:
    """The report of a day on which U-1's consent stands."""
    return {"holdings": [{"system": {"id": "crm"}, "category": "email", "legalBasis": "gdpr-6-1-a",
                          "consentLacking": None}],
            "recipients": RECIPIENTS, "suspendedFlows": [],
            "consents": [{"purpose": "marketing", "status": "GRANTED", "at": GIVEN, "notice": "WD5", "channel": "web",
                          "expires": expires}],
            "consentStates": [{"purpose": "marketing", "status": "GRANTED", "at": GIVEN, "expires": expires}]}


def expired(recorded_expiry: str | None) -> dict:
    """The report of a day on which U-1's consent has run out (at RUNS_OUT): the flows resting on it are
    suspended; what they carried while it stood went to beta and epsilon, and crm holds it without consent."""
    return {"holdings": [{"system": {"id": "crm"}, "category": "email", "legalBasis": "gdpr-6-1-a",
                          "consentLacking": "EXPIRED"}],
            "recipients": RECIPIENTS, "suspendedFlows": SUSPENDED,
            "consents": [{"purpose": "marketing", "status": "GRANTED", "at": GIVEN, "notice": "WD5", "channel": "web",
                          "expires": recorded_expiry}],
            "consentStates": [{"purpose": "marketing", "status": "EXPIRED", "at": GIVEN, "expires": RUNS_OUT}]}


def test_consent_without_expiry_as_it_came_stands_years_later(registry):
    load(registry, CONSENT, f"{CONSENT}.subjects.jsonl")
    assert consent_report(registry, "2026-11-25") == standing(expires=None)


def test_consent_with_an_expires_in_the_past_loads_and_has_expired(registry):
    load(registry, CONSENT, f"{CONSENT}.rejected-expires.jsonl")
    assert consent_report(registry, "2026-11-25") == expired(recorded_expiry=RUNS_OUT)


def test_consent_with_an_expires_stands_up_to_the_day_before_and_counts_as_not_given_from_that_day(registry):
    load(registry, CONSENT, f"{CONSENT}.rejected-expires.jsonl")
    assert consent_report(registry, "2023-05-27") == standing(expires=RUNS_OUT)
    assert consent_report(registry, "2023-05-28") == expired(recorded_expiry=RUNS_OUT)


def test_near_miss_the_purposes_consent_validity_ends_a_consent_without_expiry_alike(registry):
    load(registry, CONSENT, f"{CONSENT}.subjects.jsonl",
         entity(CONSENT, "purposes", "marketing", consent_validity="P24M"))
    assert consent_report(registry, "2023-05-27") == {**standing(expires=None), "consentStates": [
        {"purpose": "marketing", "status": "GRANTED", "at": GIVEN, "expires": RUNS_OUT}]}
    assert consent_report(registry, "2023-05-28") == expired(recorded_expiry=None)


def test_near_miss_the_same_consent_recorded_again_with_its_expiry_expires(registry):
    load(registry, CONSENT, f"{CONSENT}.subjects.jsonl")
    recorded = ok(registry, 'mutation { setConsent(subject: "U-1", purpose: "marketing", status: GRANTED, '
                            f'at: "{GIVEN}", notice: "WD5", channel: "web", expires: "{RUNS_OUT}") '
                            '{ consents { purpose status at expires } } }')
    assert recorded["setConsent"]["consents"] == [
        {"purpose": "marketing", "status": "GRANTED", "at": GIVEN, "expires": RUNS_OUT}]  # one event, corrected
    assert consent_report(registry, "2026-11-25") == expired(recorded_expiry=RUNS_OUT)


# --- retention-counted-from-record-start ------------------------------------------------------
# P-1's policy data is kept for 10 years after the end of the contract (retention_from defaults to
# `end`). The record has a `since` (2012-03-01) and no `until`: the contract goes on, so the data
# has no end date, and is never erasable before the end is recorded (not 2022-03-01, ten years
# after collection). With an `until`, ten years after it.

RETENTION_REPORT = """query ($asOf: Date) { dsar(subject: "P-1", asOf: $asOf) {
  holdings { system { id } category purposes legalBasis retention retentionFrom retainedUntil path } } }"""
PLAN = """query ($today: Date) { erasurePlan(subject: "P-1", today: $today) {
  erase { system { id } categories } keep { system category until reason } notify { party { id } } } }"""
LEGAL_OBLIGATION = "Art. 17(3)(b): legal obligation, "


def holding(retained_until: str | None, retention_from: str = "END") -> dict:
    return {"system": {"id": "policy-admin"}, "category": "policy", "purposes": ["accounting"],
            "legalBasis": "gdpr-6-1-c", "retention": "P10Y", "retentionFrom": retention_from,
            "retainedUntil": retained_until, "path": []}


def plan(registry, today: str) -> dict:
    return ok(registry, PLAN, today=today)["erasurePlan"]


def kept(until: str | None, how_long: str) -> dict:
    return {"erase": [], "keep": [{"system": "policy-admin", "category": "policy", "until": until,
                                   "reason": LEGAL_OBLIGATION + how_long}], "notify": []}


ERASED = {"erase": [{"system": {"id": "policy-admin"}, "categories": ["policy"]}], "keep": [], "notify": []}


def test_retention_from_the_end_without_an_until_has_no_end_date(registry):
    load(registry, RETENTION, f"{RETENTION}.subjects.jsonl")
    assert ok(registry, RETENTION_REPORT, asOf="2026-11-25")["dsar"]["holdings"] == [holding(retained_until=None)]
    no_date = kept(None, "until 10 years after the relationship ends (it has not ended yet: no date)")
    assert plan(registry, "2026-11-25") == no_date
    assert plan(registry, "2040-01-01") == no_date  # never erasable before the end is recorded


@pytest.fixture
def ended_file(tmp_path):
    """The case's subject with the end of the contract recorded (2020-06-30)."""
    [line] = (CASES / f"{RETENTION}.subjects.jsonl").read_text().splitlines()
    subject = json.loads(line)
    subject["records"][0]["until"] = "2020-06-30"
    path = tmp_path / "ended.jsonl"
    path.write_text(json.dumps(subject) + "\n")
    return path


def test_near_miss_with_an_until_retention_runs_ten_years_from_it(registry, ended_file):
    load(registry, RETENTION, ended_file)
    assert ok(registry, RETENTION_REPORT, asOf="2026-11-25")["dsar"]["holdings"] == [
        holding(retained_until="2030-06-30")]
    assert plan(registry, "2026-11-25") == plan(registry, "2030-06-30") == kept(
        "2030-06-30", "until 10 years after the relationship ended on 2020-06-30: 2030-06-30")
    assert plan(registry, "2030-07-01") == ERASED


def test_near_miss_retention_declared_from_collection_runs_from_the_records_since(registry):
    load(registry, RETENTION, f"{RETENTION}.subjects.jsonl", entity(RETENTION, "systems", "policy-admin", holds=[
        {"category": "policy", "purposes": ["accounting"], "legal_basis": "gdpr-6-1-c", "retention": "P10Y",
         "retention_from": "collection"}]))
    assert ok(registry, RETENTION_REPORT, asOf="2021-11-25")["dsar"]["holdings"] == [
        holding(retained_until="2022-03-01", retention_from="COLLECTION")]
    assert plan(registry, "2022-03-01") == kept("2022-03-01", "until 10 years after collection on 2012-03-01: "
                                                              "2022-03-01")
    assert plan(registry, "2026-11-25") == ERASED
