"""`serve`: the GraphQL API, GraphiQL and the lineage page over HTTP or HTTPS, optionally with the
demo insurer loaded.

Everything is checked before the server listens, each problem as one line: the settings, the
lookup-key secret against the store's, the TLS files, and the port. On a store that never had an
API token (and no identity provider configured), an `admin` token is created and printed once,
with the links to the lineage page and GraphiQL that carry it in the URL's fragment (which
browsers never send).
"""

from __future__ import annotations

import functools
import os
import socket
import ssl
import sys
from pathlib import Path

import click

from registry.auth.tokens import Tokens
from registry.bootstrap import open_registry
from registry.cli.base import refuse_missing_store, session, summary
from registry.cli.bundles import DEMO
from registry.settings import MAX_WORKERS
from registry.auth.roles import SUBJECT_WRITE
from registry.subjects.demo import load_demo_subjects
from registry.subjects.service import SubjectService


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--demo", "with_demo", is_flag=True, help="Load the demo insurer first if the registry is empty.")
@click.option("--allow-anonymous-viewer", is_flag=True, default=None,
              help="Callers without credentials get the viewer role. Also DSA_REGISTRY_ALLOW_ANONYMOUS_VIEWER.")
@click.option("--production", is_flag=True, default=None,
              help="Introspection and GraphiQL off. Also DSA_REGISTRY_PRODUCTION.")
@click.option("--ssl-certfile", type=click.Path(dir_okay=False, path_type=Path), help="Serve HTTPS with this "
              "certificate chain (PEM).")
@click.option("--ssl-keyfile", type=click.Path(dir_okay=False, path_type=Path), help="The certificate's private key (PEM).")
@click.option("--workers", type=click.IntRange(1, MAX_WORKERS), default=None,
              help="Server processes on the port (about one per core). Also DSA_REGISTRY_WORKERS; default 1.")
@click.pass_context
def serve(ctx, host: str, port: int, with_demo: bool, allow_anonymous_viewer: bool | None, production: bool | None,
          ssl_certfile: Path | None, ssl_keyfile: Path | None, workers: int | None):
    """Serve the GraphQL API (GraphiQL in a browser) at http://HOST:PORT/graphql and the lineage page
    at http://HOST:PORT/; callers authenticate with API tokens (`dsa-registry tokens`) or the identity
    provider's tokens."""
    from registry.api.app import create_app
    from registry.api.workers import run
    from registry.web import Pages, page_url

    current = session(ctx)
    flags = {"allow_anonymous_viewer": allow_anonymous_viewer, "production": production, "workers": workers}
    settings = current.settings.model_copy(update={k: v for k, v in flags.items() if v is not None})
    _check_tls(ssl_certfile, ssl_keyfile)
    create_app(settings)  # checks the settings the API needs before anything else
    if not with_demo:
        refuse_missing_store(settings)  # only `serve --demo` creates one
    registry = open_registry(settings)  # closed before serving: one store (driver) per process
    try:
        subjects = SubjectService(registry, settings.key_hasher())
        subjects.check_key()
        if with_demo and not registry.list("system"):
            loaded = registry.load([("demo", DEMO.read_text(encoding="utf-8"))], actor=current.actor)
            click.echo(f"loading the demo insurer: {summary(loaded)}", err=True)
            if current.principal.can(SUBJECT_WRITE):
                count = load_demo_subjects(subjects, current.principal)
                click.echo(f"loading the demo's data subjects: {count}", err=True)
        issued = None if settings.oidc() else Tokens(registry.store).bootstrap(actor=current.actor)
    finally:
        registry.store.close()
    listening = _listen(host, port)
    missing = Pages(settings.web_assets).missing()
    if missing:
        click.echo(f"warning: the pages' npm packages are missing ({missing[0]}): run scripts/serve, or npm ci "
                   "--omit=dev in registry/web; the API works without them", err=True)
    scheme = "https" if ssl_certfile else "http"
    token = issued.token if issued is not None else None
    link = functools.partial(page_url, host, listening.getsockname()[1], token=token, scheme=scheme)
    if issued is not None:
        click.echo(f"created the admin token {issued.row.name!r} (shown once, keep it safe): {issued.token}", err=True)
    if settings.workers > 1:
        click.echo(f"Serving with {settings.workers} processes", err=True)
    click.echo(f"Lineage page: {link()}", err=True)
    if settings.production:
        click.echo(f"GraphQL: {link(path='graphql', token=None)}", err=True)
    else:
        click.echo(f"GraphiQL: {link(path='graphql')}", err=True)
    run(settings, listening, log_level="info", ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile, server_header=False)


def _check_tls(certfile: Path | None, keyfile: Path | None) -> None:
    if (certfile is None) != (keyfile is None):
        raise click.UsageError("give both --ssl-certfile and --ssl-keyfile, or neither")
    if certfile is None:
        return
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or str(error)
        raise click.UsageError(f"--ssl-certfile/--ssl-keyfile: cannot load {certfile} with {keyfile}: {reason}") \
            from None


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket (`registry.api.workers.listen`), before any URL is printed: a port in
    use is one line and exit code 1."""
    from registry.api.workers import listen

    try:
        return listen(host, port)
    except OSError as error:
        reason = (error.strerror if isinstance(error, socket.gaierror) else
                  os.strerror(error.errno) if error.errno else str(error))
        click.echo(f"error: cannot listen on {host}:{port}: {reason}", err=True)
        sys.exit(1)
