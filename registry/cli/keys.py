"""`keys`: the secret that lookup keys (e-mail addresses, national ids …) are hashed with."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from registry.cli.base import write_private


@click.group()
def keys():
    """The lookup-key secret (DSA_REGISTRY_HMAC_KEY_FILE)."""


@keys.command("generate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def generate(file: Path):
    """Write a new random secret (256 bits, as 64 hex digits) to FILE, readable by its owner only.
    An existing FILE is never replaced: keys hashed with its secret could no longer be found."""
    write_private(file, secrets.token_hex(32) + "\n", exclusive=True)
    click.echo(f"wrote a new lookup-key secret to {file} (mode 0600); point DSA_REGISTRY_HMAC_KEY_FILE at it")
