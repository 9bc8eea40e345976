"""Data subjects: their records in systems, their consents and disclosures, and the check of each
raw subject against the registry.

A subject file (read by `files`) is checked as a stream: every line is validated (against the
registry's systems, parties, categories and purposes too) while valid subjects flow on to the
store, and if any line is invalid the store's transaction is rolled back, so a file applies whole
or not at all, in constant memory. A subject that comes again (later in the file or in a later
file) is updated: kind, records and keys are replaced, and its consent events and disclosures are
added to its history. Its lookup keys are stored only as keyed hashes (`keys`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from graph.subjects import SubjectRow
from registry.sources import BundleInvalid, Problem
from registry.suggest import hint, model_message
from registry.errors import InvalidArgument
from registry import bounds
from registry.model import Day, Id, LongText, Text
from registry.subjects.keys import KeyHasher, KeyMismatch

KeyName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
CLOCK_SKEW = timedelta(minutes=5)
"""How far past the clock an event may be dated (the sender's clock may run ahead of ours)."""


def _day_starts(value: object) -> object:
    """A date alone (`2025-05-01`, as the command line takes it) is its start in UTC."""
    if isinstance(value, str) and len(value) == 10:
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return value


def _happened(value: datetime) -> datetime:
    """`value` when it is not in the future: a consent event or a disclosure records what happened."""
    if value > datetime.now(timezone.utc) + CLOCK_SKEW:
        raise ValueError(f"{value.isoformat()} is in the future: record an event once it has happened")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_day_starts), AfterValidator(bounds.moment)]
"""A point in time with its UTC offset (`2025-05-01T09:00:00+02:00`, `…Z`), or a date, taken as its
start in UTC, as on the command line."""
Happened = Annotated[Moment, AfterValidator(_happened)]
"""A `Moment` not later than now (give or take `CLOCK_SKEW`)."""
MAX_REPORTED = 100
"""Problems reported for one file; the count of the rest is given."""


class SubjectRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system: Id
    categories: list[Id] | None = Field(default=None, description="Default: what the system declares.")
    since: Day | None = None
    """When the data was collected (where retention runs from `collection`)."""
    until: Day | None = None
    """When the relationship the record serves ended (contract ended, claim closed): where
    retention runs from `end`. None while it goes on."""
    source: Id | None = Field(default=None, description="The party that supplied the data, if not the subject.")
    restricted: Day | None = None
    """The day an erasure was carried out that kept this record because its data must be kept
    (GDPR Art. 17(3)): from then on it is kept for that ground only, and flows no longer carry it
    on, except a recorded disclosure on a case flow (`registry.subjects.spread`). Set by
    `SubjectService.erase`; a subject file carries it back as exported."""

    @model_validator(mode="after")
    def _ordered(self) -> SubjectRecord:
        if self.since and self.until and self.until < self.since:
            raise ValueError(f"until ({self.until}) is before since ({self.since})")
        return self


class ConsentEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    purpose: Id
    status: Literal["granted", "withdrawn"]
    at: Happened
    notice: LongText | None = None
    channel: Text | None = None
    expires: Moment | None = None
    """When a granted consent runs out (it no longer counts from that day on, UTC); see also the
    purpose's `consent_validity`."""

    @model_validator(mode="after")
    def _expires_later(self) -> ConsentEvent:
        if self.expires is not None and self.status != "granted":
            raise ValueError("expires applies to a granted consent only")
        if self.expires is not None and self.expires <= self.at:
            raise ValueError(f"expires ({self.expires.isoformat()}) is not after at ({self.at.isoformat()})")
        return self

    def to_doc(self) -> dict:
        """Stored with the times in UTC, so that events order by their text on every backend."""
        doc = {"purpose": self.purpose, "status": self.status, "at": _utc(self.at)}
        if self.notice is not None:
            doc["notice"] = self.notice
        if self.channel is not None:
            doc["channel"] = self.channel
        if self.expires is not None:
            doc["expires"] = _utc(self.expires)
        return doc


