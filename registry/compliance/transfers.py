"""Third countries and adequacy (GDPR Art. 44-45): the dated EEA and adequacy lists.

The lists ship as `countries.yaml` next to this module; a file of the same shape (the setting
`DSA_REGISTRY_COUNTRIES`) replaces them. A decision counts on the evaluation date when it was
adopted by then and has not lapsed (`until` is its last day); one that `requires: dpf_certified`
(the EU-US Data Privacy Framework) counts only for a recipient marked `dpf_certified: true`.

>>> countries = Countries.load()
>>> countries.in_eea("NO"), countries.decision_for("CH", date(2026, 11, 25), dpf_certified=False) is not None
(True, True)
>>> countries.decision_for("US", date(2026, 11, 25), dpf_certified=False) is None
True
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from registry.errors import InvalidArgument
from registry.model import Country

PACKAGED = Path(__file__).with_name("countries.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Decision(_Strict):
    country: Country
    decision: str
    adopted: date
    until: date | None = None
    requires: Literal["dpf_certified"] | None = None

    def in_force(self, on: date, dpf_certified: bool) -> bool:
        return (self.adopted <= on and (self.until is None or on <= self.until)
                and (self.requires is None or dpf_certified))


class _Eea(_Strict):
    since: date | None = None
    sources: list[str] = Field(default_factory=list)
    countries: list[Country] = Field(min_length=1)


class _Adequacy(_Strict):
    source: str | None = None
    decisions: list[Decision] = Field(default_factory=list)


class Countries(_Strict):
    reviewed: date | None = None
    eea: _Eea
    adequacy: _Adequacy

    @classmethod
    def load(cls, path: str | Path | None = None) -> Countries:
        """The lists in `path` (default: the packaged file). Raises `InvalidArgument` naming the
        file and the field when the file cannot be used."""
        path = Path(path or PACKAGED)
        try:
            return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except OSError as error:
            where = "the packaged countries file" if path == PACKAGED else "the countries file"
            raise InvalidArgument(f"cannot read {where} {path}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise InvalidArgument(f"{path}: invalid YAML: {error}") from None
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                                 for e in error.errors())
            raise InvalidArgument(f"{path}: {problems}") from None

    def in_eea(self, country: str) -> bool:
        return country in self.eea.countries

    def decision_for(self, country: str, on: date, dpf_certified: bool) -> Decision | None:
        """The adequacy decision covering a recipient in `country` on day `on`, if any."""
        return next((d for d in self.adequacy.decisions
                     if d.country == country and d.in_force(on, dpf_certified)), None)
