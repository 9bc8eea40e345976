"""Making the embedded store's next `Snapshot` from its entity rows, at the cost of what changed.

After a write of a few entities, the next read rebuilt the snapshot whole: at `large` (23,162
documents, 4 MB of JSON) it decoded every document again (0.12 s) and ran a full pass of the
cyclic garbage collector over the process (0.25–0.3 s, more as the heap grows), so every
question after a change paid about half a second. `Rebuild` decodes only the documents whose
text changed (`graph.decoded`), and keeps the snapshot out of the collector without a full
pass each time (`Rebuild._freeze`).
"""

from __future__ import annotations

import gc
from collections.abc import Sequence

from graph.decoded import Decoded
from graph.snapshot import Snapshot
from graph.store import Stored


FULL_EVERY = 32
"""A full collection of the process runs at one snapshot rebuild in this many (`Rebuild._freeze`)."""


class Rebuild:
    """The snapshots of one store, each made from the rows of one state of its `entity` table.

    Not thread-safe: the store calls it under its snapshot lock.
    """

    def __init__(self) -> None:
        self._decoded = Decoded()
        self._rebuilds = 0

    def snapshot(self, rows: Sequence[tuple[str, str]]) -> Snapshot:
        """The snapshot of `rows` (type, JSON text: the whole `entity` table). A document whose
        text is unchanged is the object the previous snapshot held (`Decoded`)."""
        # Decoding and indexing allocate a few hundred thousand containers, which would set off
        # full collections of everything not frozen: they are frozen right after instead.
        collecting = gc.isenabled()
        gc.disable()
        try:
            docs = self._decoded.docs(text for _, text in rows)
            made = Snapshot({doc["id"]: Stored(type_, doc) for (type_, _), doc in zip(rows, docs)})
            self._freeze()
        finally:
            if collecting:
                gc.enable()
        return made

    def _freeze(self) -> None:
        """Move what the process holds now, the new snapshot with it, out of the cyclic
        collector's scans (`gc.freeze`), which otherwise add tens of milliseconds to random
        requests over a large snapshot.

        The snapshot it replaces is freed when its last reader lets go of it: it holds no
        reference cycles, so counting references frees it, frozen or not. What does hold cycles
        and was still uncollected when frozen is kept until the next full collection, which
        runs at the first rebuild and then at every `FULL_EVERY`-th: most rebuilds skip the
        full pass (0.25–0.3 s at `large` with 1 M subjects), and what is kept is bounded.
        """
        if self._rebuilds % FULL_EVERY == 0:
            gc.unfreeze()
            gc.collect()
        gc.freeze()
        self._rebuilds += 1
