"""Hand-built registries for the compliance tests.

BASE is clean (no findings as of 2026-11-25): a German claims system and a US policy system
that declare what they hold with bases, conditions and retention, an empty warehouse, and one
flow to a German reinsurer under a treaty that supplies the flow's basis and condition and
whose scope (`health`) covers the diagnoses the flow carries. Each test adds a few entities.

    claims-sys (DE) --f-re[contact, health.diagnosis]--> re (DE)     treaty: contact, health; reinsurance
    us-sys (US)                                                      dwh (DE): declares nothing
"""

BASE = """
categories:
  - {id: contact, name: Contact details}
  - {id: financial, name: Financial data, npi: true}
  - {id: health, name: Health data, special: true, npi: true, health: true}
  - {id: health.diagnosis, name: Diagnoses, parent: health}
  - {id: health.diagnosis.oncology, name: Oncology diagnoses, parent: health.diagnosis}
  - {id: criminal, name: Criminal offences, criminal: true}
purposes:
  - {id: claims, name: Claims handling, insurance_function: true}
  - {id: reinsurance, name: Reinsurance, insurance_function: true}
  - {id: marketing, name: Marketing}
systems:
  - id: claims-sys
    name: Claims
    country: DE
    security_measures: Encrypted at rest; role-based access.
    holds:
      - {category: contact, purposes: [claims], legal_basis: gdpr-6-1-b, retention: P10Y}
      - {category: financial, purposes: [claims], legal_basis: gdpr-6-1-b, retention: P10Y}
      - {category: health, purposes: [claims], legal_basis: gdpr-6-1-b, condition: gdpr-9-2-f, retention: P10Y}
      - {category: criminal, purposes: [claims], legal_basis: gdpr-6-1-f, condition: gdpr-10, retention: P5Y}
  - id: us-sys
    name: US policy administration
    country: US
    holds:
      - {category: contact, purposes: [claims], legal_basis: glba-6802-e-1, retention: P7Y}
      - {category: financial, purposes: [claims], legal_basis: glba-6802-e-1, retention: P7Y}
      - {category: health, purposes: [claims], legal_basis: glba-6802-e-1, condition: gdpr-9-2-a, retention: P7Y}
  - {id: dwh, name: Warehouse, country: DE}
parties:
  - {id: re, name: Reinsurer, kind: reinsurer, country: DE, role: controller}
agreements:
  - id: treaty
    name: Treaty
    kind: reinsurance-treaty
    parties: [re]
    categories: [contact, health]
    purposes: [reinsurance]
    legal_basis: gdpr-6-1-f
    condition: gdpr-9-2-f
    effective: 2024-01-01
    expires: 2027-12-31
flows:
  - {id: f-re, name: Claims to reinsurer, from: claims-sys, to: re, categories: [contact, health.diagnosis],
     purpose: reinsurance, agreement: treaty}
"""
