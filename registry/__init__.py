"""dsa-registry: who holds which customer data, and why.

The domain (`model`, `legal_bases`, `bundle`), the use cases (`service`), and the faces:
the GraphQL API (`registry.api`) and the CLI (`registry.cli`).
"""
