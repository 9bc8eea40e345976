"""The server's access log, without query strings.

A `GET /graphql` carries its query and variables in the query string: a DSAR by e-mail puts the
customer's e-mail address there, which is personal data, and access logs are kept, shipped and
read far more widely than the registry. uvicorn logs each request as (client, method, path with
query string, HTTP version, status); `WithoutQuery` keeps the path and puts `?…` in place of the
query string, as a filter on the `uvicorn.access` logger (whatever its handlers). The server
speaks no WebSocket (`registry.api.workers`), whose handshakes uvicorn logs elsewhere, with
their query strings. `LOG_CONFIG` is uvicorn's default
logging configuration with that filter on the access logger.
"""

from __future__ import annotations

import copy
import logging

from uvicorn.config import LOGGING_CONFIG

__all__ = ["LOG_CONFIG", "WithoutQuery"]


class WithoutQuery(logging.Filter):
    """Drops the query string from uvicorn's access log records (`GET /graphql?…`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (args[0], args[1], args[2].partition("?")[0] + "?…", args[3], args[4])
        return True


LOG_CONFIG: dict = copy.deepcopy(LOGGING_CONFIG)
LOG_CONFIG["filters"] = {"without_query": {"()": WithoutQuery}}
LOG_CONFIG["loggers"]["uvicorn.access"]["filters"] = ["without_query"]
