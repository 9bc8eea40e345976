"""The record of processing activities (GDPR Art. 30) for the demo insurer, on every backend:
exact rows, every Art. 30(1) field, the processor view, CSV and GraphQL."""

import asyncio
import csv
import io

import pytest

from registry.auth.roles import Principal
from registry.api.context import Context
from registry.api.schema import schema
from registry.cli import DEMO
from registry.compliance import Settings, ropa
from registry.compliance.ropa import Activity, ProcessorActivity, Recipient, Retention, Transfer, to_csv

CONTROLLER = "Aurora Mutual Versicherungsgruppe AG, Cologne, datenschutz@aurora-mutual.example"
SETTINGS = Settings.packaged(controller=CONTROLLER)
SUBJECTS = ["policyholders", "insured persons", "claimants", "beneficiaries"]
DPF = "adequacy decision: Commission Implementing Decision (EU) 2023/1795 (EU-US Data Privacy Framework)"


@pytest.fixture
def record(registry):
    registry.load([("demo", DEMO.read_text())], actor="test")
    return ropa(registry, settings=SETTINGS)


def activity(record, system, purpose):
    [found] = [a for a in record.activities if (a.system, a.purpose) == (system, purpose)]
    return found


def test_the_crm_for_customer_service(record):
    assert activity(record, "crm", "customer-service") == Activity(
        system="crm", system_name="Customer relationship management", purpose="customer-service",
        purpose_name="Customer service", purpose_description="Servicing customers and intermediaries across channels.",
        controller=CONTROLLER, joint_controllers=[], subject_categories=SUBJECTS,
        data_categories=["contact", "financial", "identity", "policy"],
        recipients=[Recipient("affiliate", "aurora-us", "Aurora Mutual Insurance Company of America", "US", True),
                    Recipient("processor", "stratus-crm", "Stratus CRM Cloud Inc.", "US", True)],
        transfers=[Transfer("crm-to-aurora-us", "aurora-us", "US", "binding corporate rules"),
                   Transfer("crm-to-stratus", "stratus-crm", "US", DPF)],
        retention=[Retention("contact", "P10Y"), Retention("financial", "P10Y"), Retention("identity", "P10Y"),
                   Retention("policy", "P10Y")],
        security_measures="SaaS tenant in EU data centres; SSO with MFA; role-based access; TLS 1.2+ in transit, "
                          "AES-256 at rest; quarterly access reviews.",
        legal_bases=["gdpr-6-1-b"])


def test_reinsurance_accounting_for_reinsurance(record):
    assert activity(record, "reinsurance-accounting", "reinsurance") == Activity(
        system="reinsurance-accounting", system_name="Reinsurance accounting", purpose="reinsurance",
        purpose_name="Reinsurance",
        purpose_description="Ceding risks and claims to reinsurers, bordereaux and recoveries.",
        controller=CONTROLLER, joint_controllers=[], subject_categories=SUBJECTS,
        data_categories=["claims-history", "health.diagnosis", "health.medical-history", "identity", "policy",
                         "vehicle"],
        recipients=[Recipient("reinsurer", "coral-re", "Coral Bay Reinsurance Ltd.", "BM", True),
                    Recipient("reinsurer", "rheinland-re", "Rheinland Rückversicherung AG", "DE", False)],
        transfers=[Transfer("reins-to-coral", "coral-re", "BM", "standard contractual clauses")],
        # The system declares no health data: it passes the bordereaux on, and keeps them for no declared period.
        retention=[Retention("claims-history", "P10Y"), Retention("health.diagnosis", None),
                   Retention("health.medical-history", None), Retention("identity", "P10Y"),
                   Retention("policy", "P10Y"), Retention("vehicle", "P10Y")],
        security_measures="Group data centre (ISO 27001); role-based access; encryption at rest; bordereaux sent over "
                          "SFTP with PGP.",
        legal_bases=["gdpr-6-1-f", "gdpr-9-2-a", "gdpr-9-2-f"])


def test_every_activity_has_every_art_30_1_field(record):
    assert len(record.activities) == 57
    for a in record.activities:
        assert a.controller == CONTROLLER                                      # (a)
        assert a.purpose_name and a.purpose_description                        # (b)
        assert a.subject_categories == SUBJECTS and a.data_categories          # (c)
        assert all(r.kind and r.name and r.country for r in a.recipients)      # (d)
        assert all(t.country and t.recipient for t in a.transfers)             # (e)
        assert [r.category for r in a.retention] == a.data_categories          # (f)
        assert a.security_measures                                             # (g)
    assert activity(record, "fraud-detection", "fraud-prevention").joint_controllers == [
        "InsurWatch Hinweisdienst GmbH"]
    assert activity(record, "contact-centre", "customer-service").transfers == [
        Transfer("contact-centre-to-bengal", "bengal-bpo", "IN", None)]


