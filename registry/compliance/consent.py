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
are counted where, for some category held there only on consent, their consent to none of the
purposes it is brought or declared for stands on the evaluation day, and one was withdrawn or
ran out (GDPR Art. 7(3), 17(1)(b)): that data should be erased, or another basis recorded. A
consent to another of those purposes that still stands keeps the data there, as a DSAR says of
the holding (`consentLacking`). A declaration that names subject categories decides for those
subjects alone, as in a DSAR (`registry.subjects.dsar.declared`). A marketing
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
from datetime import date
from typing import NamedTuple

from graph.store import Doc
from graph.subjects import Concerned
from registry.compliance.concerned import upstream
from registry.compliance.facts import Facts
from registry.compliance.rules import GDPR, Hit, Rule
from registry.compliance.tally import Tally, kept_counts
from registry.subjects.consent import Rules
from registry.subjects.dsar import declared

RULE_ID = "consent-withdrawn-data-still-flowing"
COUNTS = RULE_ID + ": counts"
"""The name the rule's counts are kept under, with the facts and in the store (`registry.compliance.tally`)."""


def consent_withdrawn_rule(store) -> Rule:
    """The rule, reading the subjects' consent histories from `store` (any backend's `consent_groups`)."""

    def check(facts: Facts) -> Iterator[Hit]:
        resting = resting_on_consent(facts)
        if not resting:
            return
        counts = kept_counts(store, facts, resting, name=COUNTS)
        for place, (withdrawn, expired) in zip(resting, counts):
            if withdrawn or expired:
                yield Hit("system", place.system, _message(place, withdrawn, expired),
                          subject_count=withdrawn + expired, regime=place.regime)

    return Rule(RULE_ID, "info", "GDPR Art. 7(3), Art. 17(1)(b)",
                "Subjects withdrew consent (or it expired), yet a system that holds their data only on consent "
                "still has it.",
                "Erase those subjects' data there (and stop the flows for them), or record another basis.",
                GDPR, check)


class Resting(NamedTuple):
    """Data a system holds only on consent: `categories` (None: everything it holds) that came
    through `flows` on consent to `purposes`, under `regime`, and whose data that may be.
    `needs`: per category held only on consent, the purposes a consent to any one of which lets
    the system hold it (those of the flows that bring it, and of its declaration there), for
    subjects of the kinds no declaration names (`by_kind` for the others)."""

    system: str
    purposes: list[str]
    flows: list[Doc]
    regime: str
    whose: Concerned
    categories: list[str] | None
    needs: dict[str, tuple[str, ...]]
    by_kind: dict[str, dict[str, tuple[str, ...]]]
    """`needs` for subjects of a kind that the system's declarations name, where it differs: what it
    declares for them (`dsar.declared`) comes before what it declares for everyone."""


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
        system_doc = facts.systems[system]
        only, needs, flows_only, besides = _consent_only(facts, on_consent, otherwise, declared(system_doc, None))
        relied = sorted({flow["id"]: flow for c in flows_only for flow in on_consent[c]}.values(), key=lambda f: f["id"])
        regime = next((found[0] for flow in relied if (found := facts.flow_regime(flow))
                       and any(facts.tree.overlaps(c, flows_only) for c in found[1])), None)
        if regime is None:
            continue
        named = sorted({kind for held in system_doc.get("holds", ()) for kind in held.get("subject_categories", ())})
        by_kind = {kind: _consent_only(facts, on_consent, otherwise, declared(system_doc, kind)) for kind in named}
        whose = upstream(facts.tree, into, types, {system: only.union(*(found[0] for found in by_kind.values()))}, until)
        resting.append(Resting(system, sorted({flow["purpose"] for flow in relied}), relied, regime, whose,
                               None if not besides else sorted(only), needs,
                               {kind: found[1] for kind, found in by_kind.items() if found[1] != needs}))
    facts.kept[RULE_ID] = resting
    return resting


def _consent_only(facts: Facts, on_consent: dict[str, list[Doc]], otherwise: set[str], holds: dict[str, Doc]
                  ) -> tuple[set[str], dict[str, tuple[str, ...]], set[str], set[str]]:
    """What a system holds only on consent, given what its flows bring on consent (`on_consent`)
    and on anything else (`otherwise`), and its declarations for some subjects (`holds`, by
    category: `dsar.declared`): the categories; per category, the purposes a consent to any one
    of which lets it hold it (those of the flows that bring it on consent, and of its declaration;
    left out where none is named); the categories that flows alone bring only on consent; and
    the categories held on anything else."""
    otherwise = set(otherwise)
    declared_on_consent: dict[str, set[str]] = defaultdict(set)
    for held in holds.values():
        if facts.consent_relied_on(facts.recorded(held, flow=False), held["category"]):
            declared_on_consent[held["category"]].update(held.get("purposes", ()))
        else:
            otherwise.add(held["category"])
    flows_only = {c for c in on_consent if not facts.tree.overlaps(c, otherwise)}
    only = flows_only | {c for c in declared_on_consent if not facts.tree.overlaps(c, otherwise)}
    needs = {c: tuple(sorted({flow["purpose"] for flow in on_consent.get(c, ())} | declared_on_consent.get(c, set())))
             for c in sorted(only)}
    return only, {c: p for c, p in needs.items() if p}, flows_only, otherwise


def ended(store, rules: Rules, resting: list[Resting], on: date) -> list[tuple[int, int]]:
    """For each of `resting`, how many of the subjects whose data may be there (`Resting.whose`)
    no longer consent to what lets the system hold some category of it on day `on`: a consent to
    none of the category's purposes (`Resting.needs`) stands, and one was withdrawn or ran out
    (withdrew it, saw it expire). A subject counts once per place, as withdrawn if a withdrawal
    ended one. This is where a DSAR finds a holding's consent lacking (`consentLacking`); one who
    never gave consent is not counted here. One read of the store (`Tally`)."""
    tally = Tally(rules, resting, on)
    groups = store.consent_groups(tally.covering, every=tally.every)
    return [tuple(found) for found in tally.count((group, group.subjects) for group in groups)]


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
