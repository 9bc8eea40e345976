"""When a flow carries data, and on which terms: one definition both backends apply.

A flow's window (`FLOW_WINDOW`: its status, `since` and `until`) decides whether it is in force
on a day (`in_force`), may have carried data by then (`has_carried`) or is a plan (`planned`);
its terms (`TERMS`) are its own or else, term by term, its agreement's (`effective_terms`).
The backends' traversals and the registry's rules decide with these functions, so they cannot
drift apart.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from graph.store import Doc, Source

__all__ = ["FLOW_WINDOW", "TERMS", "effective_terms", "has_carried", "in_force", "planned"]

FLOW_WINDOW = ("status", "since", "until")
"""The fields of a flow that can keep it out of force; a flow without any of them always carries data."""


def in_force(flow: Doc, on: date) -> bool:
    """Whether `flow` carries data on day `on`: `on` lies within `since` … `until` (both inclusive,
    each optional) and its status is `active` (the default), or `ended` with an `until` (it
    carried data up to that day). A `proposed` or `suspended` flow, or an `ended` one without an
    end date, carries none.

    >>> f = {"id": "f", "since": "2026-01-01", "until": "2026-12-31"}
    >>> in_force(f, date(2026, 1, 1)), in_force(f, date(2027, 1, 1)), in_force({**f, "status": "proposed"}, date(2026, 6, 1))
    (True, False, False)
    >>> in_force({**f, "status": "ended"}, date(2026, 6, 1)), in_force({"id": "f", "status": "ended"}, date(2026, 6, 1))
    (True, False)
    """
    day = on.isoformat()
    status = flow.get("status", "active")
    return (status == "active" or (status == "ended" and "until" in flow)) \
        and flow.get("since", day) <= day <= flow.get("until", day)


def has_carried(flow: Doc, on: date) -> bool:
    """Whether `flow` may have carried data by day `on`: it is not a plan (`proposed`) and its
    `since`, if any, is not after `on`. What it carried stays where it went when it is ended or
    suspended, so a flow no longer in force may still have carried some.

    >>> f = {"id": "f", "since": "2026-01-01"}
    >>> has_carried(f, date(2025, 12, 31)), has_carried({**f, "status": "ended"}, date(2026, 6, 1))
    (False, True)
    >>> has_carried({**f, "status": "proposed"}, date(2026, 6, 1))
    False
    """
    return flow.get("status") != "proposed" and flow.get("since", "") <= on.isoformat()


def planned(flow: Doc, on: date) -> bool:
    """Whether `flow` is a plan on day `on`: status `proposed`, and its `until` (if any) not passed.
    A planned flow carries no data; it is checked, and a lineage can show it."""
    return flow.get("status") == "proposed" and on.isoformat() <= flow.get("until", "9999-12-31")


TERMS = ("legal_basis", "condition", "transfer_mechanism", "additional_bases")
"""The terms a flow may take from its agreement."""


def effective_terms(flow: Doc, agreement: Doc | None) -> dict[str, tuple[Any, Source | None]]:
    """A flow's effective terms, each with its source: the flow's own, or else its agreement's
    (term by term); unset terms are (None, None), or ((), None) for `additional_bases`.

    >>> effective_terms({"legal_basis": "gdpr-6-1-f"}, {"legal_basis": "gdpr-6-1-b", "condition": "gdpr-9-2-f"})["condition"]
    ('gdpr-9-2-f', 'agreement')
    """
    found: dict[str, tuple[Any, Source | None]] = {}
    for term in TERMS:
        empty = () if term == "additional_bases" else None
        if flow.get(term):
            found[term] = (_frozen(flow[term]), "flow")
        elif agreement and agreement.get(term):
            found[term] = (_frozen(agreement[term]), "agreement")
        else:
            found[term] = (empty, None)
    return found


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
