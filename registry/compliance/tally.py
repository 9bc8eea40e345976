"""Counting the subjects whose consent ended, per place where data rests on consent, and
keeping the counts between questions: with the facts, per store in the process, and in the
store for other processes, brought up to date from the audit log (`kept_counts`).

The consent rule (`registry.compliance.consent`) decides which places rest on consent and what
they need; here the store's groups of alike subjects (`GraphStore.consent_groups`,
`consent_runs`) are counted (`Tally`), and the counts are read again only where the subject
data changed.
"""

from __future__ import annotations

import bisect
import hashlib
import weakref
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, NamedTuple

import orjson

from graph.auditlog import AuditQuery
from graph.store import ENTITY_TYPES, StoreError
from graph.subjects import ConsentGroup, loaded
from registry.compliance.facts import Facts
from registry.subjects.consent import Rules

if TYPE_CHECKING:
    from registry.compliance.consent import Resting

RUN = 4096
"""Subjects per run that the kept counts read apart (`GraphStore.consent_runs`): a change of some
subjects' data reads their runs again, not every subject."""
SCAN = 1000
"""The most audit entries `_changed` reads to learn which subjects changed; beyond them, every run is read again."""
_LAST: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Per store, the counts it last kept (`Kept`): facts made after a change of the registry start from
them where their `Tally` has the same signature (the change left who counts where alone)."""
FORMAT = 1
"""The kept counts' format and way of counting: counts kept under another are made again."""
_UNCHANGING = frozenset((*ENTITY_TYPES, "token"))
"""Audit entries about these change no subject's data (a delete forced past subject data leaves
that data as it was: `graph.changes`)."""


class Kept(NamedTuple):
    """The counts of `registry.compliance.consent.ended` on the facts' day as read at `mark`
    (`GraphStore.last_change`, `GraphStore.pending_loads`): the bounds of the runs of subjects
    (`GraphStore.consent_runs`) and each run's counts, per place (withdrawn, expired)."""

    mark: tuple
    tally: Tally
    bounds: list[str]
    runs: list[list[list[int]]]
    totals: list[tuple[int, int]]

    @classmethod
    def of(cls, mark: tuple, tally: Tally, bounds: list[str], runs: list[list[list[int]]]) -> Kept:
        return cls(mark, tally, bounds, runs, [tuple(map(sum, zip(*place))) for place in zip(*runs)])


def kept_counts(store, facts: Facts, resting: list[Resting], *, name: str) -> list[tuple[int, int]]:
    """`registry.compliance.consent.ended` on the facts' day, kept under `name` with the facts
    (`Facts.kept`) and in the store (`GraphStore.keep_derived`) until the subject data changes. Every change
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
    kept: Kept | None = facts.kept.get(name)
    tally = stored = None
    if kept is None:
        tally = Tally(Rules(facts.purpose_tree, facts.purposes), resting, facts.as_of)
        last = _LAST.get(store)
        if last is not None and last.tally.signature == tally.signature:
            kept = last
        elif not mark[1]:
            kept = stored = _stored(store, tally, name)
    if kept is not None and kept.mark == mark:
        facts.kept[name] = _LAST[store] = kept
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
    facts.kept[name] = _LAST[store] = kept
    if not mark[1] and kept is not stored:
        _keep(store, kept, name)
    return kept.totals


def _loaded_runs(changed: Changed, bounds: list[str]) -> set[int]:
    """The numbers of the runs (cut by `bounds`) that the id ranges of `changed`'s loads overlap."""
    return {number for first, last in changed.ranges
            for number in range(bisect.bisect_left(bounds, first), bisect.bisect_left(bounds, last) + 1)}


def _keep(store, kept: Kept, name: str) -> None:
    """Keep `kept` in the store for other processes (`GraphStore.keep_derived`): the signature's
    digest, the mark, the runs' bounds and each run's counts where not zero, as JSON. The bounds
    are subject ids: the erasure of one drops what was kept. A store that cannot take it now
    (busy, read-only) keeps nothing: the next process counts again."""
    data = orjson.dumps({"format": FORMAT, "signature": kept.tally.digest, "mark": kept.mark[0],
                         "bounds": kept.bounds, "places": len(kept.tally.places),
                         "runs": [[[n, *found] for n, found in enumerate(run) if any(found)] for run in kept.runs]})
    try:
        store.keep_derived(name, data, subjects=kept.bounds)
    except StoreError:
        pass


def _stored(store, tally: Tally, name: str) -> Kept | None:
    """The counts another process kept in the store for a tally of the same signature (its
    `digest`), with their mark; None where there are none, or kept for another signature or format."""
    data = store.derived(name)
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


class Tally:
    """`registry.compliance.consent.ended`'s work for `places` on day `on`: reads the store's
    groups of alike subjects (`GraphStore.consent_groups`) and sends each group to the places its records and disclosures
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
