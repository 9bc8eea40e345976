"""Whether a data subject's consent stands on a day: its history, its expiry, and the purpose hierarchy.

**Coverage runs downwards.** A consent to a purpose covers its narrower purposes: consent to
`marketing` covers `marketing.advertising`, never the other way round. Consent must be given
for specific purposes (GDPR Art. 4(11), 6(1)(a)); someone who agreed to marketing as a whole
agreed to each part of it, but agreeing to one part (newsletters) says nothing about the whole
or about its other parts (profiling). A withdrawal likewise covers the narrower purposes: withdrawing
`marketing` withdraws `marketing.advertising` too (Art. 7(3)), while withdrawing only
`marketing.advertising` leaves a consent to `marketing` standing for its other parts.

**Expiry.** A granted consent ends at its event's `expires`, or at `at` plus the purpose's
`consent_validity` (an ISO 8601 duration, inherited from the nearest broader purpose that sets
one), whichever comes first. An expired consent counts as not given. Evaluated on a day (UTC),
a consent counts up to the day before the day it expires: data must not flow on a consent that
runs out that day.

**On a day `on`**, only events at or before the end of `on` (UTC) count. Consent to purpose P
stands when some grant covering P (to P or a broader purpose) is later than every withdrawal
covering P and has not expired; on equal times a withdrawal wins.

>>> from registry.categories import Tree
>>> purposes = Tree([{"id": "marketing", "consent_validity": "P24M"}, {"id": "marketing.ads", "parent": "marketing"}], [])
>>> rules = Rules(purposes, {"marketing": {"id": "marketing", "consent_validity": "P24M"}})
>>> events = [{"purpose": "marketing", "status": "granted", "at": "2024-01-10T09:00:00+00:00"}]
>>> rules.stands("marketing.ads", events, date(2025, 6, 1)), rules.stands("marketing.ads", events, date(2026, 1, 10))
(True, False)
>>> rules.state("marketing", events, date(2026, 1, 10)).status
'expired'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Literal

import isodate

from graph.store import Doc
from registry.categories import Tree

Status = Literal["granted", "withdrawn", "expired"]


@dataclass(frozen=True)
class ConsentState:
    """Where a subject's consent to `purpose` stands on a day.

    `status` is `granted` (it stands), `withdrawn` (the latest covering event is a withdrawal) or
    `expired` (the latest grant ran out); `event` is the event that decides it (for `granted`
    and `expired`, the grant; it may be for a broader purpose); `expires` when the grant runs out
    (None: no end)."""

    purpose: str
    status: Status
    event: Doc
    expires: datetime | None = None


class Rules:
    """The consent rules over one registry's purposes: `tree` their hierarchy, `purposes` their
    documents by id (for `consent_validity`)."""

    def __init__(self, tree: Tree, purposes: dict[str, Doc]):
        self.tree = tree
        self._validity: dict[str, isodate.Duration | None] = {}
        for id_, chain in tree.ancestors.items():
            found = next((purposes[p]["consent_validity"] for p in chain
                          if purposes.get(p, {}).get("consent_validity")), None)
            self._validity[id_] = isodate.parse_duration(found) if found else None

    def covering(self, purpose: str) -> tuple[str, ...]:
        """The purposes whose events decide consent to `purpose`: it and its broader purposes."""
        return self.tree.ancestors.get(purpose, (purpose,))

    def signature(self, purposes: Iterable[str]) -> tuple:
        """What decides consent to `purposes` under these rules, hashable: each purpose with the
        purposes whose events cover it and its `consent_validity`. Rules with equal signatures
        decide alike on the same events (`registry.compliance.tally` keeps counts by it)."""
        return tuple((p, self.covering(p), str(self._validity.get(p))) for p in sorted(set(purposes)))

    def timed(self, purposes: Iterable[str]) -> bool:
        """Whether a grant for one of `purposes` runs out by a `consent_validity` (its own or inherited)."""
        return any(self._validity.get(p) is not None for p in purposes)

    def expires(self, event: Doc) -> datetime | None:
        """When a granted event runs out: its own `expires` or `at` + the purpose's validity, the earlier."""
        return self._ends(event, _utc(event["at"]))

    def _ends(self, event: Doc, at: datetime) -> datetime | None:
        ends = [_utc(event["expires"])] if event.get("expires") else []
        validity = self._validity.get(event["purpose"])
        if validity is not None:
            ends.append(at + validity)
        return min(ends) if ends else None

    def state(self, purpose: str, events: Iterable[Doc], on: date) -> ConsentState | None:
        """Where consent to `purpose` stands on day `on`, from the events covering it; None without any."""
        covering = self.covering(purpose)
        relevant = []  # (when, is a withdrawal, event), each time parsed once
        for event in events:
            if event["purpose"] in covering:
                at = _utc(event["at"])
                if at.astimezone(timezone.utc).date() <= on:
                    relevant.append((at, event["status"] == "withdrawn", event))
        if not relevant:
            return None
        relevant.sort(key=lambda found: found[:2])  # on equal times a withdrawal comes later: it wins
        withdrawn = [(at, event) for at, withdrawal, event in relevant if withdrawal]
        after = withdrawn[-1][0] if withdrawn else None
        standing = [(event, self._ends(event, at)) for at, _, event in relevant
                    if event["status"] == "granted" and (after is None or at > after)]
        valid = [(e, end) for e, end in standing if end is None or end.astimezone(timezone.utc).date() > on]
        if valid:
            event, end = valid[-1]
            return ConsentState(purpose, "granted", event, end)
        if standing:
            event, end = standing[-1]
            return ConsentState(purpose, "expired", event, end)
        return ConsentState(purpose, "withdrawn", withdrawn[-1][1])

    def stands(self, purpose: str, events: Iterable[Doc], on: date) -> bool:
        found = self.state(purpose, events, on)
        return found is not None and found.status == "granted"

    def states(self, events: list[Doc], on: date) -> dict[str, ConsentState]:
        """Per purpose the subject gave or withdrew consent for (up to day `on`), where it stands."""
        purposes = sorted({e["purpose"] for e in events if _day(e["at"]) <= on})
        return {p: state for p in purposes if (state := self.state(p, events, on)) is not None}


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _day(text: str) -> date:
    return _utc(text).astimezone(timezone.utc).date()
