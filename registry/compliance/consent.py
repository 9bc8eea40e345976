"""The rule that needs data subjects: consent withdrawn or expired, data still held.

A system *rests on consent* when everything it holds came through flows in force whose effective
legal basis is consent (`gdpr-6-1-a`) and it declares nothing on another basis: without consent
it should hold nothing. The rule applies where the GDPR or the UK GDPR governs those flows. For
each such system, the subjects whose data is there (a record there, or in a system upstream that
the flows brought it from, as a breach counts them: `registry.compliance.concerned`) and whose
consent to one of those flows' purposes no longer stands on the evaluation day are counted (GDPR
Art. 7(3), 17(1)(b)): their data should be erased, or another basis recorded. A marketing
platform fed from the CRM holds the data of the CRM's customers who consented, though none of
them has a record in the platform itself.

Whether a consent stands is decided as for DSARs and the flows they suspend
(`registry.subjects.consent`): a consent to a broader purpose covers the narrower ones, and so
does a withdrawal; a consent that ran out (its `expires`, or the purpose's `consent_validity`)
counts as not given; events after the evaluation day do not count. A subject who never gave nor
withdrew consent to a purpose is not counted here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from graph.store import Concerned
from registry.compliance.concerned import upstream
from registry.compliance.facts import Facts
from registry.compliance.rules import GDPR, Hit, Rule
from registry.subjects.consent import Rules

CONSENT = "gdpr-6-1-a"
RULE_ID = "consent-withdrawn-data-still-flowing"


def consent_withdrawn_rule(store) -> Rule:
    """The rule, reading the subjects' consent histories from `store` (any backend's `consent_histories`)."""

    def check(facts: Facts) -> Iterator[Hit]:
        rules = None
        for system, purposes, flows, regime, whose in resting_on_consent(facts):
            rules = rules or Rules(facts.purpose_tree, facts.purposes)
            withdrawn, expired = ended(store, rules, whose, purposes, facts)
            if withdrawn or expired:
                yield Hit("system", system, _message(system, purposes, flows, withdrawn, expired),
                          subject_count=withdrawn + expired, regime=regime)

    return Rule(RULE_ID, "info", "GDPR Art. 7(3), Art. 17(1)(b)",
                "Subjects withdrew consent (or it expired), yet a system that holds their data only on consent "
                "still has it.",
                "Erase those subjects' data there (and stop the flows for them), or record another basis.",
                GDPR, check)


def resting_on_consent(facts: Facts) -> list[tuple[str, list[str], list[dict], str, Concerned]]:
    """The systems that rest on consent where the GDPR or the UK GDPR governs: (system, the
    purposes of its incoming flows, those flows, the regime, whose data they brought there), by
    system. A function of the facts alone, so kept with them (`Facts.kept`): only the subjects'
    consents are read each time."""
    kept = facts.kept.get(RULE_ID)
    if kept is not None:
        return kept
    incoming: dict[str, list[dict]] = defaultdict(list)
    into: dict[str, dict[str, dict]] = defaultdict(dict)
    for flow in facts.live:
        incoming[flow["to"]].append(flow)
        into[flow["to"]][flow["id"]] = flow
    types = {**{id_: "party" for id_ in facts.parties}, **{id_: "system" for id_ in facts.systems}}
    until = f"{facts.day}T23:59:59.999999+00:00"  # disclosures up to the end of the day, as ISO 8601 text compares
    resting = []
    for system, flows in sorted(incoming.items()):
        if system not in facts.systems or any(facts.basis(flow) != CONSENT for flow in flows):
            continue
        regime = next((found[0] for flow in flows if (found := facts.flow_regime(flow))), None)
        if regime is None:
            continue
        if any(held.get("legal_basis") != CONSENT for held in facts.systems[system].get("holds", ())):
            continue
        held = {c for flow in flows for c in flow["categories"]} | facts.declared.get(system, set())
        resting.append((system, sorted({flow["purpose"] for flow in flows}), flows, regime,
                        upstream(facts.tree, into, types, {system: held}, until)))
    facts.kept[RULE_ID] = resting
    return resting


def ended(store, rules: Rules, whose: Concerned, purposes: list[str], facts: Facts) -> tuple[int, int]:
    """How many of the subjects `whose` describes no longer consent to one of `purposes` on the
    facts' day: (withdrew it, saw it expire). A subject counts once, as withdrawn if it withdrew one."""
    covering = sorted({p for purpose in purposes for p in rules.covering(purpose)})
    withdrawn = expired = 0
    for _, events in store.consent_histories(whose, covering, every=rules.timed(covering)):
        states = {state.status for purpose in purposes
                  if (state := rules.state(purpose, events, facts.as_of)) is not None}
        withdrawn += "withdrawn" in states
        expired += "expired" in states and "withdrawn" not in states
    return withdrawn, expired


def _message(system: str, purposes: list[str], flows: list[dict], withdrawn: int, expired: int) -> str:
    named = ", ".join(purposes)
    who = [f"{withdrawn} data subject(s) withdrew consent for {named}"] if withdrawn else []
    who += [f"the consent of {expired} data subject(s) for {named} expired"] if expired else []
    who[0] = who[0][0].upper() + who[0][1:]
    return (f"{' and '.join(who)}, yet system {system}, which receives data only through consent-based flows "
            f"({', '.join(sorted(f['id'] for f in flows))}), still holds their data.")
