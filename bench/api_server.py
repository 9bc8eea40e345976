"""The registry's API for the benchmark's HTTP layer: `create_app` under uvicorn on 127.0.0.1.

    python -m bench.api_server --store PATH|URI --port N --hmac-key SECRET [--workers N]

A composition root of its own: the settings come from the environment as for `dsa-registry
serve`, with the store and the lookup-key secret from the options and the request cost limit at
its highest (`bench.ours.MAX_QUERY_COST`: the benchmark asks for whole answers). Callers
authenticate with an API token (`bench.servers.ApiServer` creates one with the `dpo` role: the
DSAR questions need subject data). With `--workers N`, N server processes share the port
(`registry.api.workers`).
"""

from __future__ import annotations

import argparse

from registry.api.app import create_app
from registry.api.workers import listen, run
from registry.settings import Settings

from bench.ours import MAX_QUERY_COST


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hmac-key", required=True)
    parser.add_argument("--workers", type=int)
    args = parser.parse_args()
    settings = Settings.load(store=args.store, hmac_key=args.hmac_key, workers=args.workers,
                             max_query_cost=MAX_QUERY_COST)
    create_app(settings)  # checks the settings here, before any worker starts
    run(settings, listen("127.0.0.1", args.port), log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
