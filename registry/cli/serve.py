"""`serve`: the GraphQL API, GraphiQL and the lineage page over HTTP, optionally with the demo insurer loaded."""

from __future__ import annotations

import click

from registry.bootstrap import open_registry
from registry.cli.base import session, summary
from registry.cli.bundles import DEMO


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", "with_demo", is_flag=True, help="Load the demo insurer first if the registry is empty.")
@click.pass_context
def serve(ctx, host: str, port: int, with_demo: bool):
    """Serve the GraphQL API (GraphiQL in a browser) at http://HOST:PORT/graphql and the lineage
    page at http://HOST:PORT/."""
    import uvicorn

    from registry.api.app import create_app
    from registry.web import Pages, page_url

    current = session(ctx)
    app = create_app(current.settings)  # checks the settings the API needs before anything else
    if with_demo:
        registry = open_registry(current.settings)  # closed before serving: one store (driver) per process
        try:
            if not registry.list("system"):
                loaded = registry.load([("demo", DEMO.read_text(encoding="utf-8"))], actor=current.actor)
                click.echo(f"loading the demo insurer: {summary(loaded)}")
        finally:
            registry.store.close()
    missing = Pages(current.settings.web_assets).missing()
    if missing:
        click.echo(f"warning: the pages' npm packages are missing ({missing[0]}): run scripts/serve, or npm ci "
                   "--omit=dev in registry/web; the API works without them", err=True)
    click.echo(f"Lineage page: {page_url(host, port)}", err=True)
    click.echo(f"GraphiQL: {page_url(host, port)}graphql", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info")
