"""The rule that needs data subjects: consent withdrawn or expired, data still held.

Data a system holds *rests on consent* when the flows in force that bring it rest on a consent
for it (`registry.legal_bases.consent_relied_on`, as DSARs decide which flows a withdrawal
stops: consent as the Art. 6(1) basis, explicit consent as the Art. 9(2) condition of
special-category data, the NAIC #672 authorisation for health information) and nothing
overlapping it arrives or is declared there on anything else: without consent the system should
not hold it. A claims-analytics system fed health data on explicit consent rests on it for that
data, whatever the Art. 6 basis. The rule applies where the GDPR or the UK GDPR governs those
flows. For each such system, the subjects whose data is there (a record there, or in a system
upstream that the flows brought it from, as a breach counts them: `registry.compliance.concerned`)
and whose consent to one of those flows' purposes no longer stands on the evaluation day are
counted (GDPR Art. 7(3), 17(1)(b)): their data should be erased, or another basis recorded. A marketing
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
from typing import NamedTuple

from graph.store import Concerned, Doc
from registry.compliance.concerned import upstream
from registry.compliance.facts import Facts
from registry.compliance.rules import GDPR, Hit, Rule
from registry.subjects.consent import Rules

RULE_ID = "consent-withdrawn-data-still-flowing"


def consent_withdrawn_rule(store) -> Rule:
    """The rule, reading the subjects' consent histories from `store` (any backend's `consent_histories`)."""

    def check(facts: Facts) -> Iterator[Hit]:
        rules = None
        for resting in resting_on_consent(facts):
            rules = rules or Rules(facts.purpose_tree, facts.purposes)
            withdrawn, expired = ended(store, rules, resting.whose, resting.purposes, facts)
            if withdrawn or expired:
                yield Hit("system", resting.system, _message(resting, withdrawn, expired),
                          subject_count=withdrawn + expired, regime=resting.regime)

    return Rule(RULE_ID, "info", "GDPR Art. 7(3), Art. 17(1)(b)",
                "Subjects withdrew consent (or it expired), yet a system that holds their data only on consent "
                "still has it.",
                "Erase those subjects' data there (and stop the flows for them), or record another basis.",
                GDPR, check)


class Resting(NamedTuple):
    """Data a system holds only on consent: `categories` (None: everything it holds) that came
    through `flows` on consent to `purposes`, under `regime`, and whose data that may be."""

    system: str
    purposes: list[str]
    flows: list[Doc]
    regime: str
    whose: Concerned
    categories: list[str] | None


def resting_on_consent(facts: Facts) -> list[Resting]:
    """The data that systems hold only on consent where the GDPR or the UK GDPR governs, by system.

    A category a system receives rests on consent when the flow bringing it rests on consent for
    it (`Facts.consent_relied_on`: consent as the Art. 6(1) basis, explicit consent as the Art.
    9(2) condition of special-category data, the NAIC #672 authorisation for health information)
    and nothing overlapping it arrives, or is declared there, on anything else. A function of the
    facts alone, so kept with them (`Facts.kept`): only the subjects' consents are read each time."""
    kept = facts.kept.get(RULE_ID)
    if kept is not None:
        return kept
    incoming: dict[str, list[Doc]] = defaultdict(list)
    into: dict[str, dict[str, Doc]] = defaultdict(dict)
    for flow in facts.live:
        incoming[flow["to"]].append(flow)
        into[flow["to"]][flow["id"]] = flow
    types = {**{id_: "party" for id_ in facts.parties}, **{id_: "system" for id_ in facts.systems}}
    until = f"{facts.day}T23:59:59.999999+00:00"  # disclosures up to the end of the day, as ISO 8601 text compares
    resting = []
    for system, flows in sorted(incoming.items()):
        if system not in facts.systems:
            continue
        on_consent: dict[str, list[Doc]] = defaultdict(list)
        otherwise: set[str] = set()
        for flow in flows:
            recorded = facts.recorded(flow)
            for category in flow["categories"]:
                if facts.consent_relied_on(recorded, category):
                    on_consent[category].append(flow)
                else:
                    otherwise.add(category)
        declared_on_consent = set()
        for held in facts.systems[system].get("holds", ()):
            if facts.consent_relied_on(facts.recorded(held, flow=False), held["category"]):
                declared_on_consent.add(held["category"])
            else:
                otherwise.add(held["category"])
        only = {c for c in on_consent if not facts.tree.overlaps(c, otherwise)}
        relied = sorted({flow["id"]: flow for c in only for flow in on_consent[c]}.values(), key=lambda f: f["id"])
        regime = next((found[0] for flow in relied if (found := facts.flow_regime(flow))
                       and any(facts.tree.overlaps(c, only) for c in found[1])), None)
        if regime is None:
            continue
        only |= {c for c in declared_on_consent if not facts.tree.overlaps(c, otherwise)}
        resting.append(Resting(system, sorted({flow["purpose"] for flow in relied}), relied, regime,
                               upstream(facts.tree, into, types, {system: only}, until),
                               None if not otherwise else sorted(only)))
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


def _message(resting: Resting, withdrawn: int, expired: int) -> str:
    named = ", ".join(resting.purposes)
    who = [f"{withdrawn} data subject(s) withdrew consent for {named}"] if withdrawn else []
    who += [f"the consent of {expired} data subject(s) for {named} expired"] if expired else []
    who[0] = who[0][0].upper() + who[0][1:]
    flows = ", ".join(flow["id"] for flow in resting.flows)
    if resting.categories is None:
        return (f"{' and '.join(who)}, yet system {resting.system}, which receives data only through "
                f"consent-based flows ({flows}), still holds their data.")
    return (f"{' and '.join(who)}, yet system {resting.system}, which holds {', '.join(resting.categories)} data "
            f"only on consent (flows {flows}), still holds that data.")
