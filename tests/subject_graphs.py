"""A hand-built registry and subjects with known DSAR answers (extends tests.graphs.LINEAGE).

On top of LINEAGE: `m1` takes contact details from crm to a marketing agency on consent
(gdpr-6-1-a); `w1` takes contact details and diagnoses from claims to a wellness partner on a
contract with the explicit-consent condition (gdpr-9-2-a), so without consent it still carries
contact details but not diagnoses; `fraud` refers claims to the police only case by case (scope
`case`): without a recorded disclosure the police is a potential recipient, never a recipient.
"""

from tests.graphs import LINEAGE

CONSENTS = LINEAGE + """
  - {id: m1, name: Campaign audiences, from: crm, to: adco, categories: [contact], purpose: marketing, legal_basis: gdpr-6-1-a, agreement: dpa-adco}
  - {id: w1, name: Wellness referrals, from: claims, to: vitality, categories: [contact, health.diagnosis], purpose: wellness, legal_basis: gdpr-6-1-b, condition: gdpr-9-2-a}
  - {id: fraud, name: Fraud referrals, from: claims, to: police, categories: [health.diagnosis], purpose: fraud-prevention, legal_basis: gdpr-6-1-f, condition: gdpr-9-2-f, scope: case}
""" + """
---
purposes:
  - {id: marketing, name: Marketing}
  - {id: wellness, name: Wellness programme}
  - {id: fraud-prevention, name: Fraud prevention}
parties:
  - {id: police, name: State criminal police office, kind: law-enforcement, country: DE, role: controller}
  - {id: adco, name: AdCo Agency, kind: processor, country: DE, role: processor}
  - {id: vitality, name: Vitality Partners, kind: other, country: GB, role: controller}
agreements:
  - {id: dpa-adco, name: AdCo DPA, kind: dpa, parties: [adco], categories: [contact], purposes: [marketing], effective: 2024-01-01}
"""


def bundles():
    main, extra = CONSENTS.split("\n---\n")
    return [("extra.yaml", extra), ("lineage.yaml", main)]


SUBJECT = {
    "id": "C-1", "kind": "policyholder",
    "records": [{"system": "crm", "since": "2020-03-01"},
                {"system": "claims", "categories": ["health.diagnosis"], "source": "broker", "since": "2024-06-01"}],
    "consents": [{"purpose": "marketing", "status": "granted", "at": "2024-01-10T10:00:00+01:00", "notice": "v2", "channel": "web"},
                 {"purpose": "marketing", "status": "withdrawn", "at": "2025-05-01T09:00:00Z", "notice": "v3", "channel": "web"}],
    "keys": {"email": "  C1@Example.ORG "},
}


CASES = """
# Flow scope, subject categories, consent validity, retention from the right event (issue 13):
#
#   claims --fac[claim] (case)--> fac-re --retro[claim]--> retro-re
#     |  \\--lka-referral[claim] (case)--> lka
#     +---survey[contact] (claimants only)--> surveyco
#   crm --news[contact] (consent, marketing.newsletter)--> mailer
categories:
  - {id: contact, name: Contact details}
  - {id: claim, name: Claim files}
purposes:
  - {id: claims-handling, name: Claims handling}
  - {id: fraud-prevention, name: Fraud prevention}
  - {id: reinsurance, name: Reinsurance}
  - {id: marketing, name: Marketing, consent_validity: P24M}
  - {id: marketing.newsletter, name: Newsletter, parent: marketing}
subject_categories:
  - {id: policyholder, name: Policyholders}
  - {id: claimant, name: Claimants}
systems:
  - id: claims
    name: Claims system
    country: DE
    holds:
      - {category: claim, purposes: [claims-handling], legal_basis: gdpr-6-1-c, retention: P10Y}
      - {category: contact, purposes: [claims-handling], legal_basis: gdpr-6-1-b}
  - id: crm
    name: CRM
    country: DE
    holds:
      - {category: contact, purposes: [marketing], legal_basis: gdpr-6-1-c, retention: P6Y, retention_from: collection}
parties:
  - {id: lka, name: State criminal police office, kind: law-enforcement, country: DE, role: controller}
  - {id: fac-re, name: Facultative Re, kind: reinsurer, country: CH, role: controller}
  - {id: retro-re, name: Retro Re, kind: reinsurer, country: GB, role: controller}
  - {id: surveyco, name: Survey Co, kind: processor, country: DE, role: processor}
  - {id: mailer, name: Mailer GmbH, kind: processor, country: DE, role: processor}
flows:
  - {id: lka-referral, name: Fraud referrals, from: claims, to: lka, categories: [claim], purpose: fraud-prevention, legal_basis: gdpr-6-1-f, scope: case}
  - {id: fac, name: Large losses to Facultative Re, from: claims, to: fac-re, categories: [claim], purpose: reinsurance, legal_basis: gdpr-6-1-b, scope: case}
  - {id: retro, name: Retrocession, from: fac-re, to: retro-re, categories: [claim], purpose: reinsurance, legal_basis: gdpr-6-1-b}
  - {id: survey, name: Claimant survey, from: claims, to: surveyco, categories: [contact], purpose: claims-handling, legal_basis: gdpr-6-1-f, subject_categories: [claimant]}
  - {id: news, name: Newsletter, from: crm, to: mailer, categories: [contact], purpose: marketing.newsletter, legal_basis: gdpr-6-1-a}
"""

CASE_SUBJECTS = [
    {"id": "P-1", "kind": "policyholder",
     "records": [{"system": "claims", "since": "2015-01-01"}, {"system": "crm", "since": "2024-01-15"}],
     "consents": [{"purpose": "marketing", "status": "granted", "at": "2024-06-01T10:00:00Z"}],
     "disclosures": [{"flow": "fac", "at": "2025-03-01T08:00:00Z", "reference": "FAC-17"}]},
    {"id": "K-1", "kind": "claimant",
     "records": [{"system": "claims", "since": "2019-05-01", "until": "2020-01-31"}, {"system": "crm", "since": "2019-05-01"}],
     "consents": [{"purpose": "marketing.newsletter", "status": "granted", "at": "2025-01-01T00:00:00Z",
                   "expires": "2025-12-31T00:00:00Z"}]},
]
