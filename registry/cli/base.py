"""What every command shares: the `dsa-registry` group, its options, the settings built once from
them and the environment, the operator, the registry opened on demand, and one way to report
errors and to write output. Command modules import this one and nothing else of the CLI;
`registry.cli` puts them together.

The CLI acts locally, as the operator: the OS user the process runs as (from its user id, not
from `$USER`, which anyone can set), with the roles `DSA_REGISTRY_ROLES` gives. The store file
is the boundary: whoever can open it can change it. `--actor NAME` records on whose behalf the
operator acts beside the OS user (`os:alice (as privacy-office)`), never instead of it. Files
the CLI writes are created readable by their owner only (0600): they may hold personal data.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO

import click

from graph.store import StoreBusy, StoreError
from registry import bounds
from registry.auth.roles import Principal, require
from registry.bootstrap import open_registry, scratch_registry, store_exists  # noqa: F401  (for the commands)
from registry.bundle import BundleInvalid, Source
from registry.errors import DomainError, InvalidArgument
from registry.progress import Reporter
from registry.service import Registry
from registry.settings import Settings, SettingsError
from registry.subjects.model import SubjectsInvalid


BUSY = 75
"""Exit code of a write that gave up waiting for another write (EX_TEMPFAIL: try again later)."""

QUIET = click.option("--quiet", "-q", is_flag=True, help="No progress messages on stderr.")
"""The option of commands that report progress on long work."""


PROGRESS_EVERY = 10.0
"""Seconds between progress lines when stderr is not a terminal."""


def reporter(quiet: bool) -> Reporter:
    """Progress on stderr: a bar on a terminal, a line every `PROGRESS_EVERY` seconds otherwise,
    nothing with `quiet`."""
    return Reporter(quiet=quiet, interval=PROGRESS_EVERY)


class Registered(click.Group):
    """Turns the registry's errors into one-line messages and exit codes, never tracebacks."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (BundleInvalid, SubjectsInvalid) as error:
            click.echo(f"error: nothing was changed; {len(error.problems) + getattr(error, 'more', 0)} problem(s):",
                       err=True)
            for line in str(error).splitlines():
                click.echo(f"  {line}", err=True)
            sys.exit(2)
        except (*DomainError, SettingsError) as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        except StoreBusy as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(BUSY)
        except StoreError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)


class Day(click.ParamType):
    """A date, YYYY-MM-DD, within `registry.bounds`; a date and time is taken as its day in UTC."""

    name = "DATE"

    def convert(self, value, param, ctx):
        if isinstance(value, date):
            return value
        try:
            return _in_range(self, date.fromisoformat(value), param, ctx)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value)
            day = (moment.astimezone(timezone.utc) if moment.utcoffset() is not None else moment).date()
        except (ValueError, OverflowError):
            self.fail(f"{value!r} is not a date such as 2026-11-25 (or is out of range: {bounds.RANGE})", param, ctx)
        return _in_range(self, day, param, ctx)


def _in_range(type_: click.ParamType, day: date, param, ctx) -> date:
    """`day` when it is within `registry.bounds`, else `type_`'s usage error."""
    if not bounds.EARLIEST <= day <= bounds.LATEST:
        type_.fail(f"{day} is out of range: {bounds.RANGE}", param, ctx)
    return day


class Moment(click.ParamType):
    """A point in time: an ISO 8601 date and time with its UTC offset (`Z` or `+01:00`), or a
    date, taken as its start in UTC; within `registry.bounds`. With `whole_days`, a date alone is
    given back as the `date` (a bound that takes in the whole day, as `audit --until` does)."""

    name = "DATE|DATETIME"

    def __init__(self, whole_days: bool = False):
        self.whole_days = whole_days

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date or an ISO 8601 date and time such as 2026-11-25 or "
                      "2026-11-25T09:30:00+01:00", param, ctx)
        if len(value.strip()) == 10:  # a date alone
            if self.whole_days:
                return _in_range(self, moment.date(), param, ctx)
            moment = moment.replace(tzinfo=timezone.utc)
        if moment.utcoffset() is None:
            self.fail(f"{value!r} has no UTC offset; give one, e.g. {value}+00:00 or {value}Z", param, ctx)
        try:
            return bounds.moment(moment)
        except ValueError as error:
            self.fail(str(error), param, ctx)


def first_sentences(command: click.Command) -> None:
    """Show each command's whole first sentence in the command list: click cuts the help after
    the first full stop ("The GDPR Art.") and at 45 characters."""
    for sub in getattr(command, "commands", {}).values():
        first_sentences(sub)
    if command.short_help is None and command.help:
        command.short_help = _first_sentence(command.help)


def _first_sentence(text: str) -> str:
    paragraph = " ".join(text.split("\n\n")[0].split())
    end = re.search(r"(?<!\bArt)(?<!\be\.g)(?<!\bi\.e)(?<!\bNo)(?<!\bcf)\.(\s+(?=[A-Z(])|$)", paragraph)
    return paragraph[:end.start() + 1] if end else paragraph


def product_version() -> str:
    try:
        return version("dsa-registry")
    except PackageNotFoundError:
        return "0+unknown"


