"""The `dsa-registry` command line: load, export, query, serve, demo and audit, on any store."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from importlib.resources import files
from pathlib import Path

import click
import yaml

from graph.store import StoreError
from registry.auth.roles import Principal
from registry.bootstrap import open_registry, store_location
from registry.bundle import BundleInvalid
from registry.errors import DomainError
from registry.subjects.model import SubjectsInvalid

DEMO = files("registry") / "demo" / "insurer.yaml"


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
        except DomainError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        except StoreError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)


@click.group(cls=Registered, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--store", envvar="DSA_REGISTRY_STORE", metavar="PATH|URI",
              help="SQLite file (default ./registry.db) or Neo4j URI such as neo4j://host:7687 "
                   "(credentials from NEO4J_USER / NEO4J_PASSWORD). Also DSA_REGISTRY_STORE.")
@click.option("--actor", default=getpass.getuser, show_default="the OS user",
              help="Who makes the changes, for the audit log.")
@click.pass_context
def main(ctx: click.Context, store: str | None, actor: str):
    """dsa-registry: who holds which customer data, under which agreement, for which purpose and on
    which legal basis."""
    ctx.obj = {"store": store_location(store), "actor": actor}


def registry_of(ctx: click.Context):
    if "registry" not in ctx.obj:
        registry = open_registry(ctx.obj["store"])
        ctx.obj["registry"] = registry
        ctx.call_on_close(registry.store.close)
    return ctx.obj["registry"]


def _summary(result) -> str:
    return (f"created {result.created}, updated {result.updated}, deleted {result.deleted}, "
            f"unchanged {result.unchanged}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace the whole registry with these bundles.")
@click.pass_context
def load(ctx, files: tuple[Path, ...], replace: bool):
    """Load YAML or JSON bundles: all validated first, then applied in one transaction.

    Exit code 2, with every problem listed and nothing changed, when any bundle is invalid.
    """
    bundles = [(str(path), path.read_text(encoding="utf-8")) for path in files]
    result = registry_of(ctx).load(bundles, actor=ctx.obj["actor"], replace=replace)
    click.echo(_summary(result))


@main.command()
@click.option("--format", "format_", type=click.Choice(["yaml", "json", "ropa-csv", "ropa-json"]), default="yaml",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default stdout).")
@click.pass_context
def export(ctx, format_: str, output: Path | None):
    """Export the registry as a bundle that loads back into an identical registry, or (ropa-csv,
    ropa-json) as the record of processing activities (GDPR Art. 30)."""
    if format_.startswith("ropa-"):
        from registry.compliance.ropa import ropa, to_csv, to_json

        record = ropa(registry_of(ctx))
        text = to_csv(record) if format_ == "ropa-csv" else to_json(record)
    elif format_ == "json":
        text = json.dumps(registry_of(ctx).export(), indent=2, ensure_ascii=False) + "\n"
    else:
        text = yaml.safe_dump(registry_of(ctx).export(), sort_keys=False, allow_unicode=True, width=100)
    write_output(text, output)


def write_output(text: str, output: Path | None) -> None:
    """Write a command's document to `output`, or to stdout when none is given."""
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=not text.endswith("\n"))


@main.command()
@click.argument("query")
@click.option("--variables", default=None, help="Variables as a JSON object.")
@click.pass_context
def query(ctx, query: str, variables: str | None):
    """Run a GraphQL query or mutation and print the JSON result (exit code 1 on errors)."""
    from registry.api.context import Context
    from registry.api.schema import schema

    try:
        values = json.loads(variables) if variables else None
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--variables") from None
    context = Context(registry=registry_of(ctx), principal=Principal.operator(ctx.obj["actor"]))
    result = asyncio.run(schema.execute(query, variable_values=values, context_value=context))
    output = {"data": result.data}
    if result.errors:
        output["errors"] = [error.formatted for error in result.errors]
    click.echo(json.dumps(output, indent=2, ensure_ascii=False, default=str))
    sys.exit(1 if result.errors else 0)


@main.command()
@click.option("--replace", is_flag=True, help="Replace the whole registry with the demo.")
@click.pass_context
def demo(ctx, replace: bool):
    """Load the bundled demo insurer (Aurora Mutual)."""
    result = registry_of(ctx).load([("demo", DEMO.read_text(encoding="utf-8"))], actor=ctx.obj["actor"],
                                 replace=replace)
    click.echo(_summary(result))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", "with_demo", is_flag=True, help="Load the demo insurer first if the registry is empty.")
@click.pass_context
def serve(ctx, host: str, port: int, with_demo: bool):
    """Serve the GraphQL API (GraphiQL in a browser) at http://HOST:PORT/graphql."""
    import uvicorn

    from registry.api.app import create_app

    store = ctx.obj["store"]
    if with_demo:
        registry = open_registry(store)  # closed before serving: one store (driver) per process
        try:
            if not registry.list("system"):
                loaded = registry.load([("demo", DEMO.read_text(encoding="utf-8"))], actor=ctx.obj["actor"])
                click.echo(f"loading the demo insurer: {_summary(loaded)}")
        finally:
            registry.store.close()
    click.echo(f"GraphiQL: http://{host}:{port}/graphql", err=True)
    uvicorn.run(create_app(lambda: open_registry(store)), host=host, port=port, log_level="info")


@main.command()
@click.option("--entity", default=None, help="Only changes of this entity id.")
@click.option("--since", default=0, show_default=True, help="Only entries after this sequence number.")
@click.option("--limit", default=100, show_default=True)
@click.pass_context
def audit(ctx, entity: str | None, since: int, limit: int):
    """Print audit entries (who changed what, when, before and after) as JSON lines."""
    for entry in registry_of(ctx).audit(entity=entity, since=since, limit=limit):
        click.echo(json.dumps(entry.__dict__, ensure_ascii=False))


from registry.cli_subjects import register as _register_subject_commands  # noqa: E402

_register_subject_commands(main)
from registry.cli_compliance import register as _register_compliance; _register_compliance(main)  # noqa: E402, E702

if __name__ == "__main__":
    main()
