"""Progress for the benchmark: `registry.progress` with lines prefixed `bench:` (stderr, so the
Markdown table on stdout stays clean)."""

from __future__ import annotations

from registry.progress import Reporter as _Reporter


class Reporter(_Reporter):
    def __init__(self, quiet: bool = False, interval: float = 10.0, terminal: bool | None = None):
        super().__init__(quiet=quiet, interval=interval, terminal=terminal, prefix="bench")
