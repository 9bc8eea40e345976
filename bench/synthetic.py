"""A synthetic insurer group for benchmarks, deterministic for a given seed.

The group has subsidiaries with a system landscape each, in four tiers (front office, core
insurance, analytics, reporting). Most flows go one tier down within a subsidiary, some go back
(cycles), some out to the subsidiary's own brokers, reinsurers, TPAs and processors (brokers also
feed the front office; no party works for two subsidiaries, so a customer's data stays within
their subsidiary), and reporting systems report to group-level systems, which report to
regulators. Categories are a two-level tree; contact details travel almost everywhere, leaves
more thinly than their roots.
"""

from __future__ import annotations

import random

TIERS = 4


def synthetic_bundle(systems: int = 2_000, parties: int = 500, flows: int = 20_000, seed: int = 7,
                     subsidiaries: int = 100) -> dict:
    rng = random.Random(seed)
    roots = ["contact", "identity", "financial", "policy", "claims", "health", "vehicle", "behavioural"]
    categories = [{"id": root, "name": root.title(), "special": root == "health"} for root in roots]
    categories += [{"id": f"{root}.{i}", "name": f"{root.title()} {i}", "parent": root}
                   for root in roots for i in range(6)]
    category_ids = [c["id"] for c in categories]
    weights = [30 if c == "contact" else 2 if "." not in c else 1 for c in category_ids]
    purposes = [{"id": f"purpose-{i}", "name": f"Purpose {i}"} for i in range(10)]

    per = systems // subsidiaries
    landscape = {g: [[f"sys-{g:03d}-{k:02d}" for k in range(per) if k * TIERS // per == tier] for tier in range(TIERS)]
                 for g in range(1, subsidiaries)}
    group_systems = [f"sys-000-{k:02d}" for k in range(per)]  # subsidiary 0 is the group centre
    kinds = ["broker", "reinsurer", "tpa", "processor", "regulator"]
    party_kind = {f"party-{i:04d}": kinds[i % len(kinds)] for i in range(parties)}
    regulators = [p for p, kind in party_kind.items() if kind == "regulator"]
    others = [p for p, kind in party_kind.items() if kind != "regulator"]
    ties = {g: others[i::len(landscape)] for i, g in enumerate(sorted(landscape))}

    bundle_systems = [{
        "id": id_, "name": f"System {id_}", "country": rng.choice(["DE", "FR", "NL", "IE", "US", "GB"]),
        "holds": [{"category": c, "purposes": [rng.choice(purposes)["id"]], "legal_basis": "gdpr-6-1-b",
                   "retention": "P10Y"} for c in sorted(set(rng.choices(category_ids, weights, k=rng.randint(0, 2))))],
    } for id_ in group_systems + [s for tiers in landscape.values() for tier in tiers for s in tier]]
    bundle_parties = [{"id": id_, "name": f"Party {id_}", "kind": kind,
                       "country": rng.choice(["DE", "CH", "US", "BM", "GB"]), "role": "controller"}
                      for id_, kind in party_kind.items()]

    def edge(g: int) -> tuple[str, str]:
        tiers, own = landscape[g], ties[g]
        roll = rng.random()
        if roll < 0.05:
            return rng.choice([p for p in own if party_kind[p] == "broker"] or own), rng.choice(tiers[0])
        tier = rng.randrange(TIERS)
        source = rng.choice(tiers[tier])
        if roll < 0.75:
            return source, rng.choice(tiers[min(tier + 1, TIERS - 1)])
        if roll < 0.83:
            return source, rng.choice(tiers[rng.randrange(tier + 1)])
        if roll < 0.95:
            return source, rng.choice([p for p in own if party_kind[p] != "broker"] or own)
        return rng.choice(tiers[TIERS - 1]), rng.choice(group_systems)

    bundle_flows = []
    while len(bundle_flows) < flows:
        i = len(bundle_flows)
        if i % 50 == 0:
            source, target = rng.choice(group_systems), rng.choice(regulators)
        else:
            source, target = edge(rng.choice(sorted(landscape)))
        if source == target:
            continue
        bundle_flows.append({
            "id": f"flow-{i:06d}", "name": f"Flow {i}", "from": source, "to": target,
            "categories": sorted(set(rng.choices(category_ids, weights, k=rng.randint(1, 2)))),
            "purpose": rng.choice(purposes)["id"], "legal_basis": "gdpr-6-1-b"})
    return {"categories": categories, "purposes": purposes, "systems": bundle_systems, "parties": bundle_parties,
            "flows": bundle_flows}
