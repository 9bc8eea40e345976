"""What the compliance features take from configuration, handed to them by the composition root
(`registry.settings.Settings.compliance()`): they never read the environment themselves."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from registry.compliance.transfers import Countries

DEFAULT_CONTROLLER = "(controller not configured: set DSA_REGISTRY_CONTROLLER)"
DEFAULT_SUBJECT_CATEGORIES = ("policyholders", "insured persons", "claimants", "beneficiaries")


@dataclass(frozen=True)
class Settings:
    countries: Countries
    """The EEA and the adequacy decisions, dated."""
    controller: str = DEFAULT_CONTROLLER
    """The controller's name and contact details, for the Art. 30 record (Art. 30(1)(a))."""
    subject_categories: tuple[str, ...] = DEFAULT_SUBJECT_CATEGORIES
    """Categories of data subjects for the Art. 30 record, for activities whose holdings and flows name none."""
    dpo: str | None = None
    """The data protection officer's name and contact details (Art. 30(1)(a), Art. 37(7))."""
    eu_representative: str | None = None
    """The representative in the Union of a controller established outside it (Art. 27, Art. 30(1)(a))."""
    document_language: str = "en"
    """The language of DSAR documents when a request names none (`registry.subjects.language`)."""

    @classmethod
    def packaged(cls, **values) -> Settings:
        """Settings with the packaged country lists (and `values`): what a caller that passes no
        settings gets (tests, scripts), never the environment's."""
        return cls(countries=_packaged_countries(), **values)


@functools.cache
def _packaged_countries() -> Countries:
    return Countries.load()
