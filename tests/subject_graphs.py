"""A hand-built registry and subjects with known DSAR answers (extends tests.graphs.LINEAGE).

On top of LINEAGE: `m1` takes contact details from crm to a marketing agency on consent
(gdpr-6-1-a); `w1` takes contact details and diagnoses from claims to a wellness partner on a
contract with the explicit-consent condition (gdpr-9-2-a), so without consent it still carries
contact details but not diagnoses.
"""

from tests.graphs import LINEAGE

CONSENTS = LINEAGE + """
  - {id: m1, name: Campaign audiences, from: crm, to: adco, categories: [contact], purpose: marketing, legal_basis: gdpr-6-1-a, agreement: dpa-adco}
  - {id: w1, name: Wellness referrals, from: claims, to: vitality, categories: [contact, health.diagnosis], purpose: wellness, legal_basis: gdpr-6-1-b, condition: gdpr-9-2-a}
""" + """
---
purposes:
  - {id: marketing, name: Marketing}
  - {id: wellness, name: Wellness programme}
parties:
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
