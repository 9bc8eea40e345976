"""DSAR reports (GDPR Art. 15), derived from the graph for one data subject.

A subject's data starts in the systems their records name (the record's categories, or what
the system declares for subjects of their kind: `declared`) and moves along the flows in force,
layer by layer, as in `graph.traversal`: a flow carries the subject's category X when it
carries X, an ancestor or a descendant (the narrower of the two arrives), from a node that
holds X for the subject. Each
(holder, category) keeps the shortest chain of flows that brought it (smallest flow ids on
ties); data a holder already holds, or holds a broader category of, does not arrive again.

Which flows carry *this* subject's data:

- a flow that lists `subject_categories` carries only subjects whose `kind` is one of them;
- a flow of scope `case` carries it only where a disclosure of the subject on that flow is
  recorded, at or before the evaluation day (a disclosure always counts: it is the record that
  the data went; when the subject's data never reached the flow's source it carries what the
  flow carries, as the registry records reality, gaps included). Without a disclosure, what lies
  beyond it is reported apart: the *potential* recipients (Art. 15(1)(c): "recipients or
  categories of recipient");
- a flow *rests on consent* for a category when its effective terms (`graph.flows.effective_terms`)
  rely on a consent for it (`registry.legal_bases.consent_relied_on`: consent as the Art. 6(1)
  basis; for special-category data, explicit consent as the Art. 9(2) condition; for health
  information, the NAIC #672 authorisation), as the consent rule of the compliance findings
  decides too; without the subject's consent standing on the day (`registry.subjects.consent`) it
  is reported as suspended and carries none of that data any more, while what it carried while
  the consent stood (until the withdrawal or the expiry) is where it went until erased (GDPR
  Art. 7(3), 17(1)(b)): held, with `consent_lacking`, and disclosed. A consent never given let
  nothing go.

Every flow that carries some of the subject's data to a party is a disclosure to a recipient.
Erasure plans (`registry.subjects.erasure`) start from this report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from graph.store import Doc, Stored
from graph.subjects import SubjectRow
from registry.categories import CategoryTree, Tree
from registry.legal_bases import Bases, builtin_bases
from registry.processing import Supplied, on_instructions
from registry.subjects.consent import ConsentState, Rules
from registry.subjects.spread import Arrival, Reach, Spread, condition_for


RIGHTS = (
    ("rectification", "GDPR Art. 16"),
    ("erasure", "GDPR Art. 17"),
    ("restriction", "GDPR Art. 18"),
    ("portability", "GDPR Art. 20"),
    ("objection", "GDPR Art. 21"),
    ("withdraw-consent", "GDPR Art. 7(3)"),
    ("human-review", "GDPR Art. 22(3)"),
    ("complaint", "GDPR Art. 77"),
)
"""The rights a report explains (Art. 15(1)(e)-(f), Art. 20, Art. 22(3)); the wording is in the
documents' catalogues (`registry.subjects.words`)."""


@dataclass(frozen=True)
class SubjectHolding:
    system: str
    category: str
    purposes: tuple[str, ...]
    legal_basis: str | None
    condition: str | None
    retention: str | None
    """ISO 8601 duration of the declaration that covers it (Art. 15(1)(d))."""
    path: tuple[str, ...]
    source: str | None = None
    """The party that supplied the data (for data the record names, not collected from the subject)."""
    retention_from: str = "end"
    """What `retention` runs from: `end` (of the relationship) or `collection`."""
    collected: date | None = None
    """The `since` of the record the data came from."""
    ended: date | None = None
    """The `until` of the record the data came from: when the relationship ended (None: it goes on)."""
    on_behalf_of: str | None = None
    """The controller we hold it for as its processor (`registry.processing`): its record's
    `source`, a party with which we have such an agreement; None for our own processing."""
    consent_lacking: str | None = None
    """Where the data rests on a consent (`registry.legal_bases.consent_relied_on`) that stands on
    the day for none of its purposes: `withdrawn`, `expired`, or `missing` (never given); None
    where it needs no consent or one stands. The data is reported all the same, since it is held
    (Art. 15): it should be erased or another basis recorded (GDPR Art. 7(3), 17(1)(b))."""


@dataclass(frozen=True)
class Recipient:
    party: str
    flow: str
    categories: tuple[str, ...]
    purpose: str
    legal_basis: str | None
    condition: str | None
    agreement: str | None
    transfer_mechanism: str | None
    path: tuple[str, ...]
    case_flows: tuple[str, ...] = ()
    """For a potential recipient: the flows of scope `case` on its path without a disclosure of
    the subject (why it has not received the data)."""
    on_behalf_of: str | None = None
    """The controller for whom we passed the data on as its processor (every record it came from
    was supplied by that controller); None for our own disclosure."""


