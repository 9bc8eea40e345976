"""How one data subject's data moves along the flows in force, for a DSAR (`registry.subjects.dsar`):
where it arrives, which parties receive it, which flows stay closed for want of consent, and for
whom we hold it. The rules are the DSAR's (see its module docstring); this is their walk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from graph.flows import effective_terms
from graph.store import MAX_DEPTH, Doc, Stored
from graph.subjects import SubjectRow
from registry.categories import CategoryTree
from registry.legal_bases import Bases, consent_relied_on
from registry.processing import Supplied, on_instructions
from registry.subjects.consent import ConsentState, Rules, _utc

Arrival = tuple[tuple[str, ...], Doc | None, Doc | None]
"""(the chain of flows that brought the data, the last flow, the record it came from)."""
Gate = tuple[bool, bool] | None
"""Where a flow rests on a consent for a category that does not stand on the day: (it was given
but expired, the flow never carried the data: `Spread._gate`); None where it needs none or
one stands."""
Move = tuple[Doc, str, bool, Gate, tuple[str, ...]]
"""(a flow from a place, the category of the data held there it takes along, whether its scope is
`case`, its `Gate` for that category, the category and its ancestors)."""


@dataclass
class Reach:
    arrived: dict[tuple[str, str], Arrival]
    disclosed: dict[tuple[str, str], dict[str, tuple[str, ...]]]
    """(party, flow) -> category -> the chain that brought it."""
    suspended: dict[str, set[str]]
    expired: set[str]
    origins: dict[tuple[str, str], set[str | None]] = field(default_factory=lambda: defaultdict(set))
    """(party, flow) -> for whom the data it received was passed on: a controller we process for
    (the records' `source`), or None for our own data."""
    filled: list[str] = field(default_factory=list)
    """The flows of recorded disclosures that carried data from no record (`Spread._fill_gaps`)."""


class Spread:
    """The subject's data moving along the flows: once as it did (`open_cases` false), once as it
    could (every flow of scope `case` open)."""

    def __init__(self, subject: SubjectRow, flows: list[Doc], entities: dict[str, Stored], tree: CategoryTree,
                 rules: Rules, on: date, disclosed: dict[str, list[Doc]], terms: dict[str, tuple], bases: Bases,
                 supplied: Supplied):
        self.subject, self.entities, self.tree, self.rules, self.on = subject, entities, tree, rules, on
        self.disclosed, self.terms, self.bases, self.supplied = disclosed, terms, bases, supplied
        self.outgoing: dict[str, list[tuple[Doc, dict]]] = defaultdict(list)
        self.closed = False
        """Whether some flow of scope `case` carries nothing for want of a disclosure."""
        for flow in sorted(flows, key=lambda f: f["id"]):
            if not self._for_subject(flow):
                continue
            self.outgoing[flow["from"]].append((flow, self.terms_of(flow)))
            self.closed |= flow.get("scope") == "case" and flow["id"] not in disclosed
        self._consent: dict[str, tuple[bool, bool, datetime | None]] = {}
        self._states: dict[str, ConsentState | None] = {}
        self._relied: dict[tuple, bool] = {}
        self._moved: dict[tuple[str, str], list[Move]] = {}

    def _for_subject(self, flow: Doc) -> bool:
        """Whether the flow can carry this subject's data at all: its subject categories (a recorded
        disclosure always counts)."""
        kinds = flow.get("subject_categories")
        return not kinds or self.subject.kind in kinds or flow["id"] in self.disclosed

    def _state(self, purpose: str) -> ConsentState | None:
        """Where the subject's consent to `purpose` stands on the day (`Rules.state`), worked out once."""
        if purpose not in self._states:
            self._states[purpose] = self.rules.state(purpose, self.subject.consents, self.on)
        return self._states[purpose]

    def _consented(self, purpose: str) -> tuple[bool, bool, datetime | None]:
        """(consent stands, it was given but expired, when it stopped standing: the withdrawal, or
        the expiry; None when it stands or was never given) for `purpose` on the day."""
        if purpose not in self._consent:
            state = self._state(purpose)
            stopped = None
            if state is not None and state.status == "expired":
                stopped = state.expires
            elif state is not None and state.status == "withdrawn":
                stopped = _utc(state.event["at"])  # a withdrawal takes back a consent given, recorded or not
            self._consent[purpose] = (state is not None and state.status == "granted",
                                      state is not None and state.status == "expired", stopped)
        return self._consent[purpose]

    def _relies(self, basis: str | None, condition: str | None, additional: Iterable[str], category: str) -> bool:
        """Whether `category`'s data on these terms rests on a consent (`consent_relied_on`), worked
        out once per terms and category: a walk asks it for every flow and category it passes."""
        additional = tuple(additional)
        key = (basis, condition, additional, category)
        found = self._relied.get(key)
        if found is None:
            found = self._relied[key] = consent_relied_on(
                self.bases, basis, condition, additional, special=self.tree.is_("special", category),
                health=self.tree.is_("health", category)) is not None
        return found

    def _rests_on_consent(self, terms: dict, category: str) -> bool:
        return self._relies(terms["legal_basis"][0], terms["condition"][0], terms["additional_bases"][0], category)

    def for_whom(self, record: Doc | None, path: Iterable[str] = ()) -> str | None:
        """The controller for whom we hold what `path` took of a record's data, as its processor;
        None for our own data. Data is a controller's where it supplies it to a system of ours
        under an agreement that makes us its processor (the record's `source` supplying the
        record's system, or a flow on `path` from the controller under such an agreement), and
        stays its own along flows on its instructions; another flow makes it ours (Art. 28(10))."""
        if not self.supplied:
            return None
        whose, agreements = None, ()
        if record and (found := self.supplied.get((record.get("source") or "", record["system"]))):
            whose, agreements = record["source"], found
        for flow_id in path:
            flow = self.entities[flow_id].doc
            found = self.supplied.get((flow["from"], flow["to"]))
            if found and flow.get("agreement") in {agreement["id"] for agreement in found}:
                whose, agreements = flow["from"], found
            elif whose and not on_instructions(agreements, flow, self.rules.covering):
                whose, agreements = None, ()
        return whose

    def reach(self, open_cases: bool) -> Reach:
        """Where the subject's data goes (`run`). Records are walked in groups, each apart: our
        own records' before those a controller we process for supplied, so that what both bring
        is ours whichever comes first; and records an erasure restricted after the others, so
        that data kept for its ground only does not stop the same data from another record from
        flowing on where it already is (a customer again after a partial erasure)."""
        groups: dict[tuple[bool, bool], list[Doc]] = defaultdict(list)
        for record in self.subject.records:
            groups[(self.for_whom(record) is not None, self._restricted(record))].append(record)
        if len(groups) < 2:
            return self.run(open_cases)
        first, *others = (self.run(open_cases, records, gaps=False) for _, records in sorted(groups.items()))
        for other in others:
            self._merge(first, other)
        self._fill_gaps(first, open_cases)
        return first

    @staticmethod
    def _merge(found: Reach, other: Reach) -> None:
        """Add to `found` what `other` (another group of records) reached that it did not."""
        for key, arrival in other.arrived.items():
            found.arrived.setdefault(key, arrival)
        for key, chains in other.disclosed.items():
            into = found.disclosed[key]
            for category, chain in chains.items():
                into[category] = min(chain, into.get(category, chain))
        for key, origins in other.origins.items():
            found.origins[key] |= origins
        for flow, categories in other.suspended.items():
            found.suspended[flow] |= categories
        found.expired |= other.expired

    def consent_lacking(self, terms: tuple[str | None, str | None, Iterable[str]], category: str,
                        purposes: Iterable[str]) -> str | None:
        """For data of `category` held on `terms` (basis, condition, additional bases) for
        `purposes`: how the consent it rests on lacks when it stands for none of them
        (`withdrawn` over `expired` over `missing`), None when it needs none, one stands, or no
        purpose is named."""
        if not self._relies(*terms, category):
            return None
        states = [self._state(purpose) for purpose in purposes]
        if not states or any(state is not None and state.status == "granted" for state in states):
            return None
        found = {state.status for state in states if state is not None}
        return "withdrawn" if "withdrawn" in found else "expired" if "expired" in found else "missing"

    def run(self, open_cases: bool, records: list[Doc] | None = None, gaps: bool = True) -> Reach:
        """Where the data of `records` (default: all the subject's) goes; with `gaps`, and what
        the recorded disclosures carried from a source it never reached (`_fill_gaps`)."""
        reach = Reach({}, defaultdict(dict), defaultdict(set), set())
        for record in self.subject.records if records is None else records:
            if self._collected_later(record):
                continue
            for category in record["categories"]:
                reach.arrived.setdefault((record["system"], category), ((), None, record))
        self._walk(reach, dict(reach.arrived), open_cases)
        if gaps:
            self._fill_gaps(reach, open_cases)
        return reach

    def _fill_gaps(self, reach: Reach, open_cases: bool) -> None:
        """A disclosure whose flow's source never got the subject's data (as far as `reach` knows):
        the flow carried what it carries, from no record of the subject's (so, our own data)."""
        gaps = {}
        for flow_id in sorted(self.disclosed):
            flow = self.entities.get(flow_id)
            if flow is None or flow.type != "flow" or not self._for_subject(flow.doc):
                continue
            held = {c for (node, c) in reach.arrived if node == flow.doc["from"]}
            if any(self.tree.overlaps(c, held) for c in flow.doc["categories"]):
                continue
            reach.filled.append(flow_id)
            for category in flow.doc["categories"]:
                self._carry(reach, gaps, self._move(flow.doc, self.terms_of(flow.doc), category), (), None)
        if gaps:
            reach.arrived.update(gaps)
            self._walk(reach, gaps, open_cases)

    def terms_of(self, flow: Doc) -> dict:
        """The flow's effective terms, kept in `terms` with the flow and agreement documents they
        come from (a document changed since is another object: its terms are worked out again)."""
        agreement = self.entities.get(flow.get("agreement") or "")
        agreement = agreement.doc if agreement else None
        found = self.terms.get(flow["id"])
        if found is None or found[0] is not flow or found[1] is not agreement:
            found = self.terms[flow["id"]] = (flow, agreement, effective_terms(flow, agreement))
        return found[2]

    def _walk(self, reach: Reach, frontier: dict[tuple[str, str], Arrival], open_cases: bool) -> None:
        for _ in range(MAX_DEPTH):
            following: dict[tuple[str, str], Arrival] = {}
            for (node, held), (path, _, record) in sorted(frontier.items(), key=lambda item: item[0]):
                kept_only = self._restricted(record)
                for move in self._moves(node, held):
                    if move[2]:
                        if not open_cases and move[0]["id"] not in self.disclosed:
                            continue
                    elif kept_only:
                        continue
                    self._carry(reach, following, move, path, record)
            if not following:
                return
            reach.arrived.update(following)
            frontier = following

    def _restricted(self, record: Doc | None) -> bool:
        """Whether `record`'s data was kept by an erasure carried out by the day (its `restricted`):
        kept for the ground that keeps it only (GDPR Art. 17(3)), so flows of scope `all` no longer
        carry it on; a case flow still does where a disclosure is recorded (the legal claim it is
        kept for), and may where none is."""
        return bool(record and record.get("restricted") and record["restricted"] <= self.on.isoformat())

    def _moves(self, node: str, held: str) -> list[Move]:
        """What the flows from `node` take along of the data of category `held` there, in the
        order of the flows and their categories (`Move`), worked out once per place: every walk
        of the report (as it did, as it could, per record) passes the same places."""
        found = self._moved.get((node, held))
        if found is None:
            found = self._moved[(node, held)] = [
                self._move(flow, terms, category)
                for flow, terms in self.outgoing.get(node, ())
                for carried in flow["categories"]
                if (category := self.tree.narrower(held, carried)) is not None]
        return found

    def _move(self, flow: Doc, terms: dict, category: str) -> Move:
        """`flow` (with its effective `terms`) taking `category` of the subject's data along."""
        return (flow, category, flow.get("scope") == "case", self._gate(flow, terms, category),
                self.tree.ancestors.get(category, (category,)))

    def _collected_later(self, record: Doc) -> bool:
        """Whether `record` was collected after the report's day: its data was not held then."""
        return bool(record.get("since")) and date.fromisoformat(record["since"]) > self.on

    def _gate(self, flow: Doc, terms: dict, category: str) -> Gate:
        """Whether `flow` lacks the subject's consent for `category` (`Gate`): it rests on a
        consent that does not stand on the day; it never carried the data where the consent was
        never given or stopped standing before the flow came into force."""
        if not self._rests_on_consent(terms, category):
            return None
        stands, expired, stopped = self._consented(flow["purpose"])
        if stands:
            return None
        return expired, stopped is None or (bool(flow.get("since"))
                                            and date.fromisoformat(flow["since"]) > stopped.date())

    def sources(self, records: list[Doc], filled: Iterable[str] = ()) -> dict[tuple[str, str], int]:
        """Which of `records` the data each (holder, category) holds came from, as a bit mask over
        their indexes (bit i: `records[i]`): for each record, what its data alone reaches as it
        did (flows of scope `case` only with a disclosure, no gap filled), the same as one `run`
        per record with `gaps` off, in one walk.

        Each record's data is pruned as in its own walk: it does not arrive where that same
        record's data already brought the category or a broader one by an earlier layer, and
        where the record is `restricted` only flows of scope `case` carry it on. A record
        collected after the day is no source. Where several records reach a place by the same
        flow they travel as one mask, so a subject with a few records costs about one walk.

        `filled`: the flows of recorded disclosures that carried data from no record (`Reach.filled`);
        what they carried is one more source, bit `len(records)`, walked as a record of its own
        from where they delivered it."""
        held: dict[tuple[str, str], int] = defaultdict(int)
        restricted = 0
        for index, record in enumerate(records):
            if self._collected_later(record):
                continue
            if self._restricted(record):
                restricted |= 1 << index
            for category in record["categories"]:
                held[(record["system"], category)] |= 1 << index
        for flow_id in filled:
            flow = self.entities[flow_id].doc
            for category in flow["categories"]:
                gate = self._gate(flow, self.terms_of(flow), category)
                if gate is None or not gate[1]:
                    held[(flow["to"], category)] |= 1 << len(records)
        frontier = dict(held)
        for _ in range(MAX_DEPTH):
            following: dict[tuple[str, str], int] = defaultdict(int)
            for (node, category_held), mask in frontier.items():
                for flow, category, case, gate, broader in self._moves(node, category_held):
                    if (case and flow["id"] not in self.disclosed) or (gate is not None and gate[1]):
                        continue
                    moving = mask if case else mask & ~restricted
                    target = flow["to"]
                    for covering in broader:
                        moving &= ~held.get((target, covering), 0)
                    if moving:
                        following[(target, category)] |= moving
            if not following:
                break
            for key, mask in following.items():
                held[key] |= mask
            frontier = following
        return held

    def _carry(self, reach: Reach, following: dict, move: Move, path: tuple[str, ...], record: Doc | None) -> None:
        """The move's flow carries its category of the subject's data, arrived by `path`, unless consent is
        missing. A flow that rests on a consent that no longer stands is suspended; what it
        carried while the consent stood (until the withdrawal or the expiry, the flow in force by
        then) is where it went until erased (Art. 17(1)(b)), so it is carried all the same."""
        flow, category, _, gate, broader = move
        if gate is not None:
            expired, withheld = gate
            reach.suspended[flow["id"]].add(category)
            if expired:
                reach.expired.add(flow["id"])
            if withheld:
                return
        target, chain = flow["to"], path + (flow["id"],)
        if self.entities[target].type == "party":
            reach.origins[(target, flow["id"])].add(self.for_whom(record, chain))
            earlier = reach.disclosed[(target, flow["id"])].get(category)
            reach.disclosed[(target, flow["id"])][category] = min(chain, earlier or chain)
        arrived = reach.arrived
        for covering in broader:
            if (target, covering) in arrived:
                return  # the target already holds this data, or broader data covering it
        key = (target, category)
        if key not in following or chain < following[key][0]:
            following[key] = (chain, flow, record)


def condition_for(condition: str | None, categories: Iterable[str], tree: CategoryTree) -> str | None:
    """`condition` where it governs data of `categories`: an Art. 9(2) condition special-category
    data (GDPR Art. 9(1)), the Art. 10 basis criminal-offence data, another condition either;
    None for data that is neither. A flow or an agreement names its condition for the special
    data it may carry: a report must not tell a person that their contact details were shared on
    explicit consent or as criminal-offence data."""
    if condition is None:
        return None
    flags = ("criminal",) if condition == "gdpr-10" else ("special",) if condition.startswith("gdpr-9-") \
        else ("special", "criminal")
    return condition if any(tree.is_(flag, c) for c in categories for flag in flags) else None
