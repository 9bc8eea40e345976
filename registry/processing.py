"""Whose processing it is: ours, as controller, or a controller's that we process for (GDPR Art. 28).

A data processing agreement (kind `dpa`) with a party whose role is `controller` makes the
insurer that party's processor: what the party supplies is processed on its behalf, only on its
instructions (Art. 28(3)(a), 29), for the agreement's purposes. The Art. 30 record keeps such
processing in its processor view (`registry.compliance.ropa`); a DSAR leaves it to the
controller, whom the processor assists (Art. 28(3)(e)); a breach of it is reported to the
controller (Art. 33(2)).

>>> dpa = {"id": "dpa-pk", "kind": "dpa", "parties": ["pk"], "purposes": ["pensions"]}
>>> found = acting_for([dpa], {"pk": "controller"}.get)
>>> found["pk"]["id"]
'dpa-pk'
>>> on_instructions(dpa, {"agreement": None, "purpose": "marketing"}, lambda p: (p,))
False
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from graph.store import Doc


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


def acting_for(agreements: Iterable[Doc], role: Callable[[str], str | None]) -> dict[str, Doc]:
    """`as_processor` by controller: party id -> the agreement (the first by id where there are several)."""
    agreements = list(agreements)
    by_id = {agreement["id"]: agreement for agreement in agreements}
    found: dict[str, Doc] = {}
    for id_, controllers in as_processor(agreements, role).items():
        for controller in controllers:
            found.setdefault(controller, by_id[id_])
    return found


def on_instructions(agreement: Doc, flow: Doc, covering: Callable[[str], Iterable[str]]) -> bool:
    """Whether `flow` may carry what we hold under `agreement` as processor: a flow under the
    agreement itself, or one for a purpose it names (`covering` gives a purpose and its broader
    ones). Other flows are our own processing, which such data does not take (Art. 28(10), 29)."""
    if flow.get("agreement") == agreement["id"]:
        return True
    return not set(agreement.get("purposes", ())).isdisjoint(covering(flow["purpose"]))
