"""Data subjects: their records in systems, their consents, and the keyed hashes that find them.

A subject file is JSON Lines (one subject a line) or CSV (consecutive rows per subject, one
record and/or one consent event a row; see README). Files are read as a stream: every line is
validated (against the registry's systems, parties, categories and purposes too) while valid
subjects flow on to the store, and if any line is invalid the store's transaction is rolled
back, so a file applies whole or not at all, in constant memory. A subject that comes again
(later in the file or in a later file) is updated: kind, records and keys are replaced, and its
consent events and disclosures are added to its history.

Lookup keys (e-mail, national id …) are never stored: only HMAC-SHA256 of the normalised value
under a key from configuration (the settings `DSA_REGISTRY_HMAC_KEY`, or a file named by
`DSA_REGISTRY_HMAC_KEY_FILE`). Whoever holds the database cannot reverse them without the key;
the registry can still find a person by e-mail.
"""

from __future__ import annotations

import csv
import functools
import hmac
import os
from dataclasses import dataclass
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from graph.store import SubjectRow
from registry.sources import BundleInvalid, Problem, decode
from registry.suggest import hint, model_message
from registry.errors import InvalidArgument
from registry import bounds
from registry.model import Day, Id, LongText, Text

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


class KeyHasher:
    """HMAC-SHA256 of normalised lookup keys, under the configured secret.

    `secret` may be a function that returns it: it is then called once, the first time the
    secret is needed, so that commands which hash nothing never read a key file.
    """

    def __init__(self, secret: bytes | None | Callable[[], bytes | None]):
        self._secret = secret
        self._keyed = None  # HMAC-SHA256 keyed with the secret, copied for each hash (half the cost of keying anew)

    def _key(self) -> bytes | None:
        if callable(self._secret):
            self._secret = self._secret()
        return self._secret

    def load(self) -> KeyHasher:
        """Read the secret now (a function's errors are raised here, not at the first lookup)."""
        self._key()
        return self

    def __reduce__(self):
        """Pickled (for a worker process) with its secret, read now."""
        return KeyHasher, (self._key(),)

    def hash(self, name: str, value: str) -> str:
        keyed = self._keyed
        if keyed is None:
            secret = self._key()
            if not secret:
                raise InvalidArgument("lookup keys need a secret: set DSA_REGISTRY_HMAC_KEY or DSA_REGISTRY_HMAC_KEY_FILE")
            keyed = self._keyed = hmac.new(secret, digestmod="sha256")
        digest = keyed.copy()
        digest.update(f"{name}:{normalise(name, value)}".encode())
        return digest.hexdigest()

    @property
    def fingerprint(self) -> str | None:
        """Names the secret without revealing it: HMAC-SHA256 of a fixed label under it (None without one).
        The store records the fingerprint of the secret its keys were hashed with."""
        secret = self._key()
        return hmac.digest(secret, FINGERPRINT_LABEL, "sha256").hex() if secret else None


FINGERPRINT_LABEL = b"dsa-registry lookup-key fingerprint"


class KeyMismatch(InvalidArgument):
    """The configured lookup-key secret is not the one the store's keys were hashed with."""

    def __init__(self, recorded: str, configured: str):
        super().__init__(f"the lookup-key secret is not the one this store's keys were hashed with (fingerprint "
                         f"{configured[:12]}, the store's {recorded[:12]}): configure that secret in "
                         "DSA_REGISTRY_HMAC_KEY or DSA_REGISTRY_HMAC_KEY_FILE")


def normalise(name: str, value: str) -> str:
    """E-mail addresses are trimmed and lower-cased; other keys lose all white space and are upper-cased."""
    return value.strip().lower() if name == "email" else "".join(value.split()).upper()