class Disclosure(BaseModel):
    """One disclosure of the subject's data on a flow of scope `case` (a fraud referral, a
    large-loss file): the accounting of disclosures a DSAR reports (GDPR Art. 15(1)(c))."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flow: Id
    at: Happened
    reference: Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True),
                         AfterValidator(bounds.printable)] | None = None
    """The case number or file reference, e.g. the police report's."""

    def to_doc(self) -> dict:
        doc = {"flow": self.flow, "at": _utc(self.at)}
        if self.reference is not None:
            doc["reference"] = self.reference
        return doc


def _utc(moment) -> str:
    return moment.astimezone(timezone.utc).isoformat()


LEGACY_KINDS = frozenset({"policyholder", "insured", "claimant", "beneficiary", "prospect", "third-party", "other"})
"""The kinds subjects had before subject categories were registry entities: a registry that
defines no subject category still accepts them."""


class Subject(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id
    kind: Id
    """A subject category of the registry (`subject_categories`), e.g. policyholder or claimant."""
    records: list[SubjectRecord] = Field(default_factory=list)
    consents: list[ConsentEvent] = Field(default_factory=list)
    disclosures: list[Disclosure] = Field(default_factory=list)
    keys: dict[KeyName, Annotated[str, StringConstraints(min_length=1, max_length=512)]] = Field(default_factory=dict)


class SubjectsInvalid(ValueError):
    """A subject file had invalid lines; nothing of it was applied."""

    def __init__(self, problems: list[Problem], more: int = 0):
        self.problems = problems
        self.more = more
        tail = [f"… and {more} more problem(s)"] if more else []
        super().__init__("\n".join([*map(str, problems), *tail]))


@dataclass(frozen=True)
class Checker:
    """Validates raw subjects against the registry: `known` maps registry ids to entity types.

    A subject's `kind` must name one of the registry's subject categories; a registry that
    defines none accepts the kinds of earlier versions (`LEGACY_KINDS`). A disclosure must name
    a flow of scope `case` (`case_flows`): a flow of scope `all` carries every subject's data."""

    source: str
    known: dict[str, str]
    hasher: KeyHasher
    case_flows: frozenset[str] = frozenset()

    @functools.cached_property
    def kinds(self) -> frozenset[str]:
        defined = frozenset(id_ for id_, type_ in self.known.items() if type_ == "subject-category")
        return defined or LEGACY_KINDS

    def check(self, number: int, raw: object, detailed: bool = True) -> tuple[SubjectRow | None, list[Problem]]:
        """The store row for one raw subject, or the problems with it (`detailed`: with a "did
        you mean" for near-miss ids, fields and values)."""
        if isinstance(raw, BundleInvalid):
            return None, raw.problems
        if isinstance(raw, Exception):
            return None, [self._problem(number, None, str(raw))]
        try:
            subject = Subject.model_validate_json(raw) if isinstance(raw, str) else Subject.model_validate(raw)
        except ValidationError as error:
            return None, [self._problem(number, "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                                        for p in d["loc"]).lstrip("."),
                                        model_message(Subject, d) if detailed else d["msg"])
                          for d in error.errors()]
        # The common case, every reference right, is checked first and fast; `_references`
        # says what is wrong only when something is.
        known = self.known
        records = []
        for record in subject.records:
            if known.get(record.system) != "system" or (record.source and known.get(record.source) != "party") or (
                    record.categories and any(known.get(c) != "category" for c in record.categories)):
                break
            doc = {"system": record.system}  # no categories: the system's (`SubjectService`)
            if record.categories is not None:
                doc["categories"] = record.categories
            if record.since:
                doc["since"] = record.since.isoformat()
            if record.until:
                doc["until"] = record.until.isoformat()
            if record.source:
                doc["source"] = record.source
            if record.restricted:
                doc["restricted"] = record.restricted.isoformat()
            records.append(doc)
        problems = []
        if len(records) < len(subject.records) or any(known.get(c.purpose) != "purpose" for c in subject.consents) \
                or any(d.flow not in self.case_flows for d in subject.disclosures):
            problems = [self._problem(number, where, f"unknown {' or '.join(allowed)} {target!r}"
                                      + (self._hint(target, allowed) if detailed else "")
                                      if known.get(target) is None
                                      else f"{target!r} is a {known[target]}, not a {' or '.join(allowed)}",
                                      subject.id)
                        for where, allowed, target in _references(subject) if known.get(target) not in allowed]
            problems += [self._problem(number, f"disclosures[{i}].flow", f"flow {d.flow!r} has scope all: it carries "
                                       "every subject's data; disclosures are recorded on flows of scope case",
                                       subject.id)
                         for i, d in enumerate(subject.disclosures) if known.get(d.flow) == "flow"
                         and d.flow not in self.case_flows]
        if subject.kind not in self.kinds:
            problems.insert(0, self._problem(number, "kind", f"unknown subject category {subject.kind!r}; expected one "
                                                             f"of {', '.join(sorted(self.kinds))}"
                                             + (hint(subject.kind, self.kinds) if detailed else ""), subject.id))
        try:
            hashes = [self.hasher.hash(name, value) for name, value in sorted(subject.keys.items())]
        except KeyMismatch:
            raise  # the whole file, not this line
        except InvalidArgument as error:
            problems.append(self._problem(number, "keys", str(error), subject.id))
        if problems:
            return None, problems
        return SubjectRow(id=subject.id, kind=subject.kind, records=records,
                          consents=[c.to_doc() for c in subject.consents], key_hashes=hashes,
                          disclosures=[d.to_doc() for d in subject.disclosures]), []

    def _problem(self, number: int, field: str | None, message: str, subject: str | None = None) -> Problem:
        return Problem(self.source, message, number, entity=f"subject {subject!r}" if subject else None,
                       field=field or None)

    def _hint(self, target: str, allowed: tuple[str, ...]) -> str:
        return hint(target, (id_ for id_, type_ in self.known.items() if type_ in allowed))


def subject_doc(row: SubjectRow) -> dict:
    """A stored subject as one line of a subject file (what `subjects export` writes): it loads
    back as it was, except its lookup keys, of which only hashes are stored."""
    doc: dict = {"id": row.id, "kind": row.kind, "records": row.records}
    if row.consents:
        doc["consents"] = row.consents
    if row.disclosures:
        doc["disclosures"] = row.disclosures
    return doc


class Reported:
    """The problems of a file as they are reported: the first `MAX_REPORTED` kept, the rest counted."""

    def __init__(self):
        self.problems: list[Problem] = []
        self.count = 0

    @property
    def detailed(self) -> bool:
        """Whether the next problems are still reported (so worth a "did you mean")."""
        return len(self.problems) < MAX_REPORTED

    @property
    def more(self) -> int:
        return self.count - len(self.problems)

    def add(self, found: list[Problem], more: int = 0) -> None:
        """Add problems in order, and `more` counted but not kept."""
        self.count += len(found) + more
        self.problems.extend(found[:max(0, MAX_REPORTED - len(self.problems))])

    def raise_any(self) -> None:
        """`SubjectsInvalid` when there was a problem."""
        if self.count:
            raise SubjectsInvalid(self.problems, self.more)


def rows(lines: Iterable[tuple[int, object]], checker: Checker) -> Iterator[SubjectRow]:
    """Validated store rows for raw subjects, in order; raises `SubjectsInvalid` at the end if any
    line was invalid (after the first problem no more rows come, but every line is still checked)."""
    reported = Reported()
    for number, raw in lines:
        row, found = checker.check(number, raw, detailed=reported.detailed)
        if found:
            reported.add(found)
        elif not reported.count:
            yield row
    reported.raise_any()


def _references(subject: Subject) -> Iterator[tuple[str, tuple[str, ...], str]]:
    for i, record in enumerate(subject.records):
        yield f"records[{i}].system", ("system",), record.system
        for j, category in enumerate(record.categories or ()):
            yield f"records[{i}].categories[{j}]", ("category",), category
        if record.source:
            yield f"records[{i}].source", ("party",), record.source
    for i, consent in enumerate(subject.consents):
        yield f"consents[{i}].purpose", ("purpose",), consent.purpose
    for i, disclosure in enumerate(subject.disclosures):
        yield f"disclosures[{i}].flow", ("flow",), disclosure.flow
