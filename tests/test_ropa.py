"""The record of processing activities (GDPR Art. 30) for the demo insurer, on every backend:
exact rows, every Art. 30(1) field, names next to ids, the processor view, CSV and GraphQL; and
the sub-processor case (a processor's onward flows belong to the controller's activity)."""

import asyncio
import csv
import io

import pytest

from registry.auth.roles import Principal
from registry.api.context import Context
from registry.api.schema import schema
from registry.cli import DEMO
from datetime import date

from registry.compliance import Settings, ropa
from registry.compliance.ropa import (Activity, Named, ProcessorActivity, Recipient, Retention, Source, Transfer,
                                      to_csv)
from tests.compliance_cases import entity, load_case

CONTROLLER = "Aurora Mutual Versicherungsgruppe AG, Cologne, datenschutz@aurora-mutual.example"
DPO = "Dr. Jana Roth, Data Protection Officer, dpo@aurora-mutual.example"
SETTINGS = Settings.packaged(controller=CONTROLLER, dpo=DPO)
SUBJECTS = ["policyholders", "insured persons", "claimants", "beneficiaries"]
DPF = "adequacy decision: Commission Implementing Decision (EU) 2023/1795 (EU-US Data Privacy Framework)"
TODAY = date(2026, 11, 25)


@pytest.fixture
def record(registry):
    registry.load([("demo", DEMO.read_text())], actor="test")
    return ropa(registry, settings=SETTINGS, on=TODAY)


def activity(record, system, purpose):
    [found] = [a for a in record.activities if (a.system, a.purpose) == (system, purpose)]
    return found


def test_the_crm_for_customer_service(record):
    assert activity(record, "crm", "customer-service") == Activity(
        system="crm", system_name="Customer relationship management", purpose="customer-service",
        purpose_name="Customer service", purpose_description="Servicing customers and intermediaries across channels.",
        controller=CONTROLLER, joint_controllers=[],
        subject_categories=[Named("insured", "Insured persons"), Named("policyholder", "Policyholders"),
                            Named("prospect", "Prospects and applicants")],
        data_categories=[Named("contact", "Contact details"), Named("financial", "Financial data"),
                         Named("identity", "Identity data"), Named("policy", "Policy data")],
        recipients=[Recipient("affiliate", "aurora-us", "Aurora Mutual Insurance Company of America", "US", True,
                              "controller", "dsa-aurora-us", "Aurora Mutual group BCR, annex 3"),
                    Recipient("processor", "stratus-crm", "Stratus CRM Cloud Inc.", "US", True, "processor",
                              "dpa-stratus-crm", "contract AM-AV-2024-006")],
        transfers=[Transfer("crm-to-aurora-us", "aurora-us", "Aurora Mutual Insurance Company of America", "US",
                            "gdpr", "binding corporate rules", "dsa-aurora-us", "Aurora Mutual group BCR, annex 3"),
                   Transfer("crm-to-stratus", "stratus-crm", "Stratus CRM Cloud Inc.", "US", "gdpr", DPF,
                            "dpa-stratus-crm", "contract AM-AV-2024-006")],
        retention=[Retention("contact", "P10Y"), Retention("financial", "P10Y"), Retention("identity", "P10Y"),
                   Retention("policy", "P10Y")],
        security_measures="SaaS tenant in EU data centres; SSO with MFA; role-based access; TLS 1.2+ in transit, "
                          "AES-256 at rest; quarterly access reviews.",
        legal_bases=[Named("gdpr-6-1-b", "Contract")], conditions=[], dpia=[], lia=[],
        sources=[Source("hanse-makler", "Hanse Assekuranzmakler GmbH", "DE", "broker-to-crm",
                        ["contact", "financial", "identity", "policy"])],
        regimes=["gdpr"])


