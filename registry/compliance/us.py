"""The US rules: GLBA Title V (15 U.S.C. 6801-6809) and the NAIC Privacy of Consumer Financial
and Health Information Regulation (#672), which the states apply to insurers.

They check flows whose sender is under `glba` / `naic` (`registry.compliance.regimes`) to a
nonaffiliated party (kind not `affiliate`), whatever else governs the data; the bases they accept
may be recorded as `legal_basis`, `condition` or among `additional_bases`, so a flow can carry
what the GDPR needs and what GLBA and NAIC need at once. Registered with the other rules in
`registry.compliance.rules.RULES` when this module is imported (`registry.compliance` does).
"""

from __future__ import annotations

from collections.abc import Iterator

from graph.store import Doc
from registry.compliance.facts import Facts
from registry.compliance.rules import Hit, flow_text, rule

GLBA = "https://www.law.cornell.edu/uscode/text/15/6802"
NAIC_672 = "https://content.naic.org/sites/default/files/inline-files/MDL-672.pdf"
GLBA_ALLOWED = frozenset({"glba-6802-b", *(f"glba-6802-e-{n}" for n in range(1, 9)), "naic-672-authorisation"})
"""The opt-out, the 6802(e) exceptions, and the NAIC #672 authorisation: the consumer's signed
consent to the disclosure, which 6802(e)(2) accepts."""


def _us_disclosures(facts: Facts, regime: str) -> Iterator[Doc]:
    """Checked flows from a sender under `regime` (`glba`, `naic`) to a nonaffiliated party (kind not `affiliate`)."""
    nonaffiliated = {id_ for id_, party in facts.parties.items() if party["kind"] != "affiliate"}
    for flow in facts.flows:
        if flow["to"] in nonaffiliated and facts.under(flow["from"], regime):
            yield flow


@rule("glba-sharing-without-opt-out", "error", "15 U.S.C. 6802(a)-(b), 6802(e)",
      "Nonpublic personal information goes from a sender under GLBA to a nonaffiliated party without the GLBA "
      "opt-out, an exception, or the consumer's authorisation.",
      "Give the privacy and opt-out notice and record glba-6802-b, record the 6802(e) exception that applies, or "
      "stop the disclosure.", help_uri=GLBA, regimes=("glba",))
def glba_sharing_without_opt_out(facts: Facts) -> Iterator[Hit]:
    for flow in _us_disclosures(facts, "glba"):
        npi = facts.carried(flow, "npi")
        basis, condition, additional = facts.recorded(flow)
        if npi and not {basis, condition, *additional} & GLBA_ALLOWED:
            yield Hit("flow", flow["id"], f"{flow_text(flow)} discloses nonpublic personal information "
                                          f"({', '.join(npi)}) to nonaffiliated {flow['to']} without the opt-out "
                                          "(glba-6802-b), a 6802(e) exception or the consumer's authorisation: GLBA "
                                          "forbids the disclosure unless the consumer was given notice and the "
                                          "chance to opt out.", regime="glba")


@rule("naic-health-without-authorisation", "error", "NAIC Model Regulation #672 Art. V (health information)",
      "Health information (categories flagged `health`) goes from a sender under NAIC #672 to a nonaffiliated "
      "party, not for an insurance function, without the consumer's authorisation.",
      "Obtain the consumer's signed authorisation and record naic-672-authorisation, or, if the purpose is an "
      "insurance function, mark it `insurance_function: true`.", help_uri=NAIC_672, regimes=("naic",))
def naic_health_without_authorisation(facts: Facts) -> Iterator[Hit]:
    for flow in _us_disclosures(facts, "naic"):
        health = facts.carried(flow, "health")
        basis, condition, additional = facts.recorded(flow)
        if health and not facts.purpose_tree.is_("insurance_function", flow["purpose"]) \
                and "naic-672-authorisation" not in (basis, condition, *additional):
            yield Hit("flow", flow["id"], f"{flow_text(flow)} discloses health information ({', '.join(health)}) to "
                                          f"nonaffiliated {flow['to']} for {flow['purpose']}, which is not an "
                                          "insurance function, without the consumer's authorisation "
                                          "(naic-672-authorisation).", regime="naic")
