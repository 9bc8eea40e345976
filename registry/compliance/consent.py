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

import bisect
import hashlib
import weakref
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from typing import NamedTuple

import orjson

from graph.store import ENTITY_TYPES, Doc, StoreError
from graph.auditlog import AuditQuery
from graph.subjects import Concerned, ConsentGroup, loaded
from registry.compliance.concerned import upstream
from registry.compliance.facts import Facts
from registry.compliance.rules import GDPR, Hit, Rule
from registry.subjects.consent import Rules
from registry.subjects.dsar import declared

RULE_ID = "consent-withdrawn-data-still-flowing"


def consent_withdrawn_rule(store) -> Rule:
    """The rule, reading the subjects' consent histories from `store` (any backend's `consent_groups`)."""

    def check(facts: Facts) -> Iterator[Hit]:
        resting = resting_on_consent(facts)
        if not resting:
            return
        counts = _counts(store, facts, resting)
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


COUNTS = RULE_ID + ": counts"
"""`Facts.kept`'s: the counts `_counts` keeps (`Kept`)."""
RUN = 4096
"""Subjects per run that the kept counts read apart (`GraphStore.consent_runs`): a change of some
subjects' data reads their runs again, not every subject."""
SCAN = 1000
"""The most audit entries `_changed` reads to learn which subjects changed; beyond them, every run is read again."""
_LAST: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Per store, the counts it last kept (`Kept`): facts made after a change of the registry start from
them where their `Tally` has the same signature (the change left who counts where alone)."""
DERIVED = RULE_ID + ": counts"
"""The name the counts are kept under in the store (`GraphStore.keep_derived`), for other processes."""
FORMAT = 1
"""The kept counts' format and way of counting: counts kept under another are made again."""
_UNCHANGING = frozenset((*ENTITY_TYPES, "token"))
"""Audit entries about these change no subject's data (a delete forced past subject data leaves
that data as it was: `graph.changes`)."""


class Kept(NamedTuple):
    """The counts of `ended` on the facts' day as read at `mark` (`GraphStore.last_change`,
    `GraphStore.pending_loads`): the bounds of the runs of subjects (`GraphStore.consent_runs`)
    and each run's counts, per place of `resting_on_consent` (withdrawn, expired)."""

    mark: tuple
    tally: Tally
    bounds: list[str]
    runs: list[list[list[int]]]
    totals: list[tuple[int, int]]

    @classmethod
    def of(cls, mark: tuple, tally: Tally, bounds: list[str], runs: list[list[list[int]]]) -> Kept:
        return cls(mark, tally, bounds, runs, [tuple(map(sum, zip(*place))) for place in zip(*runs)])


def _counts(store, facts: Facts, resting: list[Resting]) -> list[tuple[int, int]]:
    """`ended` on the facts' day, kept with the facts until the subject data changes. Every change
    of it is audited and moves `GraphStore.last_change` (GDPR Art. 5(2)), except a load's batches
    between its first and last entry, which move its recorded progress (`GraphStore.pending_loads`):
    together they mark what was read. They are read before the subjects, so a change in between
    makes the next question read again. An audited read of subject data (a DSAR) moves neither,
    so a portal's DSARs between two questions leave the counts kept.

    The subjects are read in runs of `RUN` (by id). After a change that names its subjects in the
    audit log (a consent, a disclosure, an erasure: `_changed`), only their runs are read again
    (a run's bound that names a changed subject goes, and the runs either side are read as one:
    an erased subject's id is kept nowhere); after a load, the runs its range of ids overlaps (a
    file of new customers with new, higher ids: the last); after anything else, or more than
    `SCAN` changes of subject data (reads, tokens and the registry's documents do not count), all
    of them.

    New facts (after a change of the registry, or for another day) start from the counts the
    process last kept (`_LAST`) where their `Tally.signature` is the same: renaming a system, or
    adding a party or a flow that brings nothing to where data is held only on consent, leaves
    every subject's place, and the counts, alone. A new process starts from those another kept in
    the store (`_stored`; each process keeps its own there, `_keep`), so a command line's or a
    restarted server's first question reads only the runs changed since."""
    mark = (store.last_change(), store.pending_loads())
    kept: Kept | None = facts.kept.get(COUNTS)
    tally = stored = None
    if kept is None:
        tally = Tally(Rules(facts.purpose_tree, facts.purposes), resting, facts.as_of)
        last = _LAST.get(store)
        if last is not None and last.tally.signature == tally.signature:
            kept = last
        elif not mark[1]:
            kept = stored = _stored(store, tally)
    if kept is not None and kept.mark == mark:
        facts.kept[COUNTS] = _LAST[store] = kept
        return kept.totals
    changed = None
    if kept is not None and not kept.mark[1] and not mark[1]:
        changed = _changed(store, kept.mark[0], mark[0])
        if changed is not None and _loaded_runs(changed, kept.bounds) == set(range(len(kept.bounds) + 1)):
            changed = None  # loads over every run: read in one pass, cut into runs afresh
    if changed is None:
        tally = tally or Tally(Rules(facts.purpose_tree, facts.purposes), resting, facts.as_of)
        bounds, runs = store.consent_runs(tally.covering, every=tally.every, size=RUN)
        kept = Kept.of(mark, tally, bounds, [tally.count(groups) for groups in runs])
    else:
        bounds, runs = list(kept.bounds), list(kept.runs)
        for subject in changed.subjects.intersection(bounds):  # it may be erased: the runs either side become one
            at = bounds.index(subject)
            del bounds[at]
            runs[at:at + 2] = [None]
        spans = _runs(bounds)
        for number in sorted({bisect.bisect_left(bounds, subject) for subject in changed.subjects}
                             | _loaded_runs(changed, bounds)
                             | {number for number, run in enumerate(runs) if run is None}):
            groups = store.consent_groups(kept.tally.covering, every=kept.tally.every, run=spans[number])
            runs[number] = kept.tally.count((group, group.subjects) for group in groups)
        kept = Kept.of(mark, kept.tally, bounds, runs)
    facts.kept[COUNTS] = _LAST[store] = kept
    if not mark[1] and kept is not stored:
        _keep(store, kept)
    return kept.totals


