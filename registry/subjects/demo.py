"""The demo's data subjects (`registry/demo/subjects.jsonl`): customers of the demo insurer with
records, consents (one withdrawn, one expired under the marketing purpose's validity, one given
again), an ended contract, a recorded fraud referral and a large-loss file to a reinsurer, so that
DSARs, erasure plans and breach counts can be tried at once. The file has no lookup keys, so it
loads without a secret."""

from __future__ import annotations

from importlib.resources import as_file, files

from registry.auth.roles import Principal
from registry.subjects.service import SubjectService

DEMO_SUBJECTS = files("registry") / "demo" / "subjects.jsonl"


def load_demo_subjects(service: SubjectService, principal: Principal) -> int:
    """Load the demo's subjects (after the demo insurer); returns how many."""
    with as_file(DEMO_SUBJECTS) as path:
        return service.load(path, principal=principal)
