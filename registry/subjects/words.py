"""How registry codes read in a letter to a customer: legal bases, safeguards, durations, retention,
party kinds and consent states, in the reader's language (`registry.subjects.language`).

>>> from datetime import date
>>> from registry.subjects.language import language
>>> words = Words(language("en-GB"))
>>> words.duration("P10Y"), Words(language("de")).duration("P1Y6M")
('10 years', '1 Jahr und 6 Monate')
>>> words.retention("P10Y", "end", None, None)
'10 years after our relationship with you ends'
>>> words.retention("P6Y", "collection", date(2024, 1, 15), date(2030, 1, 15))
'6 years from collection on 15 January 2024, that is until 15 January 2030'
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

import isodate
from babel.dates import format_date, format_datetime
from babel.lists import format_list
from babel.units import format_unit

from registry.subjects.language import Language

_GDPR_BASIS = re.compile(r"^gdpr-(6)-1-([a-f])$|^gdpr-(9)-2-([a-j])$")


def _(message: str) -> str:
    """Marks a message for the catalogue (Babel's extractor finds `_`); translated where used."""
    return message


_BASES = {
    "gdpr-6-1-a": _("Consent"), "gdpr-6-1-b": _("Contract"), "gdpr-6-1-c": _("Legal obligation"),
    "gdpr-6-1-d": _("Vital interests"), "gdpr-6-1-e": _("Public task"), "gdpr-6-1-f": _("Legitimate interests"),
    "gdpr-9-2-a": _("Explicit consent"), "gdpr-9-2-b": _("Employment and social security law"),
    "gdpr-9-2-c": _("Vital interests (incapacity)"), "gdpr-9-2-d": _("Not-for-profit body"),
    "gdpr-9-2-e": _("Made public by the data subject"), "gdpr-9-2-f": _("Legal claims"),
    "gdpr-9-2-g": _("Substantial public interest"), "gdpr-9-2-h": _("Health or social care"),
    "gdpr-9-2-i": _("Public health"), "gdpr-9-2-j": _("Archiving, research, statistics"),
    "gdpr-10": _("Criminal offence data under official authority or authorised by law"),
}
"""The built-in GDPR bases' names, as message ids (`registry.legal_bases` gives the same names)."""


SAFEGUARDS = {
    "adequacy": _("an adequacy decision of the European Commission (GDPR Art. 45)"),
    "scc": _("the standard data protection clauses adopted by the European Commission (GDPR Art. 46(2)(c))"),
    "bcr": _("binding corporate rules approved by a supervisory authority (GDPR Art. 47)"),
    "derogation": _("a derogation for a specific situation (GDPR Art. 49)"),
}
KINDS = {
    "reinsurer": _("reinsurer"), "regulator": _("supervisory authority"), "broker": _("insurance broker"),
    "tpa": _("claims administrator"), "processor": _("service provider acting on our behalf"),
    "affiliate": _("company of our group"), "auditor": _("auditor"), "law-enforcement": _("law enforcement authority"),
    "other": _("other organisation"),
}
RIGHTS = {
    "rectification": (_("Rectification"), "16", _("You may ask us to correct inaccurate personal data about you and "
                                                  "to complete incomplete data.")),
    "erasure": (_("Erasure"), "17", _("You may ask us to erase your personal data where it is no longer needed, "
                                      "where you withdraw your consent or object, or where it was processed "
                                      "unlawfully; we keep what the law obliges us to keep.")),
    "restriction": (_("Restriction of processing"), "18", _(
        "You may ask us to restrict the processing of your data while its accuracy or your objection is being "
        "checked, where the processing is unlawful and you want restriction instead of erasure, or where we no "
        "longer need the data but you need it to establish, exercise or defend legal claims.")),
    "portability": (_("Data portability"), "20", _("Where we process data you provided on the basis of your consent "
                                                   "or of a contract with you, by automated means, you may receive "
                                                   "it in a structured, commonly used and machine-readable format "
                                                   "and have it sent to another controller.")),
    "objection": (_("Objection"), "21", _("You may object at any time to processing based on legitimate interests "
                                          "or a public task, for reasons arising from your particular situation, "
                                          "and to direct marketing without giving reasons.")),
    "withdraw-consent": (_("Withdrawing consent"), "7(3)", _("Where processing rests on your consent you may "
                                                             "withdraw it at any time; this does not affect the "
                                                             "lawfulness of processing before the withdrawal.")),
    "human-review": (_("Human review of automated decisions"), "22(3)", _(
        "Where a decision about you is taken by automated means alone, you may ask for a person to review it, "
        "express your point of view and contest the decision.")),
    "complaint": (_("Complaint to a supervisory authority"), "77", _(
        "You may lodge a complaint with a supervisory authority, in particular in the member state of your "
        "habitual residence, place of work or of the alleged infringement.")),
}
"""Each right a report explains (`registry.subjects.dsar.RIGHTS`): its title, GDPR article and text."""
CONSENT_STATES = {"granted": _("given"), "withdrawn": _("withdrawn"), "expired": _("expired")}
_UNITS = (("years", "duration-year"), ("months", "duration-month"), ("weeks", "duration-week"),
          ("days", "duration-day"))


class Words:
    """Registry codes in words, in one language."""

    def __init__(self, lang: Language):
        self.lang = lang
        self.locale = lang.locale
        self.gettext = lang.translations.gettext

    def date(self, day: date | datetime | None) -> str:
        if day is None:
            return "—"
        if isinstance(day, datetime):
            day = day.astimezone(timezone.utc).date()
        return format_date(day, "long", locale=self.locale)

    def moment(self, at: datetime) -> str:
        return format_datetime(at, "medium", tzinfo=timezone.utc, locale=self.locale) + " UTC"

    def list(self, items: list[str]) -> str:
        return format_list(items, locale=self.locale) if items else "—"

    def country(self, code: str) -> str:
        return self.locale.territories.get(code, code)

    def duration(self, iso: str) -> str:
        """An ISO 8601 duration in words: `P10Y` is "10 years", `P1Y6M` "1 year and 6 months"."""
        parsed = isodate.parse_duration(iso)
        parts = {"years": getattr(parsed, "years", 0), "months": getattr(parsed, "months", 0)}
        days = parsed.days if hasattr(parsed, "days") else parsed.tdelta.days
        parts["weeks"], parts["days"] = (days // 7, 0) if days and days % 7 == 0 else (0, days)
        words = [format_unit(int(parts[name]), unit, length="long", locale=self.locale)
                 for name, unit in _UNITS if parts[name]]
        return self.list(words) if words else iso

    def retention(self, iso: str | None, starts_from: str, start: date | None, until: date | None) -> str:
        """How long data is kept, from the event it runs from (GDPR Art. 15(1)(d))."""
        if not iso:
            return self.gettext("not recorded")
        values = {"duration": self.duration(iso), "start": self.date(start), "until": self.date(until)}
        if starts_from == "end":
            if start is None:
                return self.gettext("%(duration)s after our relationship with you ends") % values
            return self.gettext("%(duration)s after our relationship with you ended on %(start)s, that is until "
                                "%(until)s") % values
        if start is None:
            return self.gettext("%(duration)s from collection") % values
        return self.gettext("%(duration)s from collection on %(start)s, that is until %(until)s") % values

    def basis(self, id_: str | None, name: str | None) -> str:
        """A legal basis as "Contract (GDPR Art. 6(1)(b))"; another regime's basis by its name."""
        if not id_:
            return "—"
        match = _GDPR_BASIS.match(id_)
        if id_ in _BASES:
            if match:
                article, letter = (match[1], match[2]) if match[1] else (match[3], match[4])
                paragraph = "1" if article == "6" else "2"
                reference = self.gettext("GDPR Art. %(article)s(%(paragraph)s)(%(letter)s)") % {
                    "article": article, "paragraph": paragraph, "letter": letter}
            else:
                reference = self.article("10")
            return f"{self.gettext(_BASES[id_])} ({reference})"
        return name or id_

    def article(self, number: str) -> str:
        """A GDPR article as the reader cites it: "GDPR Art. 20", "Art. 20 DSGVO"; with a paragraph,
        "GDPR Art. 7(3)", "Art. 7 Abs. 3 DSGVO"."""
        article, _, paragraph = number.rstrip(")").partition("(")
        if paragraph:
            return self.gettext("GDPR Art. %(article)s(%(paragraph)s)") % {"article": article, "paragraph": paragraph}
        return self.gettext("GDPR Art. %(article)s") % {"article": article}

    def right(self, right: str) -> tuple[str, str, str]:
        """(title, legal reference, text) of one of `RIGHTS`."""
        title, article, text = RIGHTS[right]
        return self.gettext(title), self.article(article), self.gettext(text)

    def safeguard(self, mechanism: str | None) -> str | None:
        return self.gettext(SAFEGUARDS[mechanism]) if mechanism in SAFEGUARDS else mechanism

    def kind(self, kind: str | None) -> str:
        return self.gettext(KINDS.get(kind or "other", KINDS["other"]))

    def consent(self, status: str) -> str:
        return self.gettext(CONSENT_STATES.get(status, status))
