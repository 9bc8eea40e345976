"""JSON documents decoded once per text, for stores that read all of a kind of document again
after every write.

After a write of one entity, the embedded store's next snapshot and the Neo4j store's next
`list` of a type read every document again. At `large` (23,162 documents, 4 MB of JSON) decoding
them all took 0.12 s, which every question after a change paid. `Decoded` keeps, by text, the
documents decoded at the previous read, and decodes only the texts it has not seen there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from graph.store import Doc


class Decoded:
    """The documents of the last read, by their JSON text.

    A document whose text is unchanged is the very object the previous read returned, so the
    answers kept for two versions share it: callers never change documents (a store's documents
    never were theirs to change). Safe to call from several threads: each call builds its own
    map and swaps it in whole, so racing calls at worst decode a document twice.
    """

    def __init__(self) -> None:
        self._by_text: dict[str, Doc] = {}

    def docs(self, texts: Iterable[str]) -> list[Doc]:
        """The documents of `texts`, in their order; what was not in the previous call's is decoded."""
        before, now, found = self._by_text, {}, []
        for text in texts:
            doc = before.get(text)
            if doc is None:
                doc = json.loads(text)
            now[text] = doc
            found.append(doc)
        self._by_text = now
        return found