def test_the_processor_view_covers_agreements_where_the_insurer_is_the_processor(record):
    assert record.processor_activities == [ProcessorActivity(
        agreement="dpa-pensionskasse", processor=CONTROLLER, controller="Rhein-Ruhr Pensionskasse VVaG",
        controller_country="DE", processing=["Pension administration services"],
        data_categories=["contact", "financial.bank-account", "identity", "policy"], systems=["policy-admin"],
        transfers=[], security_measures=[
            "policy-admin: Group data centre (ISO 27001); role-based access with four-eyes approval for changes; "
            "encryption at rest; daily backups; audit trail."])]
    # Processing on the pension fund's behalf is not one of the insurer's own activities.
    assert "pension-administration" not in {a.purpose for a in record.activities}


def test_the_csv_has_one_row_per_activity(record):
    rows = list(csv.DictReader(io.StringIO(to_csv(record))))
    assert len(rows) == 58
    assert rows[-1]["record"] == "Art. 30(2)"
    [row] = [r for r in rows if r["system"] == "Reinsurance accounting (reinsurance-accounting)"]
    assert row == {
        "record": "Art. 30(1)", "controller": CONTROLLER, "processor": "", "joint_controllers": "", "agreement": "",
        "system": "Reinsurance accounting (reinsurance-accounting)", "purpose": "Reinsurance (reinsurance)",
        "purpose_description": "Ceding risks and claims to reinsurers, bordereaux and recoveries.",
        "data_subject_categories": "policyholders; insured persons; claimants; beneficiaries",
        "personal_data_categories": "claims-history; health.diagnosis; health.medical-history; identity; policy; "
                                    "vehicle",
        "recipients": "reinsurer: Coral Bay Reinsurance Ltd. (BM); reinsurer: Rheinland Rückversicherung AG (DE)",
        "transfers": "coral-re (BM) via reins-to-coral: standard contractual clauses",
        "retention": "claims-history: P10Y; health.diagnosis: not set; health.medical-history: not set; identity: "
                     "P10Y; policy: P10Y; vehicle: P10Y",
        "security_measures": "Group data centre (ISO 27001); role-based access; encryption at rest; bordereaux sent "
                             "over SFTP with PGP.",
        "legal_bases": "gdpr-6-1-f; gdpr-9-2-a; gdpr-9-2-f"}


def test_ropa_over_graphql(registry):
    registry.load([("demo", DEMO.read_text())], actor="test")
    context = Context(registry=registry, principal=Principal.of("tester", "viewer"))
    result = asyncio.run(schema.execute("""{ ropa { controller
        activities { system purpose transfers { flow safeguard } retention { category period } }
        processorActivities { agreement controller systems } } }""", context_value=context))
    assert result.errors is None
    assert len(result.data["ropa"]["activities"]) == 57
    [crm] = [a for a in result.data["ropa"]["activities"] if (a["system"], a["purpose"]) == ("crm", "customer-service")]
    assert crm["transfers"] == [{"flow": "crm-to-aurora-us", "safeguard": "binding corporate rules"},
                                {"flow": "crm-to-stratus", "safeguard": DPF}]
    assert result.data["ropa"]["processorActivities"] == [
        {"agreement": "dpa-pensionskasse", "controller": "Rhein-Ruhr Pensionskasse VVaG", "systems": ["policy-admin"]}]


def test_the_controller_and_subject_categories_come_from_the_environment(monkeypatch):
    from registry.settings import Settings as AllSettings

    monkeypatch.setenv("DSA_REGISTRY_CONTROLLER", "  Aurora Mutual AG  ")
    monkeypatch.setenv("DSA_REGISTRY_SUBJECT_CATEGORIES", "policyholders, claimants,,")
    settings = AllSettings.load().compliance()
    assert (settings.controller, settings.subject_categories) == ("Aurora Mutual AG", ("policyholders", "claimants"))
    monkeypatch.delenv("DSA_REGISTRY_CONTROLLER")
    monkeypatch.delenv("DSA_REGISTRY_SUBJECT_CATEGORIES")
    default = AllSettings.load().compliance()
    assert default.controller == "(controller not configured: set DSA_REGISTRY_CONTROLLER)"
    assert default.subject_categories == tuple(SUBJECTS)