def read_subjects(path: Path, progress: Callable[[int, int], None] | None = None) -> Iterator[tuple[int, object]]:
    """(line number, raw subject) for every subject in a JSON Lines or CSV file, as a stream: a JSON
    line stays text (the model parses it), a CSV subject is a dict. A leading byte-order mark is
    skipped. What cannot be read (text that is not UTF-8, a CSV field over the csv module's limit
    of 128 KiB, a NUL) comes as (line number, exception), and reading stops there.

    `progress(bytes read, file size)` is called every `_EVERY` lines and at the end."""
    with path.open("rb") as file:
        lines = _decoded(file, str(path), progress)
        if path.suffix.lower() == ".csv":
            yield from _csv_subjects(lines)
        else:
            yield from ((number, line) for number, line in lines if isinstance(line, BundleInvalid) or line.strip())


_EVERY = 10_000


def _decoded(file, source: str, progress: Callable[[int, int], None] | None = None
             ) -> Iterator[tuple[int, str | BundleInvalid]]:
    """(line number, text) for every line of a binary file; a line that is not UTF-8 ends the
    stream with the problem."""
    size = os.fstat(file.fileno()).st_size if progress else 0
    done = 0
    for number, raw in enumerate(file, 1):
        if progress:
            done += len(raw)
            if number % _EVERY == 0:
                progress(done, size)
        try:
            yield number, decode(raw, source, line=number)
        except BundleInvalid as error:
            yield number, error
            return
    if progress:
        progress(size, size)


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


_CSV_RECORD = ("system", "categories", "since", "until", "source")
_CSV_CONSENT = {"consent_purpose": "purpose", "consent_status": "status", "consent_at": "at",
                "consent_notice": "notice", "consent_channel": "channel", "consent_expires": "expires"}
_CSV_DISCLOSURE = {"disclosure_flow": "flow", "disclosure_at": "at", "disclosure_reference": "reference"}


def _csv_subjects(lines: Iterator[tuple[int, str | BundleInvalid]]) -> Iterator[tuple[int, object]]:
    """Group consecutive CSV rows of one subject into one raw subject (see README for the columns)."""
    failed: list[tuple[int, BundleInvalid]] = []
    last = [1]

    def text() -> Iterator[str]:
        for number, line in lines:
            if isinstance(line, BundleInvalid):
                failed.append((number, line))
                return
            last[0] = number
            yield line

    reader = csv.DictReader(text())
    try:
        yield from _csv_rows(reader)
    except csv.Error as error:
        yield last[0], ValueError(f"unreadable CSV: {error}")
    yield from failed


def _csv_rows(reader: csv.DictReader) -> Iterator[tuple[int, object]]:
    unknown = [c for c in reader.fieldnames or () if c not in ("id", "kind", *_CSV_RECORD, *_CSV_CONSENT,
                                                               *_CSV_DISCLOSURE) and not c.startswith("key:")]
    if unknown or "id" not in (reader.fieldnames or ()):
        if reader.fieldnames is not None:
            yield 1, ValueError(f"CSV header needs an `id` column; unknown columns: {', '.join(unknown) or 'none'}")
        return
    current: dict | None = None
    first = 0
    for row in reader:
        number = reader.line_num
        values = {k: v.strip() for k, v in row.items() if k is not None and v is not None and v.strip()}
        if current is None or values.get("id") != current["id"]:
            if current is not None:
                yield first, current
            current, first = {"id": values.get("id"), "records": [], "consents": [], "disclosures": [],
                              "keys": {}}, number
        if "kind" in values:
            current["kind"] = values["kind"]
        if "system" in values:
            record = {k: values[k] for k in _CSV_RECORD if k in values}
            if "categories" in record:
                record["categories"] = [c.strip() for c in record["categories"].split(";") if c.strip()]
            current["records"].append(record)
        if any(k in values for k in _CSV_CONSENT):
            current["consents"].append({field: values[k] for k, field in _CSV_CONSENT.items() if k in values})
        if any(k in values for k in _CSV_DISCLOSURE):
            current["disclosures"].append({field: values[k] for k, field in _CSV_DISCLOSURE.items() if k in values})
        current["keys"].update({k.removeprefix("key:"): v for k, v in values.items() if k.startswith("key:")})
    if current is not None:
        yield first, current
