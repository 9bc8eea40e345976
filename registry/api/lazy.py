"""GraphQL objects that read their fields from a stored document when first asked for them.

A page of holdings names thousands of entities; building every field of each (dates parsed,
declared holdings built) costs more than answering the question, and most queries ask for an
id and a name. `lazy(System, {...})` is a subclass of the strawberry type `System` whose
instances (`make(doc)`) hold only the document; a field is computed by its getter on first
access and kept. To strawberry and graphql-core they are `System`s (`isinstance`, the type's
definition, its resolvers).

>>> import dataclasses
>>> @dataclasses.dataclass
... class Named:
...     id: str
...     name: str
>>> make = lazy(Named, {"id": lambda doc: doc["id"], "name": lambda doc: doc["name"].title()})
>>> item = make({"id": "crm", "name": "customer data"})
>>> isinstance(item, Named), item.name, item
(True, 'Customer Data', Named(id='crm', name='Customer Data'))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["lazy"]

T = TypeVar("T")
Getter = Callable[[Any], Any]
"""Reads one field from what an instance is made from (a stored document, or any object)."""


def lazy(cls: type[T], getters: dict[str, Getter], eager: tuple[str, ...] = ()) -> Callable[[Any], T]:
    """A constructor of `cls` instances whose attributes named in `getters` come from a document:
    those in `eager` (the ones nearly every query asks for) when the instance is made, the others
    on first access.

    A field with a default (a class attribute, which would hide the getter) is read when the
    instance is made too. Raises `TypeError` when a getter names a method or property."""
    defined = {name: value for name in getters for base in reversed(cls.__mro__)
               if name in vars(base) for value in (vars(base)[name],)}
    if clashes := [name for name, value in defined.items() if callable(value) or hasattr(value, "__get__")]:
        raise TypeError(f"{cls.__name__} defines {', '.join(clashes)} as methods: they cannot be read from documents")
    eager = (*eager, *(name for name in defined if name not in eager))

    def __getattr__(self, name: str) -> Any:
        getter = getters.get(name)
        if getter is None:
            raise AttributeError(f"{cls.__name__!r} object has no attribute {name!r}")
        value = self.__dict__[name] = getter(self.__dict__["_doc"])
        return value

    subclass = type(cls.__name__, (cls,), {"__getattr__": __getattr__, "__module__": cls.__module__,
                                           "__qualname__": cls.__qualname__})
    new = object.__new__
    first = [(name, getters[name]) for name in eager]

    def make(doc: Any) -> T:
        instance = new(subclass)
        values = instance.__dict__
        values["_doc"] = doc
        for name, getter in first:
            values[name] = getter(doc)
        return instance

    return make
