"""Impact and breach analysis over the registry's documents and lineage.

`impact` answers "what depends on this agreement, party or system": the flows (in force or
planned on the evaluation date), the categories and purposes they carry, the holders downstream,
and the findings on them. `breach_impact` answers "what did a breach of these systems and parties
expose": the categories (special and criminal-offence data flagged as high risk), the recipients
downstream that received them through flows in force, those that may have received them (only
through flows of scope `case` without a recorded disclosure), and who must notify whom by when,
under the law that governs the exposed data where it was breached (`registry.compliance.regimes`):
our own duties for our systems and our processors, a processor's duty to tell us (GDPR Art.
33(2)), and an independent controller's duty of its own.

Data subjects are counted through a `SubjectCounter` the caller passes in (the seam for the
subject registry); without one, the counts are None.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

from graph.store import Doc, Stored
from graph.subjects import Concerned
from registry.categories import CategoryTree
from registry.compliance.concerned import upstream
from registry.compliance.facts import Facts
from registry.compliance.for_others import ForOthers, for_others
from registry.compliance.regimes import GDPR_FAMILY, LAW
from registry.compliance.findings import Finding, evaluate, today
from registry.compliance.rules import RULES
from registry.compliance.settings import Settings
from registry.errors import InvalidArgument
from registry.service import one_version

SubjectCounter = Callable[[Collection[str]], int]
"""How many distinct data subjects have a record in any of the given systems."""
ConcernedCounter = Callable[[Concerned], int]
"""How many distinct data subjects a `graph.subjects.Concerned` describes."""

WITHIN_72_HOURS = timedelta(hours=72)


@dataclass(frozen=True)
class Impact:
    entity: Stored
    flows: list[Doc]
    """The flows that depend on it: an agreement's flows, or the flows to and from a party or
    system, in force or planned on the evaluation date."""
    categories: list[Doc]
    purposes: list[Doc]
    holders: list[Stored]
    """Systems and parties downstream that hold data of those categories through these flows."""
    findings: list[Finding]
    """Findings, as of the evaluation date, on those flows and on the entity itself."""
    subject_systems: list[str]
    """The systems whose data subjects are concerned."""
    subject_count: int


@dataclass(frozen=True)
class Exposure:
    category: Doc
    high_risk: bool


@dataclass(frozen=True)
class Recipient:
    holder: Stored
    categories: list[Doc]
    flows: list[str]


@dataclass(frozen=True)
class Duty:
    id: str
    notify: str
    reference: str
    deadline: datetime | None
    """UTC; None where the law sets no fixed time (see `timing`)."""
    timing: str
    reason: str
    duty_of: str | None = None
    """Whose duty it is: None for ours (the controller's); else the id of the breached party that
    must notify (a processor telling us, Art. 33(2); an independent controller, its own)."""
    overdue: bool = False
    """The deadline has passed at the time of the analysis."""


@dataclass(frozen=True)
class Breach:
    detected_at: datetime
    """When the breach became known, in UTC."""
    breached: list[Stored]
    exposed: list[Exposure]
    recipients: list[Recipient]
    """Recipients that received exposed data: through flows of scope `all`, or of scope `case` with
    a disclosure recorded up to the breach's detection."""
    duties: list[Duty]
    concerned: Concerned
    """Whose data the breached systems and parties may hold (`concerned`)."""
    subject_count: int
    potential_recipients: list[Recipient] = ()
    """Recipients that may have received exposed data, or more of it than `recipients` says: the
    categories that reach them only through flows of scope `case` on which no disclosure is
    recorded (a fraud referral, a large-loss file)."""
    evaluated_at: datetime | None = None
    """When the analysis was made (UTC): deadlines before it are overdue."""

    @property
    def high_risk(self) -> bool:
        return any(exposure.high_risk for exposure in self.exposed)

    @property
    def subject_systems(self) -> list[str]:
        """The systems whose data subjects (all of them, or those of some kinds) are concerned."""
        return sorted(self.concerned.systems)


@one_version
def impact(registry, *, agreement: str | None = None, party: str | None = None, system: str | None = None,
           as_of: date | None = None, settings: Settings | None = None,
           count_subjects: SubjectCounter | None = None) -> Impact:
    given = [(kind, id_) for kind, id_ in (("agreement", agreement), ("party", party), ("system", system)) if id_]
    if len(given) != 1:
        raise InvalidArgument("give exactly one of agreement, party or system")
    [(kind, id_)] = given
    entity = registry.entity(id_, kind, argument=kind)
    facts = Facts.of(registry, as_of or today(), (settings or Settings.packaged()).countries)
    if kind == "agreement":
        flows = [flow for flow in facts.flows if flow.get("agreement") == id_]
    else:
        flows = [flow for flow in facts.flows if id_ in (flow["from"], flow["to"])]
    categories = {c for flow in flows for c in flow["categories"]}
    purposes = {flow["purpose"] for flow in flows}
    for held in entity.doc.get("holds", ()):
        categories.add(held["category"])
        purposes.update(held.get("purposes", ()))
    if kind == "agreement":
        seeds: dict[str, set[str]] = {}
        for flow in flows:
            seeds.setdefault(flow["to"], set()).update(flow["categories"])
        holders = set(seeds) | set(downstream(registry, facts.tree, seeds, facts.as_of))
    else:
        holders = set(downstream(registry, facts.tree, {id_: categories}, facts.as_of)) - {id_}
    flow_ids = {flow["id"] for flow in flows}
    found = [f for f in evaluate(facts, RULES.values())
             if f.entity_id in (flow_ids if f.entity_kind == "flow" else {id_})]
    systems = sorted({end for flow in flows for end in (flow["from"], flow["to"]) if end in facts.systems}
                     | ({id_} if kind == "system" else set()))
    return Impact(entity=entity, flows=flows, categories=[facts.categories[c] for c in sorted(categories)],
                  purposes=[facts.purposes[p] for p in sorted(purposes)],
                  holders=[Stored("system" if h in facts.systems else "party", facts.ends[h]) for h in sorted(holders)],
                  findings=found, subject_systems=systems,
                  subject_count=(count_subjects or registry.store.count_subjects)(systems))


@one_version
def breach_impact(registry, *, systems: Iterable[str] = (), parties: Iterable[str] = (), detected_at: datetime,
                  count_subjects: ConcernedCounter | None = None, as_of: date | None = None,
                  now: datetime | None = None, settings: Settings | None = None) -> Breach:
    """The breach's exposure through the flows in force on `as_of` (default: the day of
    `detected_at`, in UTC: what was flowing when the breach became known), with deadlines
    before `now` (default: now) marked overdue, and the duties of the law that governs the
    exposed data where it was breached (`settings`' country lists, default the packaged ones)."""
    systems, parties = sorted(set(systems)), sorted(set(parties))
    if not systems and not parties:
        raise InvalidArgument("give at least one system or party that was breached")
    if detected_at.tzinfo is None or detected_at.utcoffset() is None:
        raise InvalidArgument("detectedAt: give the time with its UTC offset, e.g. 2026-11-25T09:30:00+01:00")
    utc = detected_at.astimezone(timezone.utc)
    on = as_of or utc.date()
    breached = [registry.entity(id_, kind, argument=argument)
                for kind, argument, ids in (("system", "systems", systems), ("party", "parties", parties)) for id_ in ids]
    facts = Facts.of(registry, on, (settings or Settings.packaged()).countries)
    tree, by_id = facts.tree, facts.categories
    held = {node.id: _held(registry, tree, facts, node.id, on) for node in breached}
    exposed = sorted(set().union(*held.values()))
    high = [c for c in exposed if tree.is_("special", c) or tree.is_("criminal", c)]
    seeds = {node.id: set(exposed) for node in breached}
    possible = downstream(registry, tree, seeds, on) if exposed else {}
    closed = _undisclosed_case_flows(registry, possible, utc)
    received = downstream(registry, tree, seeds, on, skip=closed) if closed else possible
    whose = concerned(registry, tree, breached, exposed, on, utc.isoformat())
    evaluated = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)

    def recipients(found) -> list[Recipient]:
        return [Recipient(registry.entity(id_), [by_id[c] for c in sorted(carried)], sorted(flows))
                for id_, (carried, flows) in sorted(found.items()) if carried and id_ not in (*systems, *parties)]

    return Breach(
        detected_at=utc, breached=breached,
        exposed=[Exposure(by_id[c], c in high) for c in exposed],
        recipients=recipients(received), potential_recipients=recipients(_beyond(tree, possible, received)),
        duties=[replace(d, overdue=d.deadline is not None and d.deadline < evaluated)
                for d in _duties(utc, breached, held, set(high), facts)],
        concerned=whose, evaluated_at=evaluated,
        subject_count=(count_subjects or registry.store.count_concerned)(whose))


