"""`audit`: the audit log, as JSON lines."""

from __future__ import annotations

import json

import click

from registry.cli.base import registry_of


@click.command()
@click.option("--entity", default=None, help="Only changes of this entity id.")
@click.option("--since", default=0, show_default=True, help="Only entries after this sequence number.")
@click.option("--limit", default=100, show_default=True)
@click.pass_context
def audit(ctx, entity: str | None, since: int, limit: int):
    """Print audit entries (who changed what, when, before and after) as JSON lines."""
    for entry in registry_of(ctx).audit(entity=entity, since=since, limit=limit):
        click.echo(json.dumps(entry.__dict__, ensure_ascii=False))
