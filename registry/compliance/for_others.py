"""What systems of ours hold as a controller's processor (`registry.processing`), for a breach
(`registry.compliance.impact`): the controller must be told (GDPR Art. 33(2)), and what a system
holds only for others is not ours to notify to the supervisory authority or the people concerned.
"""

from __future__ import annotations

from dataclasses import dataclass

from graph.store import Doc
from registry import processing
from registry.compliance.facts import Facts

KEPT = "for-others"

@dataclass
class ForOthers:
    """What systems of ours hold as a controller's processor (`registry.processing`): by system,
    by controller, the categories; the flows that brought it; the law that governs it, by controller."""

    held: dict[str, dict[str, set[str]]]
    flows: set[str]
    regimes: dict[str, str]

    def only(self, facts: Facts, node: str) -> set[str]:
        """The categories `node` holds for others only: nothing overlapping them is declared there
        or arrives there other than on a controller's behalf."""
        theirs = set().union(*self.held.get(node, {}).values())
        if not theirs:
            return set()
        ours = set(facts.declared.get(node, ())) | {c for flow in facts.live if flow["to"] == node
                                                     and flow["id"] not in self.flows for c in flow["categories"]}
        return {c for c in theirs if not facts.tree.overlaps(c, ours)}


def for_others(facts: Facts) -> ForOthers:
    """What each system holds for a controller we process for: what the controller supplies it
    under such an agreement, and what flows on that controller's instructions take on from there
    (`registry.processing.on_instructions`) to other systems of ours. A function of the facts
    alone, so kept with them (`Facts.kept`)."""
    kept = facts.kept.get(KEPT)
    if kept is not None:
        return kept
    supplied = processing.supplied_under(facts.live, facts.as_processor, facts.agreements)
    outgoing: dict[str, list[Doc]] = {}
    todo = []
    for flow in facts.live:
        outgoing.setdefault(flow["from"], []).append(flow)
        agreements = supplied.get((flow["from"], flow["to"]), ())
        if any(flow.get("agreement") == agreement["id"] for agreement in agreements):
            todo.append((flow["to"], flow["from"], agreements, set(flow["categories"]), flow))
    found = ForOthers({}, set(), {})
    covering = facts.purpose_tree.ancestors
    while todo:
        system, controller, agreements, categories, flow = todo.pop()
        found.flows.add(flow["id"])
        if (regime := facts.flow_regime(flow)) is not None:
            found.regimes.setdefault(controller, regime[0])
        held = found.held.setdefault(system, {}).setdefault(controller, set())
        new = categories - held
        if not new:
            continue
        held |= new
        for onward in outgoing.get(system, ()):
            carried = {c for c in onward["categories"] if facts.tree.overlaps(c, new)}
            if carried and onward["to"] in facts.systems and processing.on_instructions(
                    agreements, onward, lambda purpose: covering.get(purpose, (purpose,))):
                todo.append((onward["to"], controller, agreements, carried, onward))
    facts.kept[KEPT] = found
    return found