def _as_processor(breached: list[Stored], facts: Facts, others: ForOthers) -> list[Duty]:
    """Our duty, as processor, to tell each controller whose data a breached system of ours holds
    for it without undue delay (GDPR Art. 33(2), or what the processing agreement says where no
    GDPR-family law governs the data); notifying the supervisory authority and the people
    concerned about that data is the controller's duty (Art. 33(1), 34)."""
    received: dict[str, dict[str, set[str]]] = {}
    for node in breached:
        for controller, categories in others.held.get(node.id, {}).items():
            received.setdefault(controller, {})[node.id] = categories
    duties = []
    for controller, where in sorted(received.items()):
        name = facts.parties[controller].get("name", controller)
        regime = others.regimes.get(controller)
        reference = f"{LAW[regime]} Art. 33(2)" if regime else "the data processing agreement"
        what = "; ".join(f"{', '.join(sorted(categories))} at {system}" for system, categories in sorted(where.items()))
        duties.append(Duty(f"art-33-2-{controller}", f"{name}, the controller", reference, None,
                           "without undue delay after becoming aware of the breach",
                           f"we process its data ({what}) as its processor: we must tell it; notifying the "
                           "supervisory authority and the people concerned about that data is its duty"))
    return duties


def _held(registry, tree: CategoryTree, facts: Facts, node: str, on: date) -> set[str]:
    """What `node` holds on day `on`: its holdings (declarations and what flows in force bring it),
    and what it sends on flows in force, which it must hold to send (a broker or a claims
    administrator is the source of data it never received from us), where no broader category
    it holds covers it already."""
    held = {view.holding.category for view in registry.holdings(node, as_of=on)}
    sent = {c for flow in facts.live if flow["from"] == node for c in flow["categories"]}
    return held | {c for c in sent if not tree.covered(c, held)}


