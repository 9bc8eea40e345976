"""The run's figures as Markdown tables (stdout) and as JSON records (`--json`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from bench.measure import Record

PEER = "falkordb"
LAYERS = ("http", "execute", "direct", "cypher")


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"


def _cell(entry: Record | None) -> str:
    return f"{_ms(entry['p50_ms'])} / {_ms(entry['p95_ms'])}" if entry else ""


def _ratio(ours: Record | None, peer: Record | None) -> str:
    if not ours or not peer or not peer["p50_ms"]:
        return ""
    return f"{ours['p50_ms'] / peer['p50_ms']:.2f}×"


def markdown(records: list[Record], *, title: str, skipped: dict[str, str] | None = None) -> str:
    latency = [r for r in records if "clients" not in r and r["question"] not in ("import", "subject-load")]
    index = {(r["question"], r["backend"], r["layer"]): r for r in latency}
    questions = list(dict.fromkeys(r["question"] for r in latency))
    backends = list(dict.fromkeys(r["backend"] for r in records))
    lines = [f"### {title}", "",
             "Latency in ms, p50 / p95; `÷ peer` is our p50 divided by FalkorDB's (direct call / schema.execute).",
             "", "| question | backend | items | HTTP | execute | direct | Cypher | ÷ peer | same answer |",
             "|---|---|---:|---:|---:|---:|---:|---:|:---:|"]
    for question in questions:
        peer = index.get((question, PEER, "cypher"))
        for backend in backends:
            cells = {layer: index.get((question, backend, layer)) for layer in LAYERS}
            present = [entry for entry in cells.values() if entry]
            if not present:
                continue
            ratio = "" if backend == PEER else " / ".join(
                filter(None, (_ratio(cells["direct"], peer), _ratio(cells["execute"], peer))))
            matches = {True: "yes", False: "NO"}.get(next((e.get("matches") for e in present
                                                           if "matches" in e), None), "")
            if any(e.get("note") for e in present):
                matches += f" ({next(e['note'] for e in present if e.get('note'))})"
            lines.append(f"| {question} | {backend} | {present[0]['items']:,} | " +
                         " | ".join(_cell(cells[layer]) for layer in LAYERS) + f" | {ratio} | {matches} |")
    loads = [r for r in records if r["question"] in ("import", "subject-load")]
    if loads:
        lines += ["", "| work | backend | seconds | items | items/s | resident MB |", "|---|---|---:|---:|---:|---:|"]
        for r in loads:
            lines.append(f"| {r['question']} | {r['backend']} | {r['p50_ms'] / 1000:,.2f} | {r['items']:,} | "
                         f"{r['per_s'] or 0:,} | {r['rss_mb']:,.0f} |")
    rates = [r for r in records if "clients" in r]
    if rates:
        lines += ["", "| question (HTTP) | backend | server processes | clients | requests/s | p50 ms | p95 ms |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for r in rates:
            lines.append(f"| {r['question']} | {r['backend']} | {r.get('workers', 1)} | {r['clients']} | "
                         f"{r['requests_per_s']:,.1f} | {_ms(r['p50_ms'])} | {_ms(r['p95_ms'])} |")
    memory = _memory(records)
    if memory:
        lines += ["", "| backend | process | peak resident MB seen |", "|---|---|---:|"]
        lines += [f"| {backend} | {process} | {mb:,.0f} |" for (backend, process), mb in memory.items()]
    for name, why in (skipped or {}).items():
        lines.append(f"\nSkipped {name}: {why}.")
    return "\n".join(lines) + "\n"


def _memory(records: Iterable[Record]) -> dict[tuple[str, str], float]:
    """The largest resident memory seen per backend and process."""
    seen: dict[tuple[str, str], float] = {}
    for r in records:
        process = {"http": "API server", "cypher": "redis-server + FalkorDB"}.get(r["layer"], "bench (direct, execute)")
        for key, mb in (((r["backend"], process), r["rss_mb"]), ((r["backend"], "Neo4j (JVM)"), r.get("server_rss_mb"))):
            if mb is not None:
                seen[key] = max(seen.get(key, 0.0), mb)
    return seen


def write_json(records: list[Record], path: Path) -> None:
    path.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