@dataclass(frozen=True)
class SuspendedFlow:
    flow: str
    purpose: str
    categories: tuple[str, ...]
    """The subject's categories it would have carried, withheld for want of consent."""
    expired: bool = False
    """The consent it rests on was given but has expired (rather than withdrawn or never given)."""
    on_behalf_of: str | None = None
    """The controller whose data it would have carried, where all of it is held for that
    controller as its processor (the controller's to answer for); None where any is ours."""
    consent: ConsentState | None = None
    """Where the subject's consent to its purpose stands on the day (`Rules.state`: withdrawn or
    expired, with the event and the end); None: never given."""


@dataclass(frozen=True)
class DisclosureRecord:
    """One recorded disclosure of the subject's data: the accounting of disclosures."""

    flow: str
    receiver: str | None
    """The flow's receiver: a party (the recipient), or one of our own systems for a case flow
    inside the organisation; None when the flow is no longer in the registry."""
    at: datetime
    reference: str | None
    categories: tuple[str, ...]
    """The subject's categories it carried (the flow's categories when none of the subject's data reached its source)."""
    purpose: str | None
    on_behalf_of: str | None = None
    """The controller whose data it disclosed, where all it carried is held for that controller
    as its processor (the controller's to account for, Art. 28(3)(e)); None where any is ours."""