def _beyond(tree: CategoryTree, possible: dict[str, tuple[set[str], set[str]]],
            received: dict[str, tuple[set[str], set[str]]]) -> dict[str, tuple[set[str], set[str]]]:
    """What each node may have received beyond what it did: the categories `possible` brought it
    that `received` does not cover (a party that gets contact details every night may still get
    claim files in a case), with the flows only `possible` took."""
    beyond = {}
    for id_, (carried, flows) in possible.items():
        got, through = received.get(id_, ((), ()))
        beyond[id_] = ({c for c in carried if not tree.covered(c, got)}, flows - set(through))
    return beyond


def concerned(registry, tree: CategoryTree, breached: list[Stored], categories: list[str], on: date,
              until: str) -> Concerned:
    """Whose data the `breached` systems and parties may hold, as the flows in force on `on` brought
    it there (`registry.compliance.concerned.upstream`, over the flows `Registry.lineage` finds
    upstream of each)."""
    types = {node.id: node.type for node in breached}
    into: dict[str, dict[str, Doc]] = {}
    if categories:
        for node in breached:
            found = registry.lineage(node.id, "upstream", None, categories, as_of=on)
            types.update((stored.id, stored.type) for stored in found.nodes)
            for edge in found.edges:
                into.setdefault(edge["to"], {})[edge["id"]] = edge
    return upstream(tree, into, types, {node.id: categories for node in breached}, until)


def _undisclosed_case_flows(registry, reached: dict[str, tuple[set[str], set[str]]], until: datetime) -> set[str]:
    """Among the flows that reached someone, those of scope `case` with no disclosure recorded up
    to `until`: the data of none of the source's subjects is known to have travelled on them."""
    used = {flow for _, flows in reached.values() for flow in flows}
    case = {id_ for id_, stored in registry.entities(used).items() if stored.doc.get("scope") == "case"}
    if not case:
        return set()
    disclosed = registry.store.count_disclosures(case, until.isoformat())
    return {flow for flow in case if not disclosed.get(flow)}


def downstream(registry, tree: CategoryTree, seeds: dict[str, set[str]],
               as_of: date, skip: Collection[str] = ()) -> dict[str, tuple[set[str], set[str]]]:
    """Where data of the seed nodes' categories went through the flows in force on `as_of` (but
    `skip`): for each node reached, the categories and flows that brought it. A flow passes data on
    when it carries a category overlapping what reached its source (so a warehouse that received
    diagnoses passes on diagnoses, not every category it sends); the candidate flows come from
    `Registry.lineage`."""
    out: dict[str, dict[str, Doc]] = {}
    for start, categories in seeds.items():
        if categories:
            for edge in registry.lineage(start, "downstream", None, sorted(categories), as_of=as_of).edges:
                if edge["id"] not in skip:
                    out.setdefault(edge["from"], {})[edge["id"]] = edge
    reached = {node: set(categories) for node, categories in seeds.items()}
    found: dict[str, tuple[set[str], set[str]]] = {}
    todo = sorted(seeds)
    while todo:
        node = todo.pop()
        for edge in out.get(node, {}).values():
            carried = {c for c in edge["categories"] if tree.overlaps(c, reached[node])}
            if not carried:
                continue
            categories, flows = found.setdefault(edge["to"], (set(), set()))
            categories.update(carried)
            flows.add(edge["id"])
            known = reached.setdefault(edge["to"], set())
            if not carried <= known:
                known.update(carried)
                todo.append(edge["to"])
    return found


