"""The `dsa-registry` command line, on any store: one module per group of commands, put together here.

`base` holds the group, its options and what commands share; the others only import `base`.
"""

from __future__ import annotations

from registry.cli.audit import audit
from registry.cli.base import first_sentences, main
from registry.cli.bundles import DEMO, demo, export, load
from registry.cli.compliance import breach, check
from registry.cli.keys import keys
from registry.cli.query import query
from registry.cli.serve import serve
from registry.cli.subjects import consent, disclose, dsar, erasure_plan, subjects
from registry.cli.tokens import tokens

for _command in (load, export, query, serve, demo, audit, check, breach, subjects, dsar, consent, disclose,
                 erasure_plan, tokens, keys):
    main.add_command(_command)
first_sentences(main)

__all__ = ["DEMO", "main"]
