"""What the registry accepts, in sizes and ranges: every input (bundle, GraphQL input or argument,
command-line option, subject file) is held to these, so that nothing stored can later break a
computation (a retention that overflows the calendar) or make a document grow without bound.

- ids: 1 to `MAX_ID` printable characters: no control characters (NUL, tab, line breaks), no
  format characters (bidi overrides and isolates, zero-width characters) and no separators other
  than the ASCII space, so that an id cannot hide or forge text where it is shown;
- names: at most `MAX_NAME` characters; descriptions, notices and other free text at most `MAX_TEXT`;
- dates from `EARLIEST` to `LATEST`; date-times within the same days;
- durations (retention periods) from zero to `MAX_RETENTION_YEARS` years.

>>> printable("claims\\u202eexe")
Traceback (most recent call last):
ValueError: must be printable: character 7 is U+202E (RIGHT-TO-LEFT OVERRIDE), a control or format character
>>> duration("P20000Y")
Traceback (most recent call last):
ValueError: 'P20000Y' is longer than the longest retention allowed, 200 years (P200Y)
>>> day(date(9999, 12, 31))
Traceback (most recent call last):
ValueError: 9999-12-31 is out of range: dates from 1900-01-01 to 2999-12-31
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta, timezone

import isodate

__all__ = ["EARLIEST", "LATEST", "MAX_ID", "MAX_NAME", "MAX_RETENTION_YEARS", "MAX_TEXT", "RANGE", "day", "duration",
           "moment", "printable", "visible"]

MAX_ID = 256
MAX_NAME = 1_000
MAX_TEXT = 20_000
EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)
RANGE = f"dates from {EARLIEST} to {LATEST}"
MAX_RETENTION_YEARS = 200
_START = date(2000, 1, 1)
_LONGEST = _START.replace(year=_START.year + MAX_RETENTION_YEARS)


def printable(text: str) -> str:
    """`text` when every character of it is printable (see the module docstring), else ValueError
    naming the first that is not, by position (from 1) and Unicode name."""
    if text.isprintable():
        return text
    position, char = next((i, c) for i, c in enumerate(text, 1) if not c.isprintable())
    name = unicodedata.name(char, "") or {"\0": "NUL", "\t": "TAB", "\n": "LINE FEED",
                                          "\r": "CARRIAGE RETURN"}.get(char, "a control character")
    return _refuse(f"must be printable: character {position} is U+{ord(char):04X} ({name}), a control or format "
                   "character")


def visible(text: str) -> str:
    """`text` with every character that is not printable shown as its escape (`\\n`, `\\x00`,
    `\\u202e`), for plain-text and SARIF output: names and descriptions may hold line breaks, and
    data stored before ids were checked anything, but neither may break a line, hide text or
    reorder it where it is shown.

    >>> print(visible("line\\nforged \\u202eexe"))
    line\\nforged \\u202eexe
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def day(value: date) -> date:
    """`value` when it is between `EARLIEST` and `LATEST`, else ValueError giving the range."""
    if not EARLIEST <= value <= LATEST:
        _refuse(f"{value} is out of range: {RANGE}")
    return value


def moment(value: datetime) -> datetime:
    """`value` (with its UTC offset) when its day in UTC is in range (`day`), else ValueError."""
    try:
        utc = value.astimezone(timezone.utc) if value.utcoffset() is not None else value
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc.date() <= LATEST:
        _refuse(f"{value.isoformat()} is out of range: {RANGE}")
    return value


def duration(text: str) -> str:
    """`text` when it is an ISO 8601 duration from zero to `MAX_RETENTION_YEARS` years, else ValueError."""
    try:
        parsed = isodate.parse_duration(text)
    except OverflowError:
        parsed = None
    except (isodate.ISO8601Error, ValueError):
        _refuse(f"{text!r} is not an ISO 8601 duration such as P10Y or P6M")
    try:
        end = _START + parsed if parsed is not None else None
    except (OverflowError, ValueError):
        end = None
    if end is not None and end < _START:
        _refuse(f"{text!r} is negative; a retention period is zero or more")
    if end is None or end > _LONGEST:
        _refuse(f"{text!r} is longer than the longest retention allowed, {MAX_RETENTION_YEARS} years "
                f"(P{MAX_RETENTION_YEARS}Y)")
    return text


def validity(text: str) -> str:
    """`text` when it is a `duration` of at least a day, else ValueError: a consent counts or does
    not on a whole day (UTC), so a shorter validity (`P0D`, `PT5M`) would never let it count."""
    duration(text)
    if _START + isodate.parse_duration(text) < _START + timedelta(days=1):
        _refuse(f"{text!r} is shorter than a day; a consent counts for whole days (e.g. P24M)")
    return text


def _refuse(message: str):
    raise ValueError(message)

