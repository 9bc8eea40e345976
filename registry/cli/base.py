"""What every command shares: the `dsa-registry` group, its options, the settings built once from
them and the environment, the registry opened on demand, and one way to report errors and to
write output. Command modules import this one and nothing else of the CLI; `registry.cli`
puts them together.
"""

from __future__ import annotations

import getpass
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from graph.store import StoreError
from registry.auth.roles import Principal
from registry.bootstrap import open_registry, scratch_registry, store_exists
from registry.bundle import BundleInvalid, Source
from registry.errors import DomainError
from registry.service import Registry
from registry.settings import Settings, SettingsError
from registry.subjects.model import SubjectsInvalid


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
        except StoreError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)


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


@click.group(cls=Registered, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--store", metavar="PATH|URI",
              help="SQLite file (default ./registry.db) or Neo4j URI such as neo4j://host:7687 "
                   "(credentials from NEO4J_USER / NEO4J_PASSWORD). Also DSA_REGISTRY_STORE.")
@click.option("--actor", default=getpass.getuser, show_default="the OS user",
              help="Who makes the changes, for the audit log.")
@click.pass_context
def main(ctx: click.Context, store: str | None, actor: str):
    """dsa-registry: who holds which customer data, under which agreement, for which purpose and on
    which legal basis."""
    try:
        settings = Settings.load(store=store)
    except SettingsError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    ctx.obj = Session(settings, actor)


def session(ctx: click.Context) -> Session:
    return ctx.find_object(Session)


def registry_of(ctx: click.Context) -> Registry:
    """The registry the command works on, opened once and closed when the command ends."""
    current = session(ctx)
    if current._registry is None:
        current._registry = open_registry(current.settings)
        ctx.call_on_close(current._registry.store.close)
    return current._registry


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
    """Write a command's document to `output`, or to stdout when none is given."""
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=not text.endswith("\n"))
