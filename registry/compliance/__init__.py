"""Compliance on top of the registry: findings with legal references, impact and breach
analysis with notification deadlines, and the record of processing activities (GDPR Art. 30).

Everything here is computed from the registry's documents and the traversals `Registry`
offers, so the answers are the same on every backend.
"""

from registry.compliance.findings import SEVERITIES, Finding, findings
from registry.compliance.impact import Breach, Impact, breach_impact, impact
from registry.compliance.ropa import Ropa, ropa
from registry.compliance.rules import RULES, Rule
from registry.compliance.settings import Settings
from registry.compliance import us  # noqa: F401  (registers the GLBA and NAIC rules)

__all__ = ["RULES", "SEVERITIES", "Breach", "Finding", "Impact", "Ropa", "Rule", "Settings", "breach_impact",
           "findings", "impact", "ropa"]
