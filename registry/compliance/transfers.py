"""Third countries and adequacy (GDPR and UK GDPR Art. 44-45): each regime's territory and its
dated adequacy list.

The lists ship as `countries.yaml` next to this module: the EEA and the EU adequacy decisions,
and under `uk:` the UK and its adequacy regulations. A file of the same shape (the setting
`DSA_REGISTRY_COUNTRIES`) replaces them; one without a `uk:` section keeps the packaged UK
lists. A decision counts on the evaluation date when it was adopted by then and has not lapsed
(`until` is its last day); one that `requires` a certification (`dpf_certified`: the EU-US Data
Privacy Framework; `dpf_uk_extension`: its UK Extension) counts only for a recipient marked so.

>>> countries = Countries.load()
>>> countries.in_eea("NO"), countries.decision_for("CH", date(2026, 11, 25)) is not None
(True, True)
>>> countries.decision_for("US", date(2026, 11, 25)) is None
True
>>> countries.decision_for("US", date(2026, 11, 25), {"dpf_certified"}, regime="uk-gdpr") is None
True
>>> countries.decision_for("US", date(2026, 11, 25), {"dpf_uk_extension"}, regime="uk-gdpr").decision[:47]
'The Data Protection (Adequacy) (United States o'
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from registry.errors import InvalidArgument
from registry.model import Country

PACKAGED = Path(__file__).with_name("countries.yaml")
Certification = Literal["dpf_certified", "dpf_uk_extension"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Decision(_Strict):
    country: Country
    decision: str
    adopted: date
    until: date | None = None
    requires: Certification | None = None

    def in_force(self, on: date, certified: Collection[str] = ()) -> bool:
        return (self.adopted <= on and (self.until is None or on <= self.until)
                and (self.requires is None or self.requires in certified))


class _Territory(_Strict):
    since: date | None = None
    sources: list[str] = Field(default_factory=list)
    countries: list[Country] = Field(min_length=1)


class _Adequacy(_Strict):
    source: str | None = None
    decisions: list[Decision] = Field(default_factory=list)


class _Uk(_Strict):
    reviewed: date | None = None
    territory: _Territory
    adequacy: _Adequacy


class Countries(_Strict):
    reviewed: date | None = None
    eea: _Territory
    adequacy: _Adequacy
    uk: _Uk | None = None

    @classmethod
    def load(cls, path: str | Path | None = None) -> Countries:
        """The lists in `path` (default: the packaged file; a file without `uk:` keeps the packaged
        UK lists). Raises `InvalidArgument` naming the file and the field when the file cannot be used."""
        path = Path(path or PACKAGED)
        try:
            loaded = cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except OSError as error:
            where = "the packaged countries file" if path == PACKAGED else "the countries file"
            raise InvalidArgument(f"cannot read {where} {path}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise InvalidArgument(f"{path}: invalid YAML: {error}") from None
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                                 for e in error.errors())
            raise InvalidArgument(f"{path}: {problems}") from None
        if loaded.uk is None and path != PACKAGED:
            loaded = loaded.model_copy(update={"uk": cls.load().uk})
        return loaded

    def in_eea(self, country: str) -> bool:
        return country in self.eea.countries

    def territory(self, regime: str) -> frozenset[str]:
        """The countries where `regime` (`gdpr`, `uk-gdpr`) applies: the EEA, or the UK."""
        if regime == "gdpr":
            return frozenset(self.eea.countries)
        return frozenset(self.uk.territory.countries) if self.uk else frozenset({"GB"})

    def decision_for(self, country: str, on: date, certified: Collection[str] = (),
                     regime: str = "gdpr") -> Decision | None:
        """The adequacy decision of `regime` (EU decisions for `gdpr`, UK adequacy regulations for
        `uk-gdpr`) covering a recipient in `country` with the `certified` certifications on day `on`."""
        adequacy = self.adequacy if regime == "gdpr" else self.uk.adequacy if self.uk else _Adequacy()
        return next((d for d in adequacy.decisions if d.country == country and d.in_force(on, certified)), None)
