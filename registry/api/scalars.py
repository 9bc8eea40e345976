"""The `Date` and `DateTime` scalars, refusing values outside the registry's range of dates
(`registry.bounds`) as they are read, with the usual GraphQL input error: a date far in the
future or the past never reaches a computation that would overflow the calendar.

A refused value raises `InvalidArgument` (the caller's mistake: not masked, not logged), so
graphql-core reports it with its place in the
query: `Expected value of type 'Date', found "9999-12-31"; 9999-12-31 is out of range: dates from
1900-01-01 to 2999-12-31`, or `Variable '$asOf' got invalid value '9999-12-31'; …`.

>>> DATE.parse_value("9999-12-31")
Traceback (most recent call last):
registry.errors.InvalidArgument: 9999-12-31 is out of range: dates from 1900-01-01 to 2999-12-31
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import dateutil.parser
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition

from registry import bounds
from registry.errors import InvalidArgument

__all__ = ["DATE", "DATETIME", "OVERRIDES"]



def _date(value: object) -> dt.date:
    if not isinstance(value, str):
        raise InvalidArgument("expected a date such as 2026-11-25, as a string")
    try:
        return bounds.day(dt.date.fromisoformat(value))
    except ValueError as error:
        raise InvalidArgument(str(error)) from None


def _datetime(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise InvalidArgument("expected a date and time such as 2026-11-25T09:30:00Z, as a string")
    try:
        return bounds.moment(dateutil.parser.isoparse(value))
    except OverflowError:
        raise InvalidArgument(f"{value} is out of range: {bounds.RANGE}") from None
    except ValueError as error:
        raise InvalidArgument(str(error)) from None


DATE = dataclasses.replace(DateDefinition, parse_value=_date)
DATETIME = dataclasses.replace(DateTimeDefinition, parse_value=_datetime)
OVERRIDES = {dt.date: DATE, dt.datetime: DATETIME}
"""For `strawberry.Schema(scalar_overrides=…)`."""