def test_reinsurance_accounting_for_reinsurance(record):
    assert activity(record, "reinsurance-accounting", "reinsurance") == Activity(
        system="reinsurance-accounting", system_name="Reinsurance accounting", purpose="reinsurance",
        purpose_name="Reinsurance",
        purpose_description="Ceding risks and claims to reinsurers, bordereaux and recoveries.",
        controller=CONTROLLER, joint_controllers=[],
        subject_categories=[Named("beneficiary", "Beneficiaries"), Named("claimant", "Claimants"),
                            Named("insured", "Insured persons"), Named("policyholder", "Policyholders")],
        data_categories=[Named("claims-history", "Claims history"), Named("health.diagnosis", "Diagnoses and treatment"),
                         Named("health.medical-history", "Medical history"), Named("identity", "Identity data"),
                         Named("policy", "Policy data"), Named("vehicle", "Vehicle data")],
        recipients=[Recipient("reinsurer", "coral-re", "Coral Bay Reinsurance Ltd.", "BM", True, "controller",
                              "treaty-coral-xl-2025", "contract AM-RV-2025-031 incl. SCC module 1"),
                    Recipient("reinsurer", "rheinland-re", "Rheinland Rückversicherung AG", "DE", False, "controller",
                              "treaty-rheinland-qs-2024", "contract AM-RV-2024-017")],
        transfers=[Transfer("reins-to-coral", "coral-re", "Coral Bay Reinsurance Ltd.", "BM", "gdpr",
                            "standard contractual clauses", "treaty-coral-xl-2025",
                            "contract AM-RV-2025-031 incl. SCC module 1")],
        # The system declares no health data: it passes the bordereaux on, and keeps them for no declared period.
        retention=[Retention("claims-history", "P10Y"), Retention("health.diagnosis", None),
                   Retention("health.medical-history", None), Retention("identity", "P10Y"),
                   Retention("policy", "P10Y"), Retention("vehicle", "P10Y")],
        security_measures="Group data centre (ISO 27001); role-based access; encryption at rest; bordereaux sent over "
                          "SFTP with PGP.",
        # The Art. 6 basis and the Art. 9 conditions, apart.
        legal_bases=[Named("gdpr-6-1-f", "Legitimate interests")],
        conditions=[Named("gdpr-9-2-a", "Explicit consent"), Named("gdpr-9-2-f", "Legal claims")],
        regimes=["gdpr"])


def test_every_activity_has_every_art_30_1_field(record):
    assert len(record.activities) == 57
    assert (record.controller, record.dpo, record.eu_representative) == (CONTROLLER, DPO, None)   # (a)
    for a in record.activities:
        assert a.controller == CONTROLLER                                      # (a)
        assert a.purpose_name and a.purpose_description                        # (b)
        assert a.subject_categories and a.data_categories                      # (c)
        assert all(n.name for n in a.subject_categories + a.data_categories)
        assert all(r.kind and r.name and r.country for r in a.recipients)      # (d)
        assert all(t.country and t.recipient and t.regime for t in a.transfers)   # (e)
        assert [r.category for r in a.retention] == [c.id for c in a.data_categories]   # (f)
        assert a.security_measures                                             # (g)
    assert activity(record, "fraud-detection", "fraud-prevention").joint_controllers == [
        Named("insurwatch-his", "InsurWatch Hinweisdienst GmbH")]
    assert activity(record, "contact-centre", "customer-service").transfers == [
        Transfer("contact-centre-to-bengal", "bengal-bpo", "Bengal Contact Solutions Pvt. Ltd.", "IN", "gdpr", None,
                 "dpa-bengal-bpo", "contract AM-AV-2026-019")]


def test_subject_categories_come_from_the_activity_and_else_from_the_settings(record):
    # (policy administration's flows name whose data they carry: policyholders, insured persons, beneficiaries)
    assert activity(record, "claims", "claims-handling").subject_categories == [
        Named("beneficiary", "Beneficiaries"), Named("claimant", "Claimants"), Named("insured", "Insured persons"),
        Named("policyholder", "Policyholders"), Named("third-party", "Third parties")]
    # The models' marketing scores come by a flow that names nobody, and the system declares nothing for marketing.
    assert activity(record, "actuarial-models", "marketing").subject_categories == [Named(None, s) for s in SUBJECTS]


