"""Progress on long work: a rich progress bar (rate and time left) on a terminal, a one-line
message every `interval` seconds otherwise, nothing with `quiet`. Messages go to stderr, so
the Markdown table on stdout stays clean."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator, Callable

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Steps per second, once there is a rate."""

    def render(self, task) -> Text:
        return Text(f"{task.speed:,.1f}/s" if task.speed else "", style="progress.data.speed")


class Reporter:
    def __init__(self, quiet: bool = False, interval: float = 10.0, terminal: bool | None = None):
        self.quiet = quiet
        self.interval = interval
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.console = Console(stderr=True)

    def say(self, message: str) -> None:
        """A line about what happens next (kept above a progress bar on a terminal)."""
        if not self.quiet:
            if self.terminal:
                self.console.print(message, highlight=False, markup=False)
            else:
                print(f"bench: {message}", file=sys.stderr, flush=True)

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """A unit of work of `total` steps; yields `advance(steps)`."""
        if self.quiet:
            yield lambda steps=1: None
        elif self.terminal:
            columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       RateColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
            with Progress(*columns, console=self.console, transient=True) as progress:
                task = progress.add_task(description, total=total)
                yield lambda steps=1: progress.advance(task, steps)
        else:
            state = {"done": 0, "last": time.monotonic(), "start": time.monotonic()}

            def advance(steps: int = 1) -> None:
                state["done"] += steps
                now = time.monotonic()
                if now - state["last"] >= self.interval:
                    state["last"] = now
                    rate = state["done"] / max(now - state["start"], 1e-9)
                    of = f"/{total}" if total else ""
                    left = f", about {(total - state['done']) / rate:.0f} s left" if total and rate else ""
                    print(f"bench: {description}: {state['done']}{of} ({rate:,.1f}/s{left})", file=sys.stderr,
                          flush=True)

            yield advance
