"""`tokens`: create, list and revoke API tokens (the operator needs the admin role's tokens:manage)."""

from __future__ import annotations

from datetime import datetime

import click

from registry.auth.tokens import Tokens, today
from registry.cli.base import registry_of, session


def _tokens(ctx) -> Tokens:
    return Tokens(registry_of(ctx).store)


@click.group()
def tokens():
    """API tokens: callers send one as `Authorization: Bearer <token>`; it carries one role."""


@tokens.command("create")
@click.option("--name", required=True, help="A name for whoever uses it (a-z, 0-9, . _ -); the audit log shows token:NAME.")
@click.option("--role", required=True, help="viewer, steward, dpo, auditor or admin.")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE",
              help="The last day (UTC) it is accepted; default: until revoked.")
@click.pass_context
def create(ctx, name: str, role: str, expires: datetime | None):
    """Create a token and print it, once, as the last word of the output: only its hash is kept."""
    issued = _tokens(ctx).create(principal=session(ctx).principal, name=name, role=role,
                                 expires=expires.date() if expires else None)
    until = f"through {issued.row.expires}" if issued.row.expires else "until revoked"
    click.echo(f"created the token {name!r} for the role {role}, accepted {until} (shown once, keep it safe): "
               f"{issued.token}")


@tokens.command("list")
@click.pass_context
def list_(ctx):
    """Every token with its role, creator and state (never the token)."""
    rows = _tokens(ctx).list(principal=session(ctx).principal)
    on = today().isoformat()
    lines = [("NAME", "ROLE", "STATE", "EXPIRES", "CREATED", "CREATED BY")]
    for row in rows:
        state = (f"revoked {row.revoked[:10]}" if row.revoked else
                 "expired" if row.expires and row.expires < on else "active")
        lines.append((row.name, row.role, state, row.expires or "-", row.created[:19] + "Z", row.created_by))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for line in lines:
        click.echo("  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip())


@tokens.command("revoke")
@click.argument("name")
@click.pass_context
def revoke(ctx, name: str):
    """Revoke the token NAME: refused from the next request on."""
    _tokens(ctx).revoke(principal=session(ctx).principal, name=name)
    click.echo(f"revoked the token {name!r}")
