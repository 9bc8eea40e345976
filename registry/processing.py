"""Whose processing it is: ours, as controller, or a controller's that we process for (GDPR Art. 28).

A data processing agreement (kind `dpa`) with a party whose role is `controller` makes the
insurer that party's processor: what the party supplies to a system of ours under it (a flow
from the party under the agreement; for a DSAR one that has carried data by its day, for a
breach one in force) is processed on its behalf, only on its instructions
(Art. 28(3)(a), 29): along flows under the agreement, or for one of its purposes. Where the
registry records that such data goes on to other processing, that processing is ours, as
controller (Art. 28(10)).

The Art. 30 record keeps the flows under such agreements in its processor view
(`registry.compliance.ropa`); a DSAR names the data held on a controller's behalf apart and
leaves the request for it to the controller, whom the processor assists (Art. 28(3)(e)); a
breach of it is reported to the controller (Art. 33(2)), whose duty the notification of the
supervisory authority and of the people concerned then is.

>>> dpa = {"id": "dpa-pk", "kind": "dpa", "parties": ["pk"], "purposes": ["pensions"]}
>>> agreements = as_processor([dpa], {"pk": "controller"}.get)
>>> agreements
{'dpa-pk': ('pk',)}
>>> feed = {"id": "in", "from": "pk", "to": "admin", "agreement": "dpa-pk", "purpose": "pensions"}
>>> list(supplied_under([feed], agreements, {"dpa-pk": dpa}))
[('pk', 'admin')]
>>> on_instructions([dpa], {"agreement": None, "purpose": "marketing"}, lambda p: (p,))
False
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from graph.store import Doc

Supplied = Mapping[tuple[str, str], tuple[Doc, ...]]
"""(controller, system) -> the agreements under which the controller supplies the system, as
our controller's processor (`supplied_under`)."""


def as_processor(agreements: Iterable[Doc], role: Callable[[str], str | None]) -> dict[str, tuple[str, ...]]:
    """The agreements under which we are a processor, by id, each with the controllers it names:
    those of kind `dpa` with a party whose `role` (a lookup by party id) is `controller`."""
    found = {}
    for agreement in agreements:
        if agreement.get("kind") == "dpa":
            controllers = tuple(p for p in agreement.get("parties", ()) if role(p) == "controller")
            if controllers:
                found[agreement["id"]] = controllers
    return dict(sorted(found.items()))


def supplied_under(flows: Iterable[Doc], agreements: Mapping[str, tuple[str, ...]],
                   documents: Mapping[str, Doc]) -> dict[tuple[str, str], tuple[Doc, ...]]:
    """Which controller supplies which system of ours as its processor: (controller, system) ->
    the agreements (`documents` by id) of `flows` from a controller of one of `agreements`
    (`as_processor`) under that agreement."""
    found: dict[tuple[str, str], dict[str, Doc]] = {}
    for flow in flows:
        agreement = flow.get("agreement")
        if agreement in agreements and flow["from"] in agreements[agreement] and agreement in documents:
            found.setdefault((flow["from"], flow["to"]), {})[agreement] = documents[agreement]
    return {key: tuple(by_id[id_] for id_ in sorted(by_id)) for key, by_id in sorted(found.items())}


def on_instructions(agreements: Iterable[Doc], flow: Doc, covering: Callable[[str], Iterable[str]]) -> bool:
    """Whether `flow` takes data we hold under one of `agreements` as processor on the controller's
    instructions: a flow under the agreement itself, or one for a purpose it names (`covering`
    gives a purpose and its broader ones). What other flows take is our own processing."""
    for agreement in agreements:
        if flow.get("agreement") == agreement["id"] or \
                not set(agreement.get("purposes", ())).isdisjoint(covering(flow["purpose"])):
            return True
    return False
