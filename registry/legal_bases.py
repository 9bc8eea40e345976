"""The built-in legal bases: GDPR Art. 6(1) lawful bases, Art. 9(2) conditions, Art. 10, GLBA,
and the NAIC #672 authorisation for health information.

Bundles may add bases of their own (a national law, say) but never redefine these ids.

`naic-672-authorisation` has the kind `glba`: the NAIC Privacy of Consumer Financial and Health
Information Regulation (#672) is how the states implement GLBA Title V for insurers (15 U.S.C.
6805(a)(6) leaves its enforcement to the state insurance authorities), and its health-information
article is the part they added on top. The kind names that US regime, not one section of it.

A basis flagged `consent` is one the data subject gives and may take back (opt-in): without it
standing, what rests on it must stop (GDPR Art. 7(3); NAIC #672 Art. V, an authorisation is
revocable). The GLBA notice and opt-out (`glba-6802-b`) is not one: data flows until the
consumer objects. `consent_relied_on` is the one place that says which processing rests on a
consent, for DSARs (`registry.subjects.dsar`) and the consent rule (`registry.compliance.consent`)
alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from registry.model import LegalBasis

_ART_6 = {
    "a": ("Consent", "the data subject has given consent to the processing for one or more specific purposes"),
    "b": ("Contract", "processing is necessary for the performance of a contract with the data subject or to take steps at their request before entering into one"),
    "c": ("Legal obligation", "processing is necessary for compliance with a legal obligation to which the controller is subject"),
    "d": ("Vital interests", "processing is necessary to protect the vital interests of the data subject or of another natural person"),
    "e": ("Public task", "processing is necessary for a task carried out in the public interest or in the exercise of official authority"),
    "f": ("Legitimate interests", "processing is necessary for the legitimate interests of the controller or a third party, not overridden by the data subject's interests or rights"),
}
_ART_9 = {
    "a": ("Explicit consent", "the data subject has given explicit consent for one or more specified purposes"),
    "b": ("Employment and social security law", "necessary for obligations and rights in employment, social security and social protection law"),
    "c": ("Vital interests (incapacity)", "necessary to protect vital interests where the data subject is incapable of giving consent"),
    "d": ("Not-for-profit body", "legitimate activities of a foundation, association or other not-for-profit body, for its members"),
    "e": ("Made public by the data subject", "the data have manifestly been made public by the data subject"),
    "f": ("Legal claims", "necessary for the establishment, exercise or defence of legal claims"),
    "g": ("Substantial public interest", "necessary for reasons of substantial public interest on the basis of Union or Member State law"),
    "h": ("Health or social care", "necessary for preventive or occupational medicine, medical diagnosis, health or social care or treatment"),
    "i": ("Public health", "necessary for reasons of public interest in the area of public health"),
    "j": ("Archiving, research, statistics", "necessary for archiving in the public interest, scientific or historical research or statistical purposes"),
}
_GLBA_EXCEPTIONS = {
    1: "as necessary to effect, administer or enforce a transaction requested or authorised by the consumer, including servicing, processing or maintaining the consumer's insurance product",
    2: "with the consent or at the direction of the consumer",
    3: "to protect confidentiality or security, to protect against or prevent actual or potential fraud, for institutional risk control, or to persons holding a legal or beneficial interest",
    4: "to insurance rate advisory organisations, guaranty funds or agencies, rating agencies, persons assessing compliance with industry standards, and the institution's attorneys, accountants and auditors",
    5: "to the extent permitted or required by other law, to law enforcement agencies, state insurance authorities and other regulators, self-regulatory organisations, or for public safety investigations",
    6: "to a consumer reporting agency under the Fair Credit Reporting Act, or from a consumer report",
    7: "in connection with a proposed or actual sale, merger, transfer or exchange of all or part of a business",
    8: "to comply with federal, state or local law, an investigation or subpoena, or judicial process, or regulators with jurisdiction",
}


def _builtins() -> list[LegalBasis]:
    bases = [
        LegalBasis(id=f"gdpr-6-1-{letter}", name=name, kind="lawful-basis",
                   reference=f"GDPR Art. 6(1)({letter}): {text}", consent=letter == "a")
        for letter, (name, text) in _ART_6.items()
    ]
    bases += [
        LegalBasis(id=f"gdpr-9-2-{letter}", name=name, kind="special-condition",
                   reference=f"GDPR Art. 9(2)({letter}): {text}", consent=letter == "a")
        for letter, (name, text) in _ART_9.items()
    ]
    bases.append(LegalBasis(
        id="gdpr-10", name="Criminal offence data under official authority or authorised by law",
        kind="special-condition",
        reference="GDPR Art. 10: processing of personal data relating to criminal convictions and offences "
                  "only under the control of official authority or when authorised by Union or Member State law"))
    bases.append(LegalBasis(
        id="glba-6802-b", name="GLBA notice and opt-out given", kind="glba",
        reference="15 U.S.C. 6802(b): disclosure of nonpublic personal information to a nonaffiliated third "
                  "party after notice and an opportunity to opt out that the consumer did not exercise"))
    bases += [
        LegalBasis(id=f"glba-6802-e-{n}", name=f"GLBA exception 6802(e)({n})", kind="glba",
                   reference=f"15 U.S.C. 6802(e)({n}): {text}")
        for n, text in _GLBA_EXCEPTIONS.items()
    ]
    bases.append(LegalBasis(
        id="naic-672-authorisation", name="NAIC #672 authorisation to disclose health information", kind="glba",
        consent=True,
        reference="NAIC Privacy of Consumer Financial and Health Information Regulation (Model #672) Art. V: "
                  "disclosure of nonpublic personal health information with the consumer's authorisation, written "
                  "or electronic, signed and dated, naming the information, the recipients and the purpose, "
                  "revocable and valid for at most 24 months (see also NAIC Insurance Information and Privacy "
                  "Protection Model Act #670 §§6, 13)"))
    return bases


BUILTIN_LEGAL_BASES: dict[str, LegalBasis] = {basis.id: basis for basis in _builtins()}


Bases = Mapping[str, Mapping[str, Any]]
"""Legal bases by id, each with at least its `kind` and, when set, its `consent` flag (stored
documents or `LegalBasis` dumps)."""

CRIMINAL_OFFENCE = "gdpr-10"


def builtin_bases() -> dict[str, dict[str, Any]]:
    """The built-in bases as documents, by id (what `consent_relied_on` needs when no store is at hand)."""
    return {id_: basis.model_dump() for id_, basis in BUILTIN_LEGAL_BASES.items()}


def kind(bases: Bases, basis: str | None) -> str | None:
    """The kind of `basis` (`lawful-basis`, `special-condition`, `glba`), None for none or an unknown id."""
    found = bases.get(basis) if basis else None
    return found["kind"] if found else None


def art_6_basis(bases: Bases, basis: str | None, additional: Iterable[str]) -> str | None:
    """The GDPR Art. 6(1) basis among those recorded: the legal basis when it is of kind
    `lawful-basis` (an Art. 9 condition in the basis slot counts too, for `basis-kind-mismatch`
    reports it), else the first additional basis of kind `lawful-basis`; None when there is none."""
    if kind(bases, basis) in ("lawful-basis", "special-condition"):
        return basis
    return next((b for b in additional if kind(bases, b) == "lawful-basis"), None)


def art_9_condition(bases: Bases, condition: str | None, additional: Iterable[str]) -> str | None:
    """The GDPR Art. 9(2) condition among those recorded: the condition, else an additional basis,
    of kind `special-condition` other than `gdpr-10` (Art. 10); None when there is none."""
    return next((c for c in (condition, *additional)
                 if kind(bases, c) == "special-condition" and c != CRIMINAL_OFFENCE), None)


def consent_relied_on(bases: Bases, basis: str | None, condition: str | None, additional: Iterable[str], *,
                      special: bool, health: bool) -> str | None:
    """The consent that processing data of one category on the recorded terms rests on, or None:

    - the GDPR Art. 6(1) basis (`art_6_basis`) when it is a consent (GDPR Art. 6(1)(a), 7(3));
    - for special-category data (`special`), the Art. 9(2) condition (`art_9_condition`) when it is
      explicit consent (GDPR Art. 9(2)(a)), whatever the Art. 6 basis;
    - for health information (`health`), a US basis (kind `glba`) among all recorded that is a
      consent: the NAIC #672 authorisation (Model #672 Art. V), in whichever slot it is recorded.

    A basis is a consent when it is flagged `consent` (`bases`: by id, as `Bases` says); an unknown
    id is not one.

    >>> bases = builtin_bases()
    >>> consent_relied_on(bases, "gdpr-6-1-b", "gdpr-9-2-a", (), special=True, health=True)
    'gdpr-9-2-a'
    >>> consent_relied_on(bases, "gdpr-6-1-b", "gdpr-9-2-a", (), special=False, health=False) is None
    True
    >>> consent_relied_on(bases, "glba-6802-e-1", "naic-672-authorisation", (), special=True, health=True)
    'naic-672-authorisation'
    """
    def consent(basis_: str | None) -> bool:
        found = bases.get(basis_) if basis_ else None
        return bool(found and found.get("consent"))

    additional = tuple(additional)
    found = art_6_basis(bases, basis, additional)
    if consent(found):
        return found
    if special and consent(found := art_9_condition(bases, condition, additional)):
        return found
    if health:
        return next((b for b in (basis, condition, *additional) if kind(bases, b) == "glba" and consent(b)), None)
    return None