SUPERVISOR = {"gdpr": "the competent supervisory authority", "uk-gdpr": "the Information Commissioner's Office"}
"""Whom a controller under each GDPR-family regime notifies (GDPR / UK GDPR Art. 33(1), 55-56)."""


def _governed(facts: Facts, node: str, regime: str, categories: Collection[str]) -> list[str]:
    """The `categories` held at `node` that `regime` governs there: all of them where the node is
    under it, else those whose data came from a node under it (`Facts.regime_data`)."""
    if facts.under(node, regime):
        return sorted(categories)
    came = facts.regime_data[regime].get(node, 0)
    return sorted(c for c in categories if facts.bits.overlap.get(c, 0) & came)


def _duties(utc: datetime, breached: list[Stored], held: dict[str, set[str]], high: set[str],
            facts: Facts) -> list[Duty]:
    """Our duties when a system of ours, a processor acting for us or a joint controller was
    breached, under the law that governs the exposed data there: the GDPR's or the UK GDPR's
    (Art. 33-34) where it governs the node or the data came from a node it governs (Art. 44,
    onward transfers), the NAIC Insurance Data Security Model Law's (#668 §6) where the node is
    under the NAIC's regime; a processor's duty to tell us (Art. 33(2)); an independent
    controller's own duty."""
    ours = [node for node in breached if node.type == "system" or node.doc.get("role") != "controller"]
    others = for_others(facts)
    # what we hold as controller: not what a system holds only for a controller we process for
    own = {node.id: held[node.id] - others.only(facts, node.id) for node in ours}
    # per GDPR-family regime: the breached nodes of ours where it governs exposed data, with those categories
    governed_by = {regime: {node.id: found for node in ours
                            if (found := _governed(facts, node.id, regime, own[node.id]))}
                   for regime in GDPR_FAMILY}
    duties = []
    for regime, governed in governed_by.items():
        if not governed:
            continue
        law = LAW[regime]
        where = ", ".join(governed)
        duties.append(Duty(f"{regime}-art-33", SUPERVISOR[regime], f"{law} Art. 33(1)", utc + WITHIN_72_HOURS,
                           "without undue delay and, where feasible, not later than 72 hours after becoming aware of it",
                           f"a personal data breach of data the {law} governs ({where}) must be notified unless it is "
                           "unlikely to result in a risk to the rights and freedoms of natural persons"))
        risky = sorted({c for found in governed.values() for c in found if c in high})
        if risky:
            duties.append(Duty(f"{regime}-art-34", "the data subjects concerned", f"{law} Art. 34(1)", None,
                               "without undue delay",
                               f"special-category or criminal-offence data were exposed ({', '.join(risky)}): a likely "
                               "high risk to the rights and freedoms of the people concerned"))
    us = [node.id for node in ours if facts.under(node.id, "naic") and own[node.id]]
    if us:
        duties.append(Duty("naic-668-s6", "the insurance commissioner of the home state",
                           "NAIC Insurance Data Security Model Law (#668) §6", utc + WITHIN_72_HOURS,
                           "as promptly as possible and not later than 72 hours after determining that a "
                           "cybersecurity event occurred",
                           f"a cybersecurity event involving nonpublic information in the US ({', '.join(us)})"))
    duties.extend(_as_processor(breached, facts, others))
    for node in breached:
        if node.type != "party":
            continue
        if node.doc.get("role") == "processor":
            regime = next((r for r, governed in governed_by.items() if node.id in governed), None)
            if regime is not None:
                duties.append(Duty(f"{regime}-art-33-2", "us, the controller", f"{LAW[regime]} Art. 33(2)", None,
                                   "without undue delay after becoming aware of the breach",
                                   f"{node.doc['name']} processes the data on our behalf: it must tell us; our own "
                                   "deadline runs from when we become aware", duty_of=node.id))
        elif node.doc.get("role") == "controller":
            duties.append(Duty("controller-own", "the supervisory authority competent for it, and the people "
                               "concerned where the risk is high", "GDPR Art. 33(1), 34(1), where the GDPR applies to it",
                               None, "as the law that governs it requires (GDPR: within 72 hours of its becoming aware)",
                               f"{node.doc['name']} is an independent controller: notifying is its own duty; ask it to "
                               "confirm, and give it what it needs", duty_of=node.id))
    return duties
