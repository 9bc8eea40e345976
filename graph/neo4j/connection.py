"""Where a Neo4j store lives: the URI given to `--store`, split into what the driver needs.

Credentials come from the URI's userinfo (`neo4j://alice:s3cret@db:7687`, percent-encoded)
or else from the `user` / `password` given (the settings `NEO4J_USER` / `NEO4J_PASSWORD`); the
database from `?database=name` or else `database` (`NEO4J_DATABASE`; the server's default when
neither is given). Other query parameters stay in
the URI (routing context for `neo4j://`). `shown` is the URI to put in messages: the user
name stays, the password never appears.

>>> c = Connection.parse("neo4j://alice:s3cret@db:7687?database=dsa", user="bob")
>>> c.uri, c.shown, c.auth, c.database
('neo4j://db:7687', 'neo4j://alice@db:7687?database=dsa', ('alice', 's3cret'), 'dsa')
>>> "s3cret" in repr(c)
False
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from graph.store import StoreError

SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")


@dataclass(frozen=True)
class Connection:
    uri: str
    """What the driver connects to: no userinfo, no `database` parameter."""
    shown: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None

    @property
    def auth(self) -> tuple[str, str] | None:
        if self.user is None and self.password is None:
            return None
        return (self.user or "neo4j", self.password or "")

    @classmethod
    def parse(cls, uri: str, *, user: str | None = None, password: str | None = None,
              database: str | None = None) -> Connection:
        """The connection `uri` names; `user`, `password` and `database` count where it has none."""
        try:
            parts = urlsplit(uri)
            host, port = parts.hostname, parts.port
        except ValueError as error:
            raise StoreError(f"invalid Neo4j URI {_without_password(uri)}: {error}") from None
        if parts.scheme not in SCHEMES or not host:
            raise StoreError(f"invalid Neo4j URI {_without_password(uri)}: expected "
                             f"{' or '.join(s + '://' for s in SCHEMES)} followed by a host")
        query = parse_qsl(parts.query, keep_blank_values=True)
        database = next((value for key, value in query if key == "database"), None) or database
        user = unquote(parts.username) if parts.username is not None else user or None
        password = unquote(parts.password) if parts.password is not None else password
        address = f"[{host}]" if ":" in host else host
        address += f":{port}" if port is not None else ""
        rest = urlencode([(key, value) for key, value in query if key != "database"])
        shown_address = f"{parts.username}@{address}" if parts.username is not None else address
        return cls(uri=urlunsplit((parts.scheme, address, parts.path, rest, "")),
                   shown=urlunsplit((parts.scheme, shown_address, parts.path, parts.query, "")),
                   user=user, password=password,
                   database=database or None)


def _without_password(uri: str) -> str:
    """`uri` with anything between `//` and `@` reduced to the part before the first `:`."""
    scheme, sep, rest = uri.partition("//")
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        return uri
    return f"{scheme}{sep}{userinfo.partition(':')[0]}@{hostpart}"