def _loaded_runs(changed: Changed, bounds: list[str]) -> set[int]:
    """The numbers of the runs (cut by `bounds`) that the id ranges of `changed`'s loads overlap."""
    return {number for first, last in changed.ranges
            for number in range(bisect.bisect_left(bounds, first), bisect.bisect_left(bounds, last) + 1)}


def _keep(store, kept: Kept) -> None:
    """Keep `kept` in the store for other processes (`GraphStore.keep_derived`): the signature's
    digest, the mark, the runs' bounds and each run's counts where not zero, as JSON. The bounds
    are subject ids: the erasure of one drops what was kept. A store that cannot take it now
    (busy, read-only) keeps nothing: the next process counts again."""
    data = orjson.dumps({"format": FORMAT, "signature": kept.tally.digest, "mark": kept.mark[0],
                         "bounds": kept.bounds, "places": len(kept.tally.places),
                         "runs": [[[n, *found] for n, found in enumerate(run) if any(found)] for run in kept.runs]})
    try:
        store.keep_derived(DERIVED, data, subjects=kept.bounds)
    except StoreError:
        pass


def _stored(store, tally: Tally) -> Kept | None:
    """The counts another process kept in the store for a tally of the same signature (its
    `digest`), with their mark; None where there are none, or kept for another signature or format."""
    data = store.derived(DERIVED)
    if not data:
        return None
    try:
        found = orjson.loads(data)
        if (found["format"], found["signature"], found["places"]) != (FORMAT, tally.digest, len(tally.places)):
            return None
        runs = []
        for counted in found["runs"]:
            run = [[0, 0] for _ in tally.places]
            for number, withdrawn, expired in counted:
                run[number] = [withdrawn, expired]
            runs.append(run)
        return Kept.of((found["mark"], ()), tally, found["bounds"], runs)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
        return None  # not what `_keep` writes: counted again, and kept anew


def _runs(bounds: list[str]) -> list[tuple[str | None, str | None]]:
    """The runs (after, through) that `bounds` cut the subject ids into, the first and last open."""
    return list(zip([None, *bounds], [*bounds, None]))


class Changed(NamedTuple):
    """What changed in the subject data between two marks (`_changed`): the `subjects` a consent,
    a disclosure or an erasure names, and the id `ranges` (first, last: inclusive) of loads."""

    subjects: set[str]
    ranges: list[tuple[str, str]]


def _changed(store, since: int, until: int) -> Changed | None:
    """What the audit entries after `since` up to `until` changed: the subjects a consent, a
    disclosure or an erasure names, and the range of ids each load may have written (its
    `graph.subjects.LOADED` data, under the entry that it started as under the one that it
    ended: a load killed half-way has applied some of its range, and a load of the same file since
    has cleared its pending mark). Reads, tokens and the registry's documents change none (`_UNCHANGING`), so they are
    not read. None where a load's range is gone (an erasure of its first or last subject, or more
    than `LOADS_KEPT` loads since), another change comes among them, or there are more than
    `SCAN`: then all may have."""
    if until < since:
        return None
    entries = store.audit(AuditQuery(after=since, limit=SCAN, exclude_types=_UNCHANGING,
                                     exclude_actions=frozenset({"read"})))
    if len(entries) == SCAN and entries[-1].seq < until:
        return None
    if not entries and not store.audit(AuditQuery(after=since, limit=1)):
        return None  # the mark moved, yet the log has nothing after it: this log cannot tell
    changed = Changed(set(), [])
    for entry in entries:
        if entry.seq > until:
            continue
        if entry.type in ("consent", "disclosure") or (entry.type, entry.action) == ("subject", "erase"):
            changed.subjects.add(entry.id)
        elif (entry.type, entry.action) == ("subject-file", "load") and isinstance(entry.after, dict):
            if entry.after.get("subjects") == 0:
                continue
            span = store.derived(loaded(entry.seq))
            if span is None:
                return None
            span = orjson.loads(span)
            changed.ranges.append((span["first"], span["last"]))
        else:
            return None
    return changed


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