@dataclass(frozen=True)
class DsarReport:
    subject: SubjectRow
    as_of: date
    holdings: list[SubjectHolding]
    recipients: list[Recipient]
    """Recipients the subject's data has reached: through flows of scope `all` and recorded disclosures."""
    potential_recipients: list[Recipient]
    """Recipients reachable only through flows of scope `case` without a disclosure of the subject."""
    suspended: list[SuspendedFlow]
    disclosures: list[DisclosureRecord]
    consents: dict[str, ConsentState]
    """Per purpose the subject gave or withdrew consent for, where it stands on `as_of`."""
    entities: dict[str, Stored] = field(repr=False)
    runs_out: tuple[datetime | None, ...]
    """Per event of `subject.consents`, in their order: when a consent given runs out (its own
    `expires` or its purpose's `consent_validity`, the earlier), None for a withdrawal or a
    consent without an end."""

    @property
    def sources(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(party, system, categories) for data not collected from the subject."""
        return sorted((r["source"], r["system"], tuple(r["categories"])) for r in self.subject.records if r.get("source"))

    @property
    def legal_bases(self) -> list[str]:
        found = {b for h in self.holdings for b in (h.legal_basis, h.condition) if b}
        found |= {b for r in self.recipients for b in (r.legal_basis, r.condition) if b}
        return sorted(found)

    @property
    def rights(self) -> list[tuple[str, str]]:
        """(right, legal reference) the report explains; the right to human review (Art. 22(3))
        where a system holding the subject's data decides by automated means alone."""
        return [(right, reference) for right, reference in RIGHTS
                if right != "human-review" or self.automated_decisions]

    @property
    def processed_for(self) -> list[str]:
        """The controllers for whom we process some of the subject's data (`on_behalf_of`)."""
        return sorted({x.on_behalf_of for x in (*self.holdings, *self.recipients) if x.on_behalf_of})

    @property
    def automated_decisions(self) -> list[str]:
        """The systems holding the subject's data that take decisions by automated means alone (Art. 22)."""
        return sorted({h.system for h in self.holdings
                       if self.entities[h.system].doc.get("automated_decisions")})



def compute(subject: SubjectRow, flows: list[Doc], entities: dict[str, Stored], tree: CategoryTree, *,
            as_of: date | None = None, rules: Rules | None = None, terms: dict[str, tuple] | None = None,
            bases: Bases | None = None, supplied: Supplied | None = None) -> DsarReport:
    """The report for `subject` on day `as_of` (default today, UTC), given the flows downstream of
    its records and those its disclosures name, the entities they name, the category tree and the
    consent rules (default: no purpose hierarchy, no validity) and the legal bases by id (default:
    the built-in ones; a bundle's own may be flagged `consent` too).

    `supplied`: which controller supplies which system as our controller's processor
    (`registry.processing.supplied_under`). A record there whose `source` is that controller
    holds data on its behalf, and so does what flows on its instructions take of it
    (`registry.processing.on_instructions`): marked `on_behalf_of`. What other flows take of it
    is ours (Art. 28(10)). Data that comes from records of both kinds is ours.

    `terms`: flows' effective terms (`graph.flows.effective_terms`) by flow id, each with the flow
    and agreement documents it comes from, filled in as they are needed: a caller may pass the
    same dict to later reports (an entry is used only for the very same documents)."""
    on = as_of or datetime.now(timezone.utc).date()
    rules = rules or Rules(Tree([], []), {})
    disclosed: dict[str, list[Doc]] = defaultdict(list)
    for disclosure in subject.disclosures:
        if _day(disclosure["at"]) <= on:
            disclosed[disclosure["flow"]].append(disclosure)
    spread = Spread(subject, flows, entities, tree, rules, on, disclosed, {} if terms is None else terms,
                     builtin_bases() if bases is None else bases, supplied or {})
    actual = spread.reach(open_cases=False)
    potential = spread.reach(open_cases=True) if spread.closed else actual

    dates = _retention_dates(spread, actual)
    holdings = [_holding(node, category, arrival, entities, tree, spread.terms_of, dates.get((node, category)),
                         spread.consent_lacking, spread.for_whom, subject.kind)
                for (node, category), arrival in sorted(actual.arrived.items()) if entities[node].type == "system"]
    recipients = [_recipient(spread, party, flow_id, chains, origins=actual.origins.get((party, flow_id)))
                  for (party, flow_id), chains in sorted(actual.disclosed.items())]
    potentials = [_recipient(spread, party, flow_id, chains, potential=True,
                                 origins=potential.origins.get((party, flow_id)))
                  for (party, flow_id), chains in sorted(potential.disclosed.items())
                  if (party, flow_id) not in actual.disclosed]
    held_for = {(h.system, h.category): h.on_behalf_of for h in holdings}
    suspended = [SuspendedFlow(flow=f, purpose=entities[f].doc["purpose"], categories=tuple(sorted(categories)),
                               expired=f in actual.expired, on_behalf_of=_instructed(spread, held_for, entities[f].doc,
                                                                                     categories),
                               consent=rules.state(entities[f].doc["purpose"], subject.consents, on))
                 for f, categories in sorted(actual.suspended.items())]
    accounting = []
    for flow_id, events in disclosed.items():
        flow = entities.get(flow_id)
        carried = {c for (party, f), chains in actual.disclosed.items() if f == flow_id for c in chains}
        carried |= {c for (node, c), (path, last, _) in actual.arrived.items() if last and last["id"] == flow_id}
        whose = _whose([r.on_behalf_of for r in recipients if r.flow == flow_id]
                       + [h.on_behalf_of for h in holdings if h.path and h.path[-1] == flow_id])
        for event in events:
            accounting.append(DisclosureRecord(
                flow=flow_id, receiver=flow.doc["to"] if flow else None, at=datetime.fromisoformat(event["at"]),
                reference=event.get("reference"), purpose=flow.doc["purpose"] if flow else None,
                categories=tuple(sorted(carried or (flow.doc["categories"] if flow else ()))), on_behalf_of=whose))
    accounting.sort(key=lambda d: (d.at, d.flow))
    return DsarReport(subject=subject, as_of=on, holdings=holdings, recipients=recipients,
                      potential_recipients=potentials, suspended=suspended, disclosures=accounting,
                      consents=rules.states(subject.consents, on), entities=entities,
                      runs_out=tuple(rules.expires(e) if e["status"] == "granted" else None
                                     for e in subject.consents))


def _recipient(spread: Spread, party: str, flow_id: str, chains: dict[str, tuple[str, ...]],
               potential: bool = False, origins: set[str | None] | None = None) -> Recipient:
    flow = spread.entities[flow_id].doc
    terms = spread.terms_of(flow)
    path = min(chains.values())
    cases = tuple(f for f in path if spread.entities[f].doc.get("scope") == "case" and f not in spread.disclosed)
    return Recipient(party=party, flow=flow_id, categories=tuple(sorted(chains)), purpose=flow["purpose"],
                     legal_basis=terms["legal_basis"][0], condition=condition_for(terms["condition"][0], chains,
                                                                                  spread.tree),
                     agreement=flow.get("agreement"), transfer_mechanism=terms["transfer_mechanism"][0],
                     path=path, case_flows=cases if potential else (),
                     on_behalf_of=_whose(origins or ()))


def _whose(controllers: Iterable[str | None]) -> str | None:
    """The controller for whom we hold all of some data (each part's `on_behalf_of`), where it
    is one and the same for every part; None where a part is ours, or there is none."""
    found = set(controllers)
    return found.pop() if len(found) == 1 else None


def _instructed(spread: Spread, held_for: dict[tuple[str, str], str | None], flow: Doc,
                categories: Iterable[str]) -> str | None:
    """The controller whose processing `flow` would be, carrying `categories` from its source:
    where we hold all of it there for that controller (`held_for`: (system, category) -> the
    holding's `on_behalf_of`) and the flow is on its instructions
    (`registry.processing.on_instructions`); None where it would be our own (Art. 28(10))."""
    whose = _whose(held_for.get((flow["from"], c)) for c in categories)
    if whose is None:
        return None
    agreements = {a["id"]: a for (controller, _), found in spread.supplied.items() if controller == whose for a in found}
    return whose if on_instructions(agreements.values(), flow, spread.rules.covering) else None


def _retention_dates(spread: Spread, actual: Reach) -> dict[tuple[str, str], tuple[date | None, date | None]]:
    """(collected, ended) of the data each (system, category) holds, over every record it came
    from (`Spread.sources`): the latest `since` and the latest `until`, None where any of them has
    none (a relationship that goes on, a collection not recorded). A system may get the same data
    from two contracts, one ended and one not: retention runs from the later end, so that the data
    never becomes erasable earlier than its retention allows. What a recorded disclosure carried
    from a source no record reached came from no record (`Reach.filled`), so data it reached has
    no dates, whatever else brought the same data there. Only worked out for a subject whose
    records do not all carry the same dates or who has such a disclosure; otherwise every
    arrival's record gives the same answer and the map is empty."""
    records = spread.subject.records
    if not actual.filled and len({(r.get("since"), r.get("until")) for r in records}) < 2:
        return {}
    by_mask: dict[int, tuple[date | None, date | None]] = {}
    dates = {}
    for key, mask in spread.sources(records, actual.filled).items():
        if key in actual.arrived:
            if mask not in by_mask:
                found = [records[index] if index < len(records) else {} for index in range(mask.bit_length())
                         if mask >> index & 1]
                by_mask[mask] = (_latest(r.get("since") for r in found), _latest(r.get("until") for r in found))
            dates[key] = by_mask[mask]
    return dates


def _latest(days: Iterable[str | None]) -> date | None:
    """The latest of `days` (ISO dates), None if any is None."""
    found = list(days)
    return None if not found or None in found else date.fromisoformat(max(found))


def _holding(node: str, category: str, arrival: Arrival, entities: dict[str, Stored], tree: CategoryTree,
             terms_of: Callable[[Doc], dict], dates: tuple[date | None, date | None] | None,
             consent_lacking: Callable[[tuple, str, tuple[str, ...]], str | None],
             for_whom: Callable[[Doc | None, tuple[str, ...]], str | None], kind: str) -> SubjectHolding:
    """`dates`: (collected, ended) over every record the data came from (`_retention_dates`),
    when they differ from the arrival's record's. `consent_lacking`, `for_whom`: the `Spread`'s.
    `kind`: the subject's, whose declarations apply (`declared`)."""
    path, flow, record = arrival
    if dates is None:
        dates = (_date(record.get("since")), _date(record.get("until"))) if record else (None, None)
    declared = covering(entities[node].doc, category, tree, kind)
    terms = terms_of(flow) if flow is not None else None
    if declared:
        held = (declared.get("legal_basis"), declared.get("condition"), tuple(declared.get("additional_bases", ())))
    elif terms:
        held = (terms["legal_basis"][0], terms["condition"][0], terms["additional_bases"][0])
    else:
        held = (None, None, ())
    purposes = tuple(declared["purposes"]) if declared and declared.get("purposes") else \
        ((flow["purpose"],) if flow else ())
    return SubjectHolding(
        system=node, category=category, purposes=purposes, legal_basis=held[0],
        condition=condition_for(held[1], (category,), tree),
        retention=declared.get("retention") if declared else None,
        retention_from=declared.get("retention_from", "end") if declared else "end",
        path=path, source=record.get("source") if record and not path else None,
        collected=dates[0], ended=dates[1], on_behalf_of=for_whom(record, path),
        consent_lacking=consent_lacking(held, category, purposes))


def declared(system: Doc, kind: str | None) -> dict[str, Doc]:
    """The system's declared holdings (`holds`) that concern a subject of `kind`, by category, in
    the order declared: those naming no `subject_categories` (everyone's data) and those naming
    `kind` (None: those for everyone only). Where a category is declared both ways, or twice, the
    declaration naming `kind` comes before one that does not, then the first declared: a claims
    system may hold claimants' health data for claims handling and its staff's for sick leave, on
    other terms (GDPR Art. 30(1)(c))."""
    found: dict[str, Doc] = {}
    for held in system.get("holds", ()):
        kinds = held.get("subject_categories")
        if kinds and kind not in kinds:
            continue
        earlier = found.get(held["category"])
        if earlier is None or (kinds and not earlier.get("subject_categories")):
            found[held["category"]] = held
    return found


def covering(system: Doc, category: str, tree: CategoryTree, kind: str) -> Doc | None:
    """The system's declaration for subjects of `kind` (`declared`) nearest above (or at)
    `category`, if any."""
    held = declared(system, kind)
    return next((held[c] for c in tree.ancestors.get(category, (category,)) if c in held), None)


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _day(text: str) -> date:
    return datetime.fromisoformat(text).astimezone(timezone.utc).date()
