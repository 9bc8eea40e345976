"""Errors the registry reports to its callers: every one is the caller's to fix, none is a crash."""

from __future__ import annotations

from registry.auth.roles import Forbidden
from registry.bundle import BundleInvalid


class NotFound(LookupError):
    """An id names nothing of the expected type."""

    def __str__(self) -> str:
        return self.args[0]


class InvalidArgument(ValueError):
    """An argument is out of range or a change would break the registry's integrity."""


DomainError = (NotFound, InvalidArgument, BundleInvalid, Forbidden)
"""Errors that are the caller's to fix (subject-file errors, `SubjectsInvalid`, are a `ValueError`)."""
