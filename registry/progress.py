"""Progress on long work (subject loads, large bundle loads, exports, the benchmark), on stderr.

On a terminal a rich progress bar with the rate and the time left; otherwise (a pipe, a log
file, CI) one line every `interval` seconds, and one when work that took longer ends:

    dsa-registry: applying subjects.jsonl: 40,000/100,000 (39,512/s, about 2 s left)

With `quiet`, nothing. Messages go to stderr, so a command's output on stdout stays clean.

>>> import io
>>> out = io.StringIO()
>>> reporter = Reporter(terminal=False, interval=0, stream=out)
>>> with reporter.task("applying s.jsonl", 4) as task:
...     task.to(2, 4)
>>> out.getvalue().splitlines()[0].split(" (")[0]
'dsa-registry: applying s.jsonl: 2/4'
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn, TransferSpeedColumn)
from rich.text import Text

__all__ = ["Reporter", "Task"]


class RateColumn(ProgressColumn):
    """Steps per second, once there is a rate."""

    def render(self, task) -> Text:
        return Text(f"{task.speed:,.0f}/s" if task.speed else "", style="progress.data.speed")


class _Counts(ProgressColumn):
    """Done of total and the rate: in MB for bytes, else in steps."""

    def __init__(self):
        super().__init__()
        self.bytes = (DownloadColumn(), TransferSpeedColumn())
        self.steps = (MofNCompleteColumn(), RateColumn())

    def render(self, task) -> Text:
        columns = self.bytes if task.fields.get("bytes") else self.steps
        return Text(" ").join(column.render(task) for column in columns)


class Task:
    """One piece of long work: `advance(steps)` or `to(done, total)` as it goes."""

    def __init__(self, update):
        self._update = update
        self.done = 0
        self.total: int | None = None
        self.name: str | None = None
        self.started = False

    def __call__(self, steps: int = 1) -> None:
        self.advance(steps)

    def advance(self, steps: int = 1) -> None:
        self.to(self.done + steps)

    def to(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        self._update(self)

    def stage(self, name: str) -> None:
        """Work in stages (`total` of them): the next one begins; its name is shown."""
        self.name = name
        if self.started:
            self.to(self.done + 1)
        else:
            self.started = True
            self._update(self)


class Reporter:
    """Where progress goes: `terminal` defaults to whether `stream` (stderr) is one."""

    def __init__(self, quiet: bool = False, interval: float = 10.0, terminal: bool | None = None,
                 stream: TextIO | None = None, prefix: str = "dsa-registry"):
        self.quiet = quiet
        self.interval = interval
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.prefix = prefix
        self.console = Console(file=self.stream)
        self._progress: Progress | None = None
        self._open = 0

    def _bars(self) -> Progress:
        """The one live display (rich allows one at a time) that shows every open task's bar."""
        if self._progress is None:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), _Counts(), TimeElapsedColumn(),
                                      TimeRemainingColumn(), console=self.console, transient=True)
            self._progress.start()
        self._open += 1
        return self._progress

    def say(self, message: str) -> None:
        """A line about what happens next (kept above a progress bar on a terminal)."""
        if self.quiet:
            return
        if self.terminal:
            self.console.print(message, highlight=False, markup=False)
        else:
            print(f"{self.prefix}: {message}", file=self.stream, flush=True)

    @contextmanager
    def task(self, description: str, total: int | None, *, bytes: bool = False) -> Iterator[Task]:
        """Work of `total` steps (bytes, with `bytes`); yields its `Task`."""
        if self.quiet:
            yield Task(lambda task: None)
        elif self.terminal:
            progress = self._bars()
            bar = progress.add_task(description, total=total, bytes=bytes)
            try:
                yield Task(lambda task: progress.update(bar, completed=task.done, total=task.total or total,
                                                        description=f"{description}: {task.name}" if task.name
                                                        else description))
            finally:
                progress.remove_task(bar)
                self._open -= 1
                if not self._open:
                    progress.stop()
                    self._progress = None
        else:
            lines = _Lines(self, description, total, bytes)
            task = Task(lines.update)
            yield task
            if task.started:  # work in stages: the last one is done
                task.done = task.total or total or task.done
            lines.update(task, final=True)


class _Lines:
    """The periodic one-line messages for output that is not a terminal."""

    def __init__(self, reporter: Reporter, description: str, total: int | None, bytes: bool):
        self.reporter, self.description, self.total, self.bytes = reporter, description, total, bytes
        self.start = self.last = self.moved = time.monotonic()
        self.shown = -1

    def update(self, task: Task, final: bool = False) -> None:
        now = time.monotonic()
        if not final:
            self.moved = now  # the rate of finished work counts until its last step, not until the line
        if (now - self.last < self.reporter.interval and not final) or (final and task.done == self.shown) \
                or (final and self.shown < 0 and self.reporter.interval > 0):  # quick work: no line at all
            return
        self.last, self.shown = now, task.done
        total = task.total or self.total
        rate = task.done / max((self.moved if final else now) - self.start, 1e-9)
        left = f", about {(total - task.done) / rate:,.0f} s left" if total and rate and task.done < total else ""
        stage = f" ({task.name})" if task.name and not final else ""
        print(f"{self.reporter.prefix}: {self.description}{stage}: {self._amount(task.done)}"
              f"{'/' + self._amount(total) if total else ''} ({self._amount(rate)}/s{left})",
              file=self.reporter.stream, flush=True)

    def _amount(self, value: float) -> str:
        return f"{value / 1e6:,.1f} MB" if self.bytes else f"{value:,.0f}"
