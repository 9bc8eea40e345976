"""`dsa-registry check` end to end in a subprocess: exit codes for CI, text, JSON and SARIF output,
the countries override; and `export --format ropa-*`."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from registry.compliance import RULES
from tests.compliance_graphs import BASE

ROOT = Path(__file__).resolve().parent.parent

ONLY_A_WARNING = """
systems:
  - {id: crm, name: CRM, country: DE, holds: [{category: contact, purposes: [marketing], legal_basis: gdpr-6-1-a}]}
"""


def cli(*args, cwd, env=None):
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    for name in ("DSA_REGISTRY_STORE", "DSA_REGISTRY_COUNTRIES", "DSA_REGISTRY_CONTROLLER"):
        if name not in (env or {}):
            environment.pop(name, None)
    return subprocess.run([sys.executable, "-m", "registry.cli", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def demo(tmp_path):
    assert cli("demo", cwd=tmp_path).returncode == 0
    return tmp_path


def load(tmp_path, *bundles):
    paths = []
    for i, text in enumerate(bundles):
        path = tmp_path / f"bundle-{i}.yaml"
        path.write_text(text)
        paths.append(str(path))
    assert cli("load", *paths, cwd=tmp_path).returncode == 0
    return tmp_path


def test_text_lists_each_finding_and_a_summary_and_exits_1_on_errors(demo):
    result = cli("check", "--as-of", "2026-11-25", cwd=demo)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "error   agreement-category-out-of-scope  flow policy-admin-to-broker  [gdpr]",
        "        Flow policy-admin-to-broker (policy-admin → hanse-makler) carries claims-history, outside the "
        "categories of agreement dsa-hanse-broker (identity, contact, financial, policy, vehicle, health): more data "
        "is shared than agreed (data minimisation).",
        "        GDPR Art. 5(1)(c). Remedy: Stop sending those categories, or extend the agreement's scope."]
    summary = lines.index("20 finding(s) as of 2026-11-25: 14 error, 4 warning, 2 info")
    # The draft addendum is found on a proposed flow: a warning until the pilot goes live.
    severity = {**{rule: RULES[rule].severity for rule in RULES}, "agreement-not-active": "warning",
                "consent-withdrawn-data-still-flowing": "info"}
    # With the demo's data subjects: C-1 withdrew marketing consent and C-2's expired, and two systems
    # hold data only on consent (the CRM its behavioural data, marketing automation some of its data).
    counts = {**{rule: 1 for rule in RULES}, "consent-withdrawn-data-still-flowing": 2}
    assert lines[summary + 1:] == [f"{counts[rule]:8d}  {rule} ({severity[rule]})" for rule in sorted(counts)]
    assert lines[lines.index("info    consent-withdrawn-data-still-flowing  system marketing-automation  [gdpr]") + 1] \
        == ("        1 data subject(s) withdrew consent for marketing and the consent of 1 data subject(s) for "
            "marketing expired, yet system marketing-automation, which holds contact, health.medical-history, policy "
            "data only on consent (flows crm-to-marketing, medical-uw-to-marketing, portal-to-marketing), still "
            "holds that data.")


@pytest.mark.parametrize("bundles, fail_on, code", [
    ((BASE,), "error", 0),
    ((BASE,), "warning", 0),
    ((BASE, ONLY_A_WARNING), "error", 0),
    ((BASE, ONLY_A_WARNING), "warning", 1),
], ids=["clean-error", "clean-warning", "warning-only-fails-on-error", "warning-only-fails-on-warning"])
def test_fail_on_sets_the_threshold_for_exit_code_1(tmp_path, bundles, fail_on, code):
    load(tmp_path, *bundles)
    assert cli("check", "--as-of", "2026-11-25", "--fail-on", fail_on, cwd=tmp_path).returncode == code


def test_the_default_threshold_is_error(tmp_path):
    load(tmp_path, BASE, ONLY_A_WARNING)
    result = cli("check", "--as-of", "2026-11-25", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines()[-2:] == ["1 finding(s) as of 2026-11-25: 0 error, 1 warning, 0 info",
                                               "       1  holding-without-retention (warning)"]


def test_as_of_moves_the_evaluation_date(demo):
    # The Nimbus ML addendum (effective 2027-01-01) is a draft either way; the broker agreement
    # (2027-03-31) comes within 90 days by then, the Medgutachten DPA (2027-01-31) has expired.
    result = json.loads(cli("check", "--as-of", "2027-02-15", "--format", "json", cwd=demo).stdout)
    assert {(f["rule"], f["entityId"]) for f in result["findings"]
            if f["rule"].startswith("agreement-expir")} == {
        ("agreement-expired", "medical-to-medgutachten"), ("agreement-expired", "medgutachten-to-medical"),
        ("agreement-expired", "reins-motor-to-rheinland"), ("agreement-expiring", "dsa-hanse-broker")}


def test_json_has_the_date_counts_and_every_field(demo):
    result = cli("check", "--as-of", "2026-11-25", "--format", "json", cwd=demo)
    assert result.returncode == 1
    output = json.loads(result.stdout)
    assert (output["asOf"], output["counts"]) == ("2026-11-25", {"error": 14, "warning": 4, "info": 2})
    [retention] = [f for f in output["findings"] if f["rule"] == "holding-without-retention"]
    assert retention == {
        "rule": "holding-without-retention", "severity": "warning",
        "message": "The holding of genetic that system dms declares has no retention period: data may not be kept "
                   "longer than necessary, and the Art. 30 record must state when it is erased.",
        "reference": "GDPR Art. 5(1)(e), Art. 30(1)(f)", "entityKind": "holding", "entityId": "dms",
        "remedy": "Set `retention` on the declaration (an ISO 8601 duration such as P10Y).", "category": "genetic",
        "subjectCount": None, "regime": "gdpr"}


def test_sarif_is_a_2_1_0_log_with_rules_and_located_results(demo):
    result = cli("check", "--as-of", "2026-11-25", "--format", "sarif", cwd=demo)
    assert result.returncode == 1
    log = json.loads(result.stdout)
    assert (log["version"], log["$schema"]) == ("2.1.0", "https://json.schemastore.org/sarif-2.1.0.json")
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "dsa-registry"
    assert [rule["id"] for rule in driver["rules"]] == [*RULES, "consent-withdrawn-data-still-flowing"]
    references = {**{id_: rule.reference for id_, rule in RULES.items()},
                  "consent-withdrawn-data-still-flowing": "GDPR Art. 7(3), Art. 17(1)(b)"}
    for rule in driver["rules"]:
        assert rule["helpUri"].startswith("https://")
        assert rule["fullDescription"]["text"].startswith(references[rule["id"]] + ": ")
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert len(run["results"]) == 20
    [transfer] = [r for r in run["results"] if r["ruleId"] == "transfer-without-safeguard"]
    assert transfer["level"] == "error"
    assert driver["rules"][transfer["ruleIndex"]]["id"] == "transfer-without-safeguard"
    assert transfer["message"]["text"].startswith("Flow contact-centre-to-bengal (contact-centre → bengal-bpo) is a "
                                                  "transfer from the EEA to IN")
    assert transfer["locations"] == [{"logicalLocations": [{
        "name": "contact-centre-to-bengal", "fullyQualifiedName": "flow/contact-centre-to-bengal", "kind": "flow"}]}]
    [holding] = [r for r in run["results"] if r["ruleId"] == "holding-without-retention"]
    assert holding["level"] == "warning"
    assert holding["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "holding/dms/genetic"


def test_the_countries_file_can_be_replaced(demo, tmp_path):
    countries = (ROOT / "registry" / "compliance" / "countries.yaml").read_text()
    override = tmp_path / "countries.yaml"
    override.write_text(countries + "    - {country: IN, decision: Hypothetical decision, adopted: 2026-01-01}\n")
    result = cli("check", "--as-of", "2026-11-25", "--format", "json", cwd=demo,
                 env={"DSA_REGISTRY_COUNTRIES": str(override)})
    rules = {f["rule"] for f in json.loads(result.stdout)["findings"]}
    assert rules == set(RULES) - {"transfer-without-safeguard"} | {"consent-withdrawn-data-still-flowing"}
    override.write_text("eea: {countries: [DE, XX]}\nadequacy: {decisions: []}\n")
    result = cli("check", cwd=demo, env={"DSA_REGISTRY_COUNTRIES": str(override)})
    assert (result.returncode, result.stderr) == (
        2, f"error: DSA_REGISTRY_COUNTRIES: {override}: eea.countries.1: 'XX' is not an ISO 3166-1 alpha-2 country code\n")


def test_bad_options_are_usage_errors(demo):
    result = cli("check", "--as-of", "25.11.2026", cwd=demo)
    assert result.returncode == 2 and "--as-of" in result.stderr
    result = cli("check", "--fail-on", "info", cwd=demo)
    assert result.returncode == 2 and "--fail-on" in result.stderr


def test_export_writes_the_art_30_record_as_csv_or_json(demo):
    env = {"DSA_REGISTRY_CONTROLLER": "Aurora Mutual AG", "DSA_REGISTRY_DPO": "DPO, dpo@aurora-mutual.example"}
    rows = list(csv.DictReader(io.StringIO(cli("export", "--format", "ropa-csv", cwd=demo, env=env).stdout)))
    assert len(rows) == 58 and {row["controller"] for row in rows[:-1]} == {"Aurora Mutual AG"}
    record = json.loads(cli("export", "--format", "ropa-json", cwd=demo, env=env).stdout)
    assert record["controller"] == "Aurora Mutual AG" and len(record["activities"]) == 57
    assert record["processorActivities"][0]["agreement"] == "dpa-pensionskasse"
    assert (record["dpo"], record["euRepresentative"]) == ("DPO, dpo@aurora-mutual.example", None)
    assert sorted(record["activities"][0]) == sorted([
        "system", "systemName", "purpose", "purposeName", "purposeDescription", "controller", "jointControllers",
        "subjectCategories", "dataCategories", "recipients", "transfers", "retention", "securityMeasures",
        "legalBases", "conditions", "dpia", "lia", "sources", "regimes"])


def test_export_takes_the_date_of_the_record(demo):
    def sources(on):
        record = json.loads(cli("export", "--format", "ropa-json", "--as-of", on, cwd=demo).stdout)
        [us] = [a for a in record["activities"] if (a["system"], a["purpose"]) == ("us-policy-admin", "underwriting")]
        return [s["flow"] for s in us["sources"]]

    # The US affiliate's submissions ended on 2026-03-31.
    assert (sources("2026-03-31"), sources("2026-04-01")) == (["aurora-us-to-us-policy-admin"], [])


def test_help_lists_the_compliance_commands(tmp_path):
    result = cli("--help", cwd=tmp_path)
    assert "check" in result.stdout and "breach" in result.stdout
    assert "ropa-csv" in cli("export", "--help", cwd=tmp_path).stdout
