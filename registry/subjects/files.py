"""Reading subject files: JSON Lines (one subject a line) or CSV (consecutive rows per subject,
one record and/or one consent event a row; see README), as a stream of (line number, raw subject)
in constant memory, for `model` to check. What cannot be read (text that is not UTF-8, a CSV row
the csv module refuses) comes as an exception in place of a subject, and reading stops there.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from registry.sources import BundleInvalid, decode


def read_subjects(path: Path, progress: Callable[[int, int], None] | None = None,
                  digest: FileDigest | None = None) -> Iterator[tuple[int, object]]:
    """(line number, raw subject) for every subject in a JSON Lines or CSV file, as a stream: a JSON
    line stays text (the model parses it), a CSV subject is a dict. A leading byte-order mark is
    skipped. What cannot be read (text that is not UTF-8, a CSV field over the csv module's limit
    of 128 KiB, a NUL) comes as (line number, exception), and reading stops there.

    `progress(bytes read, file size)` is called every `_EVERY` lines and at the end; `digest`
    hashes every byte read."""
    with path.open("rb") as file:
        lines = _decoded(file, str(path), progress, digest)
        if path.suffix.lower() == ".csv":
            yield from _csv_subjects(lines)
        else:
            yield from ((number, line) for number, line in lines if isinstance(line, BundleInvalid) or line.strip())


_EVERY = 10_000
_CHUNK = 1 << 20


class FileDigest:
    """The SHA-256 (hex) of the bytes a reader read (`read_subjects`), hashed a megabyte at a time
    in a thread of its own (hashing lets go of the GIL), so that it costs the reader next to
    nothing. It is of what was read, once: a pipe is read once, and a file rewritten meanwhile
    gets the digest of what was loaded. A context manager: its thread ends with the block."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._parts: list[bytes] = []
        self._size = 0
        self._hasher = ThreadPoolExecutor(1, thread_name_prefix="subject-file-digest")
        self._whole = False

    def add(self, raw: bytes) -> None:
        """Bytes the reader read next."""
        self._parts.append(raw)
        self._size += len(raw)
        if self._size >= _CHUNK:
            self._flush()

    def end(self) -> None:
        """The reader read the whole file."""
        self._flush()
        self._whole = True

    def hexdigest(self) -> str | None:
        """The digest (None unless the whole file was read); waits for the hashing to end."""
        if not self._whole:
            return None
        self._hasher.shutdown(wait=True)
        return self._sha.hexdigest()

    def _flush(self) -> None:
        if self._parts:
            self._hasher.submit(self._sha.update, b"".join(self._parts))
            self._parts, self._size = [], 0

    def __enter__(self) -> FileDigest:
        return self

    def __exit__(self, *_) -> None:
        self._hasher.shutdown(wait=False, cancel_futures=True)


def _decoded(file, source: str, progress: Callable[[int, int], None] | None = None,
             digest: FileDigest | None = None) -> Iterator[tuple[int, str | BundleInvalid]]:
    """(line number, text) for every line of a binary file; a line that is not UTF-8 ends the
    stream with the problem."""
    size = os.fstat(file.fileno()).st_size if progress else 0
    done = 0
    for number, raw in enumerate(file, 1):
        if digest:
            digest.add(raw)
        if progress:
            done += len(raw)
            if number % _EVERY == 0:
                progress(done, size)
        try:
            yield number, decode(raw, source, line=number)
        except BundleInvalid as error:
            yield number, error
            return
    if digest:
        digest.end()
    if progress:
        progress(size, size)


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