def test_dpia_lia_and_the_us_book_under_us_regimes_only(record):
    fraud = activity(record, "fraud-detection", "fraud-prevention")
    assert (fraud.dpia, fraud.lia) == (["DPIA-2023-004 fraud scoring and SIU case files"],
                                       ["LIA-2018-002 industry fraud information system",
                                        "LIA-2023-011 fraud prevention on legitimate interests"])
    us = activity(record, "us-policy-admin", "underwriting")
    assert us.regimes == ["glba", "naic"] and us.conditions == []
    assert us.legal_bases == [Named("glba-6802-e-1", "GLBA exception 6802(e)(1)"),
                              Named("naic-672-authorisation", "NAIC #672 authorisation to disclose health information")]


def test_only_flows_in_force_count(registry):
    registry.load([("demo", DEMO.read_text())], actor="test")
    # The US affiliate's submissions ended on 2026-03-31; the cloud ML pilot is only proposed.
    before = ropa(registry, settings=SETTINGS, on=date(2026, 3, 31))
    after = ropa(registry, settings=SETTINGS, on=TODAY)
    sources = lambda r: [s.flow for s in activity(r, "us-policy-admin", "underwriting").sources]
    assert (sources(before), sources(after)) == (["aurora-us-to-us-policy-admin"], [])
    assert "nimbus-cloud" not in [r.id for r in activity(after, "actuarial-models", "analytics").recipients]


