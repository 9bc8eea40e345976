"""Hand-built registries with known answers, shared by the contract tests.

LINEAGE (categories: contact; health > health.diagnosis > health.diagnosis.oncology):

    broker --b1[contact]--> crm --f6[contact]--> dwh <--f5[diagnosis]-- actuarial
                                                  |  --f4[oncology, contact]--^
    claims --f1[diagnosis]------------------------+
      |                                           +--f2[diagnosis]--> re
      +----------------f3[health]-------------------------------------^

crm declares contact, claims declares health; broker is an origin (nothing flows to it);
dwh and actuarial form a cycle.
"""

LINEAGE = """
categories:
  - {id: contact, name: Contact details}
  - {id: health, name: Health data, special: true}
  - {id: health.diagnosis, name: Diagnoses, parent: health}
  - {id: health.diagnosis.oncology, name: Oncology diagnoses, parent: health.diagnosis}
purposes:
  - {id: underwriting, name: Underwriting}
  - {id: claims-handling, name: Claims handling}
  - {id: reinsurance, name: Reinsurance}
  - {id: analytics, name: Analytics}
systems:
  - id: crm
    name: CRM
    owner: Sales
    country: DE
    holds:
      - {category: contact, purposes: [underwriting], legal_basis: gdpr-6-1-b, retention: P10Y}
  - id: claims
    name: Claims
    country: DE
    holds:
      - {category: health, purposes: [claims-handling], legal_basis: gdpr-6-1-b, condition: gdpr-9-2-f, retention: P10Y}
  - {id: dwh, name: Data warehouse, country: DE}
  - {id: actuarial, name: Actuarial models, country: DE}
parties:
  - {id: broker, name: Broker, kind: broker, country: DE, role: controller}
  - {id: re, name: Reinsurer, kind: reinsurer, country: US, role: controller}
agreements:
  - id: treaty
    name: Treaty
    kind: reinsurance-treaty
    parties: [re]
    categories: [health]
    purposes: [reinsurance]
    legal_basis: gdpr-6-1-b
    condition: gdpr-9-2-f
    transfer_mechanism: scc
    effective: 2024-01-01
    expires: 2027-12-31
    document: RT-1
flows:
  - {id: b1, name: Applications, from: broker, to: crm, categories: [contact], purpose: underwriting, legal_basis: gdpr-6-1-b}
  - {id: f1, name: Claims to DWH, from: claims, to: dwh, categories: [health.diagnosis], purpose: analytics}
  - {id: f2, name: DWH to Re, from: dwh, to: re, categories: [health.diagnosis], purpose: reinsurance, agreement: treaty, legal_basis: gdpr-6-1-b, condition: gdpr-9-2-f}
  - {id: f3, name: Claims to Re, from: claims, to: re, categories: [health], purpose: reinsurance, agreement: treaty}
  - {id: f4, name: DWH to actuarial, from: dwh, to: actuarial, categories: [health.diagnosis.oncology, contact], purpose: analytics}
  - {id: f5, name: Actuarial to DWH, from: actuarial, to: dwh, categories: [health.diagnosis], purpose: analytics}
  - {id: f6, name: CRM to DWH, from: crm, to: dwh, categories: [contact], purpose: analytics}
"""

TIES = """
# Two equally short chains reach z: (t-b, t-c) and (t-a, t-d); the smaller one is (t-a, t-d).
# p and q pass y back and forth, and nothing feeds them: their holdings' paths are the flow alone.
categories:
  - {id: x, name: X}
  - {id: y, name: Y}
purposes:
  - {id: ops, name: Operations}
systems:
  - {id: a, name: A, country: FR, holds: [{category: x, purposes: [ops]}]}
  - {id: m1, name: M1, country: FR}
  - {id: m2, name: M2, country: FR}
  - {id: z, name: Z, country: FR}
  - {id: w, name: W, country: FR}
  - {id: p, name: P, country: FR}
  - {id: q, name: Q, country: FR}
flows:
  - {id: t-b, name: a-m1, from: a, to: m1, categories: [x], purpose: ops}
  - {id: t-a, name: a-m2, from: a, to: m2, categories: [x], purpose: ops}
  - {id: t-c, name: m1-z, from: m1, to: z, categories: [x], purpose: ops}
  - {id: t-d, name: m2-z, from: m2, to: z, categories: [x], purpose: ops}
  - {id: t-e, name: z-w, from: z, to: w, categories: [x], purpose: ops}
  - {id: u1, name: p-q, from: p, to: q, categories: [y], purpose: ops}
  - {id: u2, name: q-p, from: q, to: p, categories: [y], purpose: ops}
"""
