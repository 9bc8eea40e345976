"""`query`: run a GraphQL query or mutation from the command line, as the operator."""

from __future__ import annotations

import asyncio
import json
import sys

import click

from registry.cli.base import read_argument, registry_of, session


@click.command()
@click.argument("query")
@click.option("--variables", default=None, help="Variables as a JSON object (`-` or `@FILE` to read it).")
@click.pass_context
def query(ctx, query: str, variables: str | None):
    """Run a GraphQL query or mutation and print the JSON result (exit code 1 on errors).

    QUERY is the query itself, `-` to read it from standard input, or `@FILE` to read it from a file.
    """
    query = read_argument(query, "QUERY")
    variables = read_argument(variables, "--variables") if variables else None
    from registry.api.context import Context
    from registry.api.schema import schema

    try:
        values = json.loads(variables) if variables else None
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--variables") from None
    current = session(ctx)
    context = Context(registry=registry_of(ctx), principal=current.principal,
                      compliance=current.settings.compliance())
    result = asyncio.run(schema.execute(query, variable_values=values, context_value=context))
    output = {"data": result.data}
    if result.errors:
        output["errors"] = [error.formatted for error in result.errors]
    click.echo(json.dumps(output, indent=2, ensure_ascii=False, default=str))
    sys.exit(1 if result.errors else 0)