def test_the_processor_view_covers_agreements_where_the_insurer_is_the_processor(record):
    assert record.processor_activities == [ProcessorActivity(
        agreement="dpa-pensionskasse",
        agreement_name="Pension administration services agreement (Aurora Mutual as processor)",
        document="contract AM-PK-2025-001", processor=CONTROLLER, controller="Rhein-Ruhr Pensionskasse VVaG",
        controller_country="DE", processing=["Pension administration services"],
        data_categories=[Named("contact", "Contact details"), Named("financial.bank-account", "Bank account details"),
                         Named("identity", "Identity data"), Named("policy", "Policy data")],
        systems=[Named("policy-admin", "Policy administration (EU)")],
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
        "record": "Art. 30(1)", "controller": CONTROLLER, "dpo": DPO, "eu_representative": "", "processor": "",
        "joint_controllers": "", "agreement": "",
        "system": "Reinsurance accounting (reinsurance-accounting)", "purpose": "Reinsurance (reinsurance)",
        "purpose_description": "Ceding risks and claims to reinsurers, bordereaux and recoveries.",
        "data_subject_categories": "Beneficiaries (beneficiary); Claimants (claimant); Insured persons (insured); "
                                   "Policyholders (policyholder)",
        "personal_data_categories": "Claims history (claims-history); Diagnoses and treatment (health.diagnosis); "
                                    "Medical history (health.medical-history); Identity data (identity); Policy data "
                                    "(policy); Vehicle data (vehicle)",
        "recipients": "reinsurer: Coral Bay Reinsurance Ltd. (BM); reinsurer: Rheinland Rückversicherung AG (DE)",
        "processor_contracts": "",
        "transfers": "coral-re (BM) via reins-to-coral [gdpr]: standard contractual clauses",
        "retention": "claims-history: P10Y; health.diagnosis: not set; health.medical-history: not set; identity: "
                     "P10Y; policy: P10Y; vehicle: P10Y",
        "security_measures": "Group data centre (ISO 27001); role-based access; encryption at rest; bordereaux sent "
                             "over SFTP with PGP.",
        "legal_bases": "Legitimate interests (gdpr-6-1-f)",
        "conditions": "Explicit consent (gdpr-9-2-a); Legal claims (gdpr-9-2-f)", "dpia": "", "lia": "",
        "sources": "", "regimes": "gdpr"}
    [crm] = [r for r in rows if r["system"] == "Customer relationship management (crm)"
             and r["purpose"] == "Customer service (customer-service)"]
    assert crm["processor_contracts"] == "Stratus CRM Cloud Inc.: contract AM-AV-2024-006"


def test_ropa_over_graphql(registry):
    registry.load([("demo", DEMO.read_text())], actor="test")
    context = Context(registry=registry, principal=Principal.of("tester", "viewer"))
    result = asyncio.run(schema.execute("""{ ropa(asOf: "2026-11-25") { controller
        activities { system purpose transfers { flow safeguard } retention { category period } }
        processorActivities { agreement controller systems { id name } } } }""", context_value=context))
    assert result.errors is None
    assert len(result.data["ropa"]["activities"]) == 57
    [crm] = [a for a in result.data["ropa"]["activities"] if (a["system"], a["purpose"]) == ("crm", "customer-service")]
    assert crm["transfers"] == [{"flow": "crm-to-aurora-us", "safeguard": "binding corporate rules"},
                                {"flow": "crm-to-stratus", "safeguard": DPF}]
    assert result.data["ropa"]["processorActivities"] == [
        {"agreement": "dpa-pensionskasse", "controller": "Rhein-Ruhr Pensionskasse VVaG",
         "systems": [{"id": "policy-admin", "name": "Policy administration (EU)"}]}]


def test_the_contacts_and_subject_categories_come_from_the_environment(monkeypatch):
    from registry.settings import Settings as AllSettings

    monkeypatch.setenv("DSA_REGISTRY_CONTROLLER", "  Aurora Mutual AG  ")
    monkeypatch.setenv("DSA_REGISTRY_DPO", "Jana Roth, dpo@aurora-mutual.example")
    monkeypatch.setenv("DSA_REGISTRY_EU_REPRESENTATIVE", " ")
    monkeypatch.setenv("DSA_REGISTRY_SUBJECT_CATEGORIES", "policyholders, claimants,,")
    settings = AllSettings.load().compliance()
    assert (settings.controller, settings.dpo, settings.eu_representative, settings.subject_categories) == (
        "Aurora Mutual AG", "Jana Roth, dpo@aurora-mutual.example", None, ("policyholders", "claimants"))
    for name in ("DSA_REGISTRY_CONTROLLER", "DSA_REGISTRY_DPO", "DSA_REGISTRY_EU_REPRESENTATIVE",
                 "DSA_REGISTRY_SUBJECT_CATEGORIES"):
        monkeypatch.delenv(name)
    default = AllSettings.load().compliance()
    assert default.controller == "(controller not configured: set DSA_REGISTRY_CONTROLLER)"
    assert (default.dpo, default.eu_representative) == (None, None)
    assert default.subject_categories == tuple(SUBJECTS)


# --- the sub-processor case ----------------------------------------------------------------

SUBPROCESSOR = "subprocessor-transfer-missing-from-ropa"


def test_a_processors_sub_processor_and_its_transfer_belong_to_the_controllers_activity(registry):
    record = ropa(load_case(registry, SUBPROCESSOR), settings=SETTINGS, on=TODAY)
    claims = activity(record, "claims", "claims-handling")
    assert claims.recipients == [
        Recipient("processor", "offshore", "Offshore sub-processor", "IN", True, "processor", "sub-dpa", "SUB-1",
                  via="tpa"),
        Recipient("tpa", "tpa", "TPA", "DE", False, "processor", "dpa-tpa", "DPA-1")]
    assert claims.transfers == [Transfer("tpa-to-offshore", "offshore", "Offshore sub-processor", "IN", "gdpr",
                                         "standard contractual clauses", "sub-dpa", "SUB-1", via="tpa")]
    row = next(r for r in csv.DictReader(io.StringIO(to_csv(record))) if r["system"] == "Claims system (claims)")
    assert row["processor_contracts"] == "Offshore sub-processor: SUB-1; TPA: DPA-1"
    assert row["transfers"] == "offshore (IN) via tpa-to-offshore, via tpa [gdpr]: standard contractual clauses"


@pytest.mark.parametrize("overlay, recipients", [
    # The TPA is a controller of its own: what it passes on is its own disclosure, not the insurer's activity.
    (entity(SUBPROCESSOR, "parties", "tpa", role="controller") + entity(SUBPROCESSOR, "agreements", "dpa-tpa", kind="dsa"),
     [("tpa", None)]),
    # An onward flow for another purpose is not sub-processing for this activity.
    ("purposes: [{id: it-ops, name: IT operations}]\n"
     + entity(SUBPROCESSOR, "flows", "tpa-to-offshore", purpose="it-ops"), [("tpa", None)]),
    # Onward data that the TPA did not get from this activity is not this activity's either.
    ("categories: [{id: staff, name: TPA staff data}]\n"
     + entity(SUBPROCESSOR, "flows", "tpa-to-offshore", categories=["staff"]), [("tpa", None)]),
    # Sub-sub-processors count, through processors.
    ("parties: [{id: backup, name: Backup vault, kind: processor, country: US, role: processor}]\n"
     "flows: [{id: offshore-to-backup, name: Backups, from: offshore, to: backup, categories: [claims-history], "
     "purpose: claims-handling, legal_basis: gdpr-6-1-b, agreement: sub-dpa}]",
     [("backup", "offshore"), ("offshore", "tpa"), ("tpa", None)]),
], ids=["processor-turned-controller", "other-purpose", "other-data", "sub-sub-processor"])
def test_near_misses_of_sub_processing(registry, overlay, recipients):
    record = ropa(load_case(registry, SUBPROCESSOR, overlay), settings=SETTINGS, on=TODAY)
    assert [(r.id, r.via) for r in activity(record, "claims", "claims-handling").recipients] == recipients


def test_the_processor_contract_reference_and_names_over_graphql(registry):
    load_case(registry, SUBPROCESSOR)
    context = Context(registry=registry, principal=Principal.of("tester", "viewer"))
    result = asyncio.run(schema.execute("""{ ropa(asOf: "2026-11-25") { activities {
        system legalBases { id name } dataCategories { id name } subjectCategories { id name }
        recipients { id name role agreement document via } transfers { flow regime safeguard document via } } } }""",
                                        context_value=context))
    assert result.errors is None
    [claims] = [a for a in result.data["ropa"]["activities"] if a["system"] == "claims"]
    assert claims["legalBases"] == [{"id": "gdpr-6-1-b", "name": "Contract"}]
    assert claims["dataCategories"] == [{"id": "claims-history", "name": "Claims history"}]
    assert claims["subjectCategories"] == [{"id": None, "name": s} for s in SUBJECTS]
    assert claims["recipients"] == [
        {"id": "offshore", "name": "Offshore sub-processor", "role": "PROCESSOR", "agreement": "sub-dpa",
         "document": "SUB-1", "via": "tpa"},
        {"id": "tpa", "name": "TPA", "role": "PROCESSOR", "agreement": "dpa-tpa", "document": "DPA-1", "via": None}]
    assert claims["transfers"] == [{"flow": "tpa-to-offshore", "regime": "GDPR", "safeguard":
                                    "standard contractual clauses", "document": "SUB-1", "via": "tpa"}]


def test_each_activity_has_the_retention_declared_for_its_purpose(registry):
    """One category held for two purposes, each kept for its own time: each activity of the
    system says its own (before, both said the last declaration's)."""
    registry.load([("staff.yaml", """
categories: [{id: contact, name: Contact details}, {id: health, name: Health data}]
purposes: [{id: claims, name: Claims handling}, {id: sick-leave, name: Sick leave}]
systems:
  - id: claims-sys
    name: Claims
    country: DE
    holds:
      - {category: contact, purposes: [claims], legal_basis: gdpr-6-1-b, retention: P10Y}
      - {category: health, purposes: [claims], legal_basis: gdpr-6-1-b, retention: P10Y}
      - {category: health, purposes: [sick-leave], legal_basis: gdpr-6-1-c, retention: P3Y}
""")], actor="test")
    record = ropa(registry, settings=SETTINGS, on=TODAY)
    assert activity(record, "claims-sys", "claims").retention == [Retention("contact", "P10Y"),
                                                                   Retention("health", "P10Y")]
    assert activity(record, "claims-sys", "sick-leave").retention == [Retention("health", "P3Y")]
