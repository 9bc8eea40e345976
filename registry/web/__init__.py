"""The registry's pages, served by the API's own app: the lineage page at `/`, GraphiQL at
`/graphql` (GET, text/html), their code under `/static/`, and the npm packages they use
(Cytoscape.js, ELK's layered layout from elkjs run in a web worker, GraphiQL with React) under `/static/vendor/`.

Nothing comes from a CDN: the npm packages are installed by `scripts/setup` (`npm ci` in this
directory, from `package.json` and `package-lock.json`) into `node_modules/` here, or wherever
`DSA_REGISTRY_WEB_ASSETS` points (the Docker image). Only the files in `VENDOR` are served.
When they are missing the API still works and the pages answer 503 with the command to run.

>>> sorted(VENDOR)[:2]
['cytoscape.min.js', 'elk-api.js']
>>> page_url("127.0.0.1", 8000, token="s3cret/+")
'http://127.0.0.1:8000/#token=s3cret%2F%2B'
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
PAGES = HERE / "pages"
DEFAULT_ASSETS = HERE / "node_modules"
"""Where `npm ci` in this directory puts the packages (a source checkout)."""

VENDOR: dict[str, str] = {
    "cytoscape.min.js": "cytoscape/dist/cytoscape.min.js",
    "elk-api.js": "elkjs/lib/elk-api.js",
    "elk-worker.min.js": "elkjs/lib/elk-worker.min.js",
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
}
"""URL name under /static/vendor/ -> file in the npm packages' directory."""

SECURITY_HEADERS = {
    # Everything from this origin: no CDN, no inline script; inline styles for React and Cytoscape.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
                               "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def page_url(host: str, port: int, token: str | None = None, *, path: str = "", scheme: str = "http") -> str:
    """The address of the page at `path` (the lineage page by default, `graphql` for GraphiQL) for
    a server listening on `host`; with `token`, a link that hands the page the token (in the
    fragment, which browsers never send to a server; the page keeps it for the browser session
    and removes it from the address bar)."""
    host = "127.0.0.1" if host == "0.0.0.0" else "::1" if host == "::" else host
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}/{path}" + (f"#token={quote(token, safe='')}" if token else "")


class Pages:
    """The pages and their files, over the npm packages in `assets` (default `DEFAULT_ASSETS`)."""

    def __init__(self, assets: Path | None = None):
        self.assets = Path(assets) if assets else DEFAULT_ASSETS

    def missing(self) -> list[str]:
        """The npm files the pages need and `assets` lacks."""
        return [path for path in VENDOR.values() if not (self.assets / path).is_file()]

    def routes(self) -> list[BaseRoute]:
        """`/` (the lineage page) and the static files; GraphiQL is `graphiql`, which the GraphQL
        route renders for browsers."""
        return [Route("/", self.lineage, methods=["GET"]),
                Route("/static/vendor/{name}", self.vendor, methods=["GET"]),
                Mount("/static", StaticFiles(directory=STATIC), name="static")]

    async def lineage(self, request: Request) -> Response:
        return self._page("lineage.html")

    async def graphiql(self, request: Request) -> Response:
        return self._page("graphiql.html")

    async def vendor(self, request: Request) -> Response:
        path = VENDOR.get(request.path_params["name"])
        if path is None or not (self.assets / path).is_file():
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(self.assets / path, headers={"Cache-Control": "public, max-age=3600"})

    def _page(self, name: str) -> Response:
        missing = self.missing()
        if missing:
            return PlainTextResponse(
                f"The page's browser packages are not installed in {self.assets} (missing {missing[0]}). "
                f"Run scripts/serve, or `npm ci --omit=dev` in {HERE}.\n", status_code=503)
        return HTMLResponse((PAGES / name).read_text(encoding="utf-8"), headers=SECURITY_HEADERS)