def read_argument(value: str, what: str) -> str:
    """A command-line text argument: as given, `-` for standard input, `@FILE` for a file's contents."""
    if value == "-":
        return sys.stdin.read()
    if value.startswith("@"):
        try:
            return Path(value[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise click.BadParameter(f"cannot read {value[1:]}: {reason}", param_hint=what) from None
    return value


def os_user() -> str:
    """The name of the user this process runs as, from its effective user id."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid-{uid}"


def operator(on_behalf_of: str | None = None) -> str:
    """The actor the audit log records for this process: `os:USER`, or `os:USER (as NAME)`."""
    return f"os:{os_user()}" + (f" (as {on_behalf_of})" if on_behalf_of else "")


_BEHALF = re.compile(r"[^\x00-\x1f\x7f()]{1,100}")


@dataclass
class Session:
    """One command's state: its settings and actor, and the registry once a command opens it."""

    settings: Settings
    actor: str
    _registry: Registry | None = field(default=None, repr=False)

    @property
    def principal(self) -> Principal:
        """The operator running the command, with the roles `DSA_REGISTRY_ROLES` gives."""
        return Principal(self.actor, frozenset(self.settings.roles))

    def require(self, permission: str) -> None:
        """Refuse (exit code 2) unless the operator's roles carry `permission`."""
        require(self.principal, permission)


@click.group(cls=Registered, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(product_version(), "--version", "-V", prog_name="dsa-registry", message="%(prog)s %(version)s")
@click.option("--store", metavar="PATH|URI",
              help="SQLite file (default ./registry.db) or Neo4j URI such as neo4j://host:7687 "
                   "(credentials from NEO4J_USER / NEO4J_PASSWORD). Also DSA_REGISTRY_STORE.")
@click.option("--actor", metavar="NAME",
              help="On whose behalf you act: recorded in the audit log beside your OS user "
                   "(os:USER (as NAME)), never instead of it.")
@click.pass_context
def main(ctx: click.Context, store: str | None, actor: str | None):
    """dsa-registry: who holds which customer data, under which agreement, for which purpose and on
    which legal basis."""
    if actor is not None and not _BEHALF.fullmatch(actor):
        raise click.BadParameter("1 to 100 printable characters, no parentheses", param_hint="--actor")
    try:
        settings = Settings.load(store=store)
    except SettingsError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    ctx.obj = Session(settings, operator(actor))


def session(ctx: click.Context) -> Session:
    return ctx.find_object(Session)


def registry_of(ctx: click.Context, *, create: bool = False) -> Registry:
    """The registry the command works on, opened once and closed when the command ends.

    Only the commands that fill a registry (`load`, `demo`; `serve --demo`) pass `create`: any
    other refuses a store that does not exist (a mistyped `--store`), with `InvalidArgument`,
    rather than create an empty one and report on it."""
    current = session(ctx)
    if current._registry is None:
        if not create:
            refuse_missing_store(current.settings)
        current._registry = open_registry(current.settings)
        ctx.call_on_close(current._registry.store.close)
    return current._registry


def refuse_missing_store(settings: Settings) -> None:
    """`InvalidArgument` when the configured store does not exist (see `registry_of`)."""
    if not store_exists(settings):
        raise InvalidArgument(f"there is no registry at {settings.store} (--store or DSA_REGISTRY_STORE): check "
                              "the path, or create one with `dsa-registry load` or `dsa-registry demo`")


BUNDLE_SUFFIXES = (".yaml", ".yml", ".json")


def bundle_sources(paths: tuple[Path, ...]) -> list[Source]:
    """The bundles named on the command line, read: files as given, directories searched (with
    their subdirectories) for `*.yaml`, `*.yml` and `*.json`, in name order. Raises
    `BundleInvalid` naming every file that cannot be read or is not UTF-8."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in BUNDLE_SUFFIXES and p.is_file()))
        else:
            files.append(path)
    sources, problems = [], []
    for path in dict.fromkeys(files):
        try:
            sources.append(Source.read(path))
        except BundleInvalid as error:
            problems.extend(error.problems)
    if problems:
        raise BundleInvalid(problems)
    return sources


def summary(result) -> str:
    """A write's counts, as `load` and `demo` print them."""
    return (f"created {result.created}, updated {result.updated}, deleted {result.deleted}, "
            f"unchanged {result.unchanged}")


def write_output(text: str, output: Path | None) -> None:
    """Write a command's document to `output` (as `private_file`: 0600, replaced only once whole), or
    to stdout when none is given."""
    if output:
        write_private(output, text)
    else:
        click.echo(text, nl=not text.endswith("\n"))


def write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write `text` to `path`, readable and writable by its owner only, as `private_file` does."""
    with private_file(path, exclusive=exclusive) as file:
        file.write(text)


@contextlib.contextmanager
def private_file(path: Path, *, exclusive: bool = False) -> Iterator[IO[str]]:
    """`path` opened for writing text, readable and writable by its owner only (mode 0600).

    The text goes to a temporary file beside `path` (in the same directory, 0600) that replaces it
    (`os.replace`, atomic) only when the block ends without an exception: a command refused or
    failing half-way leaves an existing file byte for byte as it was, and no temporary file behind.
    A symbolic link keeps pointing at the file, which is replaced; a path that is not a regular file
    (a FIFO, `/dev/stdout`) is written directly. With `exclusive`, refuse a `path` that exists and
    remove what was written when the block fails. Errors as one line (`click.FileError`)."""
    if exclusive:
        fd = _opened(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                yield file
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        return
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file():  # nothing to replace: a FIFO or a device
        with os.fdopen(_opened(path, os.O_WRONLY), "w", encoding="utf-8") as file:
            yield file
        return
    if target.exists() and not os.access(target, os.W_OK):  # as open() would: a file kept read-only stays
        raise click.FileError(str(path), os.strerror(errno.EACCES))
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name[:200]}.", suffix=".part", dir=target.parent)
    except OSError as error:
        raise click.FileError(str(path), error.strerror) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        try:
            os.replace(temporary, target)
        except OSError as error:
            raise click.FileError(str(path), error.strerror) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _opened(path: Path, flags: int) -> int:
    try:
        return os.open(path, flags, 0o600)
    except FileExistsError:
        raise click.FileError(str(path), "it exists already; remove it first if you mean to replace it") from None
    except OSError as error:
        raise click.FileError(str(path), error.strerror) from None
