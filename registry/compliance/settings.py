"""What the compliance features take from configuration, read in this one place.

- `DSA_REGISTRY_COUNTRIES`: a YAML file replacing the packaged EEA and adequacy lists
  (`registry/compliance/countries.yaml`, same shape).
- `DSA_REGISTRY_CONTROLLER`: the controller's name and contact details for the Art. 30 record.
- `DSA_REGISTRY_SUBJECT_CATEGORIES`: comma-separated categories of data subjects for the Art. 30
  record, until the registry records data subjects (default: policyholders, insured persons,
  claimants, beneficiaries).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass

from registry.compliance.transfers import ENV as COUNTRIES_ENV
from registry.compliance.transfers import Countries

CONTROLLER_ENV = "DSA_REGISTRY_CONTROLLER"
SUBJECT_CATEGORIES_ENV = "DSA_REGISTRY_SUBJECT_CATEGORIES"
DEFAULT_CONTROLLER = "(controller not configured: set DSA_REGISTRY_CONTROLLER)"
DEFAULT_SUBJECT_CATEGORIES = ("policyholders", "insured persons", "claimants", "beneficiaries")


@dataclass(frozen=True)
class Settings:
    countries: Countries
    controller: str = DEFAULT_CONTROLLER
    subject_categories: tuple[str, ...] = DEFAULT_SUBJECT_CATEGORIES

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        listed = tuple(part.strip() for part in environ.get(SUBJECT_CATEGORIES_ENV, "").split(",") if part.strip())
        return cls(countries=Countries.load(environ.get(COUNTRIES_ENV) or None),
                   controller=environ.get(CONTROLLER_ENV, "").strip() or DEFAULT_CONTROLLER,
                   subject_categories=listed or DEFAULT_SUBJECT_CATEGORIES)


@functools.cache
def current() -> Settings:
    """This process's settings, read from the environment once."""
    return Settings.from_environment()
