"""The registry's API for the benchmark's HTTP layer: `create_app` under uvicorn on 127.0.0.1.

    python -m bench.api_server --store PATH|URI --port N --hmac-key SECRET [--api-roles viewer,dpo]

A composition root of its own: the settings come from the environment as for `dsa-registry
serve`, with the store, the lookup-key secret and the API roles from the options (the DSAR
questions need subject data, hence `dpo`).
"""

from __future__ import annotations

import argparse

import uvicorn

from registry.api.app import create_app
from registry.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hmac-key", required=True)
    parser.add_argument("--api-roles", default="viewer,dpo")
    args = parser.parse_args()
    settings = Settings.load(store=args.store, hmac_key=args.hmac_key, api_roles=args.api_roles)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