class Tally:
    """`ended`'s work for `places` on day `on`: reads the store's groups of alike subjects
    (`GraphStore.consent_groups`) and sends each group to the places its records and disclosures
    put it in; whether its consent to a purpose ended is worked out once per kind of group, and
    kept (`of`), so a run read again costs only its groups that changed. The work grows with the
    subjects whose consent could have ended, not with places × the subjects each holds."""

    def __init__(self, rules: Rules, places: list[Resting], on: date):
        self.rules, self.places, self.on = rules, places, on
        wanted = {purpose for place in places for needs in (place.needs, *place.by_kind.values())
                  for needed in needs.values() for purpose in needed}
        self.covering = sorted({p for purpose in wanted for p in rules.covering(purpose)})
        self.every = rules.timed(self.covering)
        self.by_system: dict[str, list[tuple[int, frozenset[str] | None]]] = defaultdict(list)
        self.by_flow: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
        for number, place in enumerate(places):
            for system, kinds in place.whose.systems.items():
                self.by_system[system].append((number, kinds))
            for flow in place.whose.disclosed:
                self.by_flow[flow].append((number, place.whose.until))
        self.needs = [(sorted(set(place.needs.values())),
                       {kind: sorted(set(found.values())) for kind, found in place.by_kind.items()})
                      for place in places]
        self.known: dict[tuple, tuple[tuple[int, int], ...]] = {}
        self.signature = (on, self.every, rules.signature(self.covering), tuple(
            (tuple(sorted((system, None if kinds is None else tuple(sorted(kinds)))
                          for system, kinds in place.whose.systems.items())),
             tuple(sorted(set(place.whose.disclosed))), place.whose.until, tuple(general),
             tuple((kind, tuple(found)) for kind, found in sorted(by_kind.items())))
            for place, (general, by_kind) in zip(places, self.needs)))
        """Hashable: everything that decides the counts of groups alike (`of`), the places' order
        included. Tallies with equal signatures count every group alike."""

    @property
    def digest(self) -> str:
        """`signature` as SHA-256 hex, the same in every process (its `repr` holds no sets)."""
        return hashlib.sha256(repr(self.signature).encode()).hexdigest()

    def count(self, groups: Iterable[tuple[ConsentGroup, int]]) -> list[list[int]]:
        """Per place, [withdrawn, expired] among the subjects of `groups`, (group, subjects) pairs
        read for `covering` and `every` (`GraphStore.consent_runs`, `consent_groups`)."""
        counts = [[0, 0] for _ in self.places]
        for group, subjects in groups:
            for number, which in self.of(group):
                counts[number][which] += subjects
        return counts

    def of(self, group: ConsentGroup) -> tuple[tuple[int, int], ...]:
        """The places where `group`'s subjects count, each with 0 (withdrawn) or 1 (expired);
        worked out once per kind of group (`ConsentGroup.alike`)."""
        found = self.known.get(group.alike)
        if found is None:
            found = self.known[group.alike] = self._work(group)
        return found

    def _work(self, group: ConsentGroup) -> tuple[tuple[int, int], ...]:
        places = {number for system in group.systems for number, kinds in self.by_system.get(system, ())
                  if kinds is None or group.kind in kinds}
        places.update(number for flow, at in group.disclosed for number, until in self.by_flow.get(flow, ())
                      if until is None or at <= until)
        status: dict[str, str | None] = {}
        lacking: dict[tuple[str, ...], str | None] = {}
        found = []
        for number in sorted(places):
            ended_by = set()
            general, by_kind = self.needs[number]
            for purposes in by_kind.get(group.kind, general):
                if purposes not in lacking:
                    for purpose in purposes:
                        if purpose not in status:
                            state = self.rules.state(purpose, group.events, self.on)
                            status[purpose] = state and state.status
                    states = {status[purpose] for purpose in purposes}
                    lacking[purposes] = None if "granted" in states else \
                        "withdrawn" if "withdrawn" in states else "expired" if "expired" in states else None
                ended_by.add(lacking[purposes])
            if "withdrawn" in ended_by:
                found.append((number, 0))
            elif "expired" in ended_by:
                found.append((number, 1))
        return tuple(found)


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
