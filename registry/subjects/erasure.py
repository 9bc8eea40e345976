"""Erasure plans (GDPR Art. 17 and 19), derived from a DSAR report: what to delete where, what
must be kept and why, until when, and whom to tell.

Data is kept (Art. 17(3)) where the holding's legal basis is a legal obligation or a public task
(Art. 17(3)(b)), or its condition the establishment, exercise or defence of legal claims
(Art. 17(3)(e)), for as long as its declared `retention` runs. Retention runs from the event its
declaration names (`retention_from`): the end of the relationship (`end`, the default: the
record's `until`, when the contract ended or the claim closed) or the collection of the data
(`collection`: the record's `since`). While that event has not happened or is not recorded, the
data is kept with no end date ("10 years after the contract ends"): data never becomes erasable
earlier than its retention allows.

>>> from datetime import date
>>> retention_end("P10Y", "end", collected=date(2012, 3, 1), ended=None)
>>> retention_end("P10Y", "end", collected=date(2012, 3, 1), ended=date(2024, 12, 31))
datetime.date(2034, 12, 31)
>>> retention_end("P6M", "collection", collected=date(2026, 1, 31), ended=None)
datetime.date(2026, 7, 31)
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

import isodate

from registry.subjects.dsar import DsarReport, Recipient
from registry.subjects.language import language
from registry.subjects.words import Words

KEEP_BASES = {"gdpr-6-1-c": "Art. 17(3)(b): legal obligation", "gdpr-6-1-e": "Art. 17(3)(b): public task"}
KEEP_CONDITIONS = {"gdpr-9-2-f": "Art. 17(3)(e): establishment, exercise or defence of legal claims"}
_WORDS = Words(language("en"))


@dataclass(frozen=True)
class Retained:
    system: str
    category: str
    reason: str
    """The Art. 17(3) ground, then how long (in the registry's terms)."""
    until: date | None
    """The last day the data must be kept; None while the event retention runs from is not recorded
    (or no retention is declared)."""
    retention: str | None = None
    """The declared ISO 8601 retention period."""
    retention_from: str = "end"
    starts: date | None = None
    """The day retention runs from (the record's `until` or `since`), when recorded."""
    on_behalf_of: str | None = None
    """The controller we hold it for as its processor: its to erase (Art. 28(3)(g)), no Art. 17(3) ground."""


@dataclass(frozen=True)
class ErasurePlan:
    report: DsarReport
    erase: list[tuple[str, tuple[str, ...]]]
    """(system, categories) to delete from."""
    keep: list[Retained]
    notify: list[Recipient]
    """Recipients to tell about the erasure (Art. 19)."""

    @property
    def kept_systems(self) -> list[str]:
        """The systems where some of the subject's data must stay (their records stay in the registry)."""
        return sorted({k.system for k in self.keep})

    @property
    def added_records(self) -> list[dict]:
        """The records the subject gets when the plan is carried out, one per system that must keep
        data which reached it by flows from records that go (claims history a reporting system
        keeps for ten years after the contract ends): the categories kept there, with the latest
        `since` and `until` of the records the data came from (left out where one of them has
        none). Without them, erasing those records would leave nothing in the registry that says
        the kept data is there, and a later access request (Art. 15) would not find it."""
        staying = set(self.kept_systems)
        moved: dict[str, list] = defaultdict(list)
        held = {(h.system, h.category): h for h in self.report.holdings}
        for kept in self.keep:
            holding = held.get((kept.system, kept.category))
            if holding is None or not holding.path:  # the subject's own record there: it stays
                continue
            origin = self.report.entities[holding.path[0]].doc["from"]
            if origin not in staying:
                moved[kept.system].append(holding)
        records = []
        for system, holdings in sorted(moved.items()):
            record = {"system": system, "categories": sorted({h.category for h in holdings})}
            for field, days in (("since", [h.collected for h in holdings]), ("until", [h.ended for h in holdings])):
                if None not in days:
                    record[field] = max(days).isoformat()
            records.append(record)
        return records


def retention_end(retention: str, starts_from: str, *, collected: date | None, ended: date | None) -> date | None:
    """The last day data with `retention` (ISO 8601) must be kept, running from the end of the
    relationship (`ended`) or the collection (`collected`); None when that day is not recorded."""
    start = ended if starts_from == "end" else collected
    return start + _duration(retention) if start else None


@functools.lru_cache(maxsize=1024)
def _duration(text: str) -> isodate.Duration | timedelta:
    """An ISO 8601 duration, parsed once: a registry declares a handful, which every report dates."""
    return isodate.parse_duration(text)


def _how_long(holding, start: date | None, until: date | None) -> str:
    """The retention in words: "until 10 years after the relationship ends (not ended yet)"."""
    duration = _WORDS.duration(holding.retention)
    if holding.retention_from == "end":
        if start is None:
            return f"until {duration} after the relationship ends (it has not ended yet: no date)"
        return f"until {duration} after the relationship ended on {start.isoformat()}: {until.isoformat()}"
    if start is None:
        return f"until {duration} after collection (the date of collection is not recorded: no date)"
    return f"until {duration} after collection on {start.isoformat()}: {until.isoformat()}"


def erasure_plan(report: DsarReport, today: date) -> ErasurePlan:
    """What to delete where, what to keep and why, and whom to tell, with retention as of `today`.
    Data we process on behalf of another controller is its to erase: kept here, and its recipients
    are not ours to notify (Art. 19 is the controller's duty)."""
    erase, keep = defaultdict(list), []
    for holding in report.holdings:
        if holding.on_behalf_of:
            keep.append(Retained(holding.system, holding.category, f"processed on behalf of {holding.on_behalf_of} "
                                 "as its processor: erased only on its instructions (Art. 28(3)(a), (g)); pass the "
                                 "request on to it (Art. 28(3)(e))", None, on_behalf_of=holding.on_behalf_of))
            continue
        reason = KEEP_BASES.get(holding.legal_basis or "") or KEEP_CONDITIONS.get(holding.condition or "")
        if not reason:
            erase[holding.system].append(holding.category)
            continue
        if not holding.retention:
            keep.append(Retained(holding.system, holding.category, reason + ", until the retention period (not "
                                 "recorded) has run", None))
            continue
        start = holding.ended if holding.retention_from == "end" else holding.collected
        until = retention_end(holding.retention, holding.retention_from, collected=holding.collected,
                              ended=holding.ended)
        if until is not None and until < today:
            erase[holding.system].append(holding.category)
            continue
        keep.append(Retained(holding.system, holding.category, f"{reason}, {_how_long(holding, start, until)}",
                             until, holding.retention, holding.retention_from, start))
    return ErasurePlan(report=report, erase=[(s, tuple(c)) for s, c in sorted(erase.items())], keep=keep,
                       notify=[r for r in report.recipients if not r.on_behalf_of])
