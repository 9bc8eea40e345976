"""How the registry's errors reach GraphQL callers.

Domain errors (unknown ids, invalid input, missing permissions) come back as GraphQL errors
with a clear message and a code in `extensions.code`; invalid input lists every problem in
`extensions.problems` (each with `source`, `message`, and where known `line`, `column`, `entity`
and `field`). Anything else is masked as "internal error", so internals never leak.
"""

from __future__ import annotations

import functools

from graphql import GraphQLError

from graph.store import StoreBusy
from registry.auth.roles import Forbidden
from registry.bundle import BundleInvalid
from registry.errors import DomainError, InvalidArgument, NotFound
from registry.subjects.model import SubjectsInvalid


def domain_errors(resolver):
    """Report the registry's own errors as GraphQL errors with a code (and problems)."""

    @functools.wraps(resolver)
    async def wrapper(*args, **kwargs):
        try:
            return await resolver(*args, **kwargs)
        except NotFound as error:
            raise GraphQLError(str(error), extensions={"code": "NOT_FOUND"}) from None
        except Forbidden as error:
            raise GraphQLError(str(error), extensions={"code": "FORBIDDEN"}) from None
        except (BundleInvalid, SubjectsInvalid) as error:
            problems = [p._asdict() for p in error.problems]
            raise GraphQLError(f"invalid input:\n{error}", extensions={"code": "BAD_INPUT", "problems": problems}) from None
        except InvalidArgument as error:
            raise GraphQLError(str(error), extensions={"code": "BAD_INPUT"}) from None
        except StoreBusy as error:  # another write held the store too long: nothing changed, retry
            raise GraphQLError(str(error), extensions={"code": "BUSY"}) from None

    return wrapper


def should_mask(error: GraphQLError) -> bool:
    """Mask everything but GraphQL's own errors and the registry's."""
    return error.original_error is not None and not isinstance(error.original_error,
                                                               (GraphQLError, StoreBusy, *DomainError))
