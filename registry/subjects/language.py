"""The languages DSAR documents are written in, and their gettext catalogues (Babel).

The catalogues are the `.po` files under `registry/subjects/locale/`; they are compiled in memory
the first time a language is used (Babel's `read_po` and `write_mo`), so there is no build step
and no compiled file to forget. English is the messages' own language.

A language is asked for with a tag: `en` or `de`, optionally with a region (`en-GB`, `de-AT`,
`de_CH`) that chooses the form of dates and country names.

>>> language("de-AT").locale, language("en").translations.gettext("Your rights")
(Locale('de', territory='AT'), 'Your rights')
>>> language("de").translations.gettext("Your rights")
'Ihre Rechte'
>>> language("fr")
Traceback (most recent call last):
...
registry.errors.InvalidArgument: lang: 'fr' is not supported; use en or de, optionally with a region (en-GB, de-AT)
"""

from __future__ import annotations

import functools
import gettext
import io
from dataclasses import dataclass
from importlib.resources import files

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from registry.errors import InvalidArgument

LANGUAGES = ("en", "de")
"""The languages documents are written in."""


@dataclass(frozen=True)
class Language:
    tag: str
    """The tag as asked for, normalised (`de_AT`)."""
    locale: Locale
    """Babel's locale: the form of dates, numbers, durations and country names."""
    translations: gettext.NullTranslations


def language(tag: str) -> Language:
    """The language `tag` names; `InvalidArgument` (one line) for one we do not write in."""
    try:
        locale = Locale.parse(tag.strip().replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        locale = None
    if locale is None or locale.language not in LANGUAGES:
        raise InvalidArgument(f"lang: {tag!r} is not supported; use {' or '.join(LANGUAGES)}, optionally with a "
                              "region (en-GB, de-AT)")
    return _language(str(locale))


@functools.cache
def _language(tag: str) -> Language:
    locale = Locale.parse(tag)
    return Language(tag, locale, catalogue(locale.language))


@functools.cache
def catalogue(language_: str) -> gettext.NullTranslations:
    """The compiled catalogue of `language_` (English: the messages as written)."""
    if language_ == "en":
        return gettext.NullTranslations()
    source = files("registry.subjects") / "locale" / language_ / "LC_MESSAGES" / "messages.po"
    with source.open("rb") as po:
        compiled = io.BytesIO()
        write_mo(compiled, read_po(po, locale=language_))
    compiled.seek(0)
    return Translations(compiled)
