"""The audit log's hash chain: one definition of how entries are numbered, hashed and checked,
applied by both backends, so that `audit verify` means the same on each.

Entries are numbered 1, 2, 3 … without gaps. Each carries `prev`, the hash of the entry before
it (`GENESIS` for the first), and `hash`, the SHA-256 of its canonical encoding: a JSON array
of its sequence number, time, actor, action, entity type, entity id, the documents before and
after (each as canonical JSON text, `graph.changes.encode`, or null) and `prev`, without white
space, keys sorted, UTF-8. Editing any field of an entry changes its hash; deleting an entry or
moving one breaks the numbering or the link of the entry after it. The store also records the
head (the last entry's number and hash) apart from the entries, so that deleting entries at
the end is noticed too.

What this proves: the log is as it was written, unless someone rewrote every entry after the
one they changed and the head as well. Recording the head elsewhere from time to time (it is
printed by `dsa-registry audit verify`) and checking it later (`--anchor SEQ:HASH`) closes that
gap for everything up to the recorded entry.

Entries about one data subject (`sealed`: a read of their data, a consent, a disclosure) hold
personal data that must go when the subject is erased (GDPR Art. 17(1)), and the chain must still
verify afterwards. Their document therefore stands in the chain as a seal,
`{"sealed": SHA-256 of the JSON array [salt, document]}` with a random 128-bit salt, while the
document and the salt are stored beside the entry; `verify` checks the document against the seal
while it is there. Erasing the subject removes the document and the salt (`AuditEntry.erased`):
the seal left behind proves an entry was there, and with the salt gone it cannot be matched
against guesses of what it held.

>>> first, head = link(AuditHead(0, GENESIS), [NewAuditEntry("2026-01-01T00:00:00.000000+00:00",
...                     "os:alice", "create", "purpose", "p", None, '{"id":"p","name":"P"}')])
>>> [e["seq"] for e in first], first[0]["prev"] == GENESIS, head.seq
([1], True, 1)
>>> entry = AuditEntry(1, first[0]["at"], "os:alice", "create", "purpose", "p", None, {"id": "p", "name": "P"},
...                    prev=GENESIS, hash=first[0]["hash"])
>>> verify([entry], head) is None
True
>>> import dataclasses
>>> verify([dataclasses.replace(entry, actor="os:mallory")], head).reason
'its contents no longer match its hash: the entry was edited'
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from graph.auditlog import AuditEntry, AuditHead, NewAuditEntry
from graph.changes import encode

GENESIS = "0" * 64
"""The `prev` of the first entry."""


def entry_hash(seq: int, at: str, actor: str, action: str, type_: str, entity: str, before: str | None,
               after: str | None, prev: str) -> str:
    """The hash of one entry: SHA-256 (hex) of its canonical encoding (see the module docstring)."""
    text = json.dumps([seq, at, actor, action, type_, entity, before, after, prev], ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


SEALED_TYPES = ("subject", "consent", "disclosure")
"""Entity types of the entries whose documents are sealed (`sealed`)."""


def sealed(type_: str, action: str, entity: str) -> bool:
    """Whether an entry's document is sealed (module docstring): one about a single data subject
    (a read of their data, a consent, a disclosure), not an erasure's proof, a subject file's load
    or a read of many subjects (`*`)."""
    return type_ in SEALED_TYPES and action != "erase" and entity != "*"


def seal(salt: str, document: str) -> str:
    """The seal of a document (canonical JSON text) with its salt (hex): SHA-256, hex, of the JSON
    array `[salt, document]` without white space."""
    return hashlib.sha256(json.dumps([salt, document], ensure_ascii=False, separators=(",", ":"))
                          .encode("utf-8")).hexdigest()


def sealed_document(digest: str) -> str:
    """What stands in the chain for a sealed document: `{"sealed": digest}` as canonical JSON."""
    return encode({"sealed": digest})


def link(head: AuditHead, entries: Iterable[NewAuditEntry]) -> tuple[list[dict], AuditHead]:
    """Number and chain `entries` after `head`: the rows to store (`seq`, `at`, `actor`, `action`,
    `type`, `entity`, `before`, `after`, `prev`, `hash`, and for a sealed entry `salt` and `private`,
    the document kept beside the chain, else None) and the new head."""
    rows, seq, prev = [], head.seq, head.hash
    for e in entries:
        seq += 1
        after, salt, private = e.after, None, None
        if e.after is not None and sealed(e.type, e.action, e.entity):
            if e.before is not None:
                raise ValueError(f"audit entry about {e.entity!r}: a sealed entry has no document before")
            salt, private = secrets.token_hex(16), e.after
            after = sealed_document(seal(salt, private))
        digest = entry_hash(seq, e.at, e.actor, e.action, e.type, e.entity, e.before, after, prev)
        rows.append({"seq": seq, "at": e.at, "actor": e.actor, "action": e.action, "type": e.type,
                     "entity": e.entity, "before": e.before, "after": after, "prev": prev, "hash": digest,
                     "salt": salt, "private": private})
        prev = digest
    return rows, AuditHead(seq, prev)


def stored(seq: int, at: str, actor: str, action: str, type_: str, entity: str, before: str | None,
           after: str | None, prev: str | None, hash: str | None, salt: str | None = None,
           private: str | None = None) -> AuditEntry:
    """The `AuditEntry` of a stored row (documents as JSON text): a sealed entry's `after` is its
    document kept beside the chain (`private`, None once erased) and its `seal` the digest the chain holds."""
    digest = None
    if after is not None and sealed(type_, action, entity):
        found = json.loads(after)
        if isinstance(found, dict) and set(found) == {"sealed"}:  # else written before seals existed
            digest, after = found["sealed"], private
    return AuditEntry(seq, at, actor, action, type_, entity, json.loads(before) if before else None,
                      _document(after), prev or "", hash or "", seal=digest, salt=salt if digest is not None else None)


def _document(text: str | None):
    """A document stored as JSON text; None for none, and for text that is not JSON (a document
    someone emptied or mangled, which `verify` then reports)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def last_change(rows: list[dict]) -> int | None:
    """The `seq` of the last of `link`'s `rows` that records a change rather than an audited read
    (`GraphStore.last_change`); None when they are all reads."""
    return next((row["seq"] for row in reversed(rows) if row["action"] != "read"), None)


