"""The rule that needs data subjects: consent withdrawn, data still held.

A system *rests on consent* when everything it holds came through flows in force whose effective
legal basis is consent (`gdpr-6-1-a`) and it declares nothing on another basis: without consent
it should hold nothing. The rule applies where the GDPR or the UK GDPR governs those flows. For each such system, the subjects with a record there whose latest
consent event for one of those flows' purposes is a withdrawal are counted (GDPR Art. 7(3),
17(1)(b)): their data should be erased, or another basis recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from registry.compliance.facts import Facts
from registry.compliance.rules import GDPR, Hit, Rule

CONSENT = "gdpr-6-1-a"
RULE_ID = "consent-withdrawn-data-still-flowing"


def consent_withdrawn_rule(store) -> Rule:
    """The rule, counting subjects in `store` (any backend's `count_withdrawn`)."""

    def check(facts: Facts) -> Iterator[Hit]:
        incoming: dict[str, list[dict]] = defaultdict(list)
        for flow in facts.live:
            incoming[flow["to"]].append(flow)
        for system, flows in sorted(incoming.items()):
            if system not in facts.systems or any(facts.basis(flow) != CONSENT for flow in flows):
                continue
            regime = next((found[0] for flow in flows if (found := facts.flow_regime(flow))), None)
            if regime is None:
                continue
            if any(held.get("legal_basis") != CONSENT for held in facts.systems[system].get("holds", ())):
                continue
            purposes = sorted({flow["purpose"] for flow in flows})
            count = store.count_withdrawn(system, purposes)
            if count:
                yield Hit("system", system, f"{count} data subject(s) withdrew consent for {', '.join(purposes)}, yet "
                                            f"system {system}, which receives data only through consent-based flows "
                                            f"({', '.join(sorted(f['id'] for f in flows))}), still holds their data.",
                          subject_count=count, regime=regime)

    return Rule(RULE_ID, "info", "GDPR Art. 7(3), Art. 17(1)(b)",
                "Subjects withdrew consent, yet a system that holds their data only on consent still has it.",
                "Erase the withdrawn subjects' data there (and stop the flows for them), or record another basis.",
                GDPR, check)