@dataclass(frozen=True)
class Break:
    """The first entry where the chain is broken, and how."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit entry {self.seq}: {self.reason}"


def verify(entries: Iterable[AuditEntry], head: AuditHead | None, *,
           anchor: AuditHead | None = None) -> Break | None:
    """The first break in `entries` (the whole log, oldest first), or None when it is intact.

    `head` is the store's record of the last entry; `anchor` an entry recorded earlier, which
    must still be in the log with the same hash.
    """
    seq, prev = 0, GENESIS
    unproven: dict[str, int] = {}  # subject -> the first entry whose document is gone, until an erasure proves why
    for e in entries:
        if e.erased:
            unproven.setdefault(e.id, e.seq)
        elif e.action == "erase" and e.type == "subject" and not (e.after or {}).get("kept"):
            unproven.pop(e.id, None)
        if e.seq != seq + 1:
            missing = f"entry {seq + 1} is missing" if e.seq > seq + 1 else f"entry {e.seq} comes again"
            return Break(e.seq, f"{missing} before it: entries were deleted or reordered")
        before = encode(e.before) if e.before is not None else None
        document = encode(e.after) if e.after is not None else None
        after = sealed_document(e.seal) if e.seal is not None else document
        if e.prev != prev:
            return Break(e.seq, "it does not link to the entry before it: an entry was deleted, "
                                "inserted or moved")
        if entry_hash(e.seq, e.at, e.actor, e.action, e.type, e.id, before, after, e.prev) != e.hash:
            return Break(e.seq, "its contents no longer match its hash: the entry was edited")
        if e.seal is not None and e.salt is not None:
            if document is None:
                return Break(e.seq, "its document is gone but its salt is still there: the document was deleted")
            if seal(e.salt, document) != e.seal:
                return Break(e.seq, "its document no longer matches its seal: the document was edited")
        elif e.seal is not None and document is not None:
            return Break(e.seq, "its salt is gone but its document is still there: the salt was deleted")
        if anchor is not None and e.seq == anchor.seq and e.hash != anchor.hash:
            return Break(e.seq, f"its hash is not the anchor's {anchor.hash}: the log was rewritten")
        seq, prev = e.seq, e.hash
    if unproven:
        first = min(unproven.values())
        return Break(first, "its document is gone, but no later entry records that its subject was erased: "
                            "the document was deleted")
    if anchor is not None and anchor.seq > seq:
        return Break(anchor.seq, f"the anchored entry is gone: the log ends at entry {seq}")
    recorded = head or AuditHead(0, GENESIS)
    if (recorded.seq, recorded.hash) != (seq, prev):
        if recorded.seq > seq:
            return Break(seq + 1, f"the log ends at entry {seq}, but the store records entry {recorded.seq} as "
                                  "the last: entries at the end were deleted")
        return Break(seq, f"the store records entry {recorded.seq} ({recorded.hash[:12]}…) as the last: the "
                          "log or its head was changed")
    return None


__all__ = ["GENESIS", "SEALED_TYPES", "Break", "entry_hash", "link", "seal", "sealed", "sealed_document", "stored",
           "verify"]
