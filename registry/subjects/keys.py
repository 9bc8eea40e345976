"""Lookup keys (e-mail, national id …) that find a data subject: never stored, only HMAC-SHA256 of
the normalised value under a key from configuration (the settings `DSA_REGISTRY_HMAC_KEY`, or a
file named by `DSA_REGISTRY_HMAC_KEY_FILE`). Whoever holds the database cannot reverse them
without the key; the registry can still find a person by e-mail. The store records the
fingerprint of the secret its keys were hashed with, and another secret is refused (`KeyMismatch`).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from registry.errors import InvalidArgument


class KeyHasher:
    """HMAC-SHA256 of normalised lookup keys, under the configured secret.

    `secret` may be a function that returns it: it is then called once, the first time the
    secret is needed, so that commands which hash nothing never read a key file.
    """

    def __init__(self, secret: bytes | None | Callable[[], bytes | None]):
        self._secret = secret
        self._keyed = None  # HMAC-SHA256 keyed with the secret, copied for each hash (half the cost of keying anew)

    def _key(self) -> bytes | None:
        if callable(self._secret):
            self._secret = self._secret()
        return self._secret

    def load(self) -> KeyHasher:
        """Read the secret now (a function's errors are raised here, not at the first lookup)."""
        self._key()
        return self

    def __reduce__(self):
        """Pickled (for a worker process) with its secret, read now."""
        return KeyHasher, (self._key(),)

    def hash(self, name: str, value: str) -> str:
        keyed = self._keyed
        if keyed is None:
            secret = self._key()
            if not secret:
                raise InvalidArgument("lookup keys need a secret: set DSA_REGISTRY_HMAC_KEY or DSA_REGISTRY_HMAC_KEY_FILE")
            keyed = self._keyed = hmac.new(secret, digestmod="sha256")
        digest = keyed.copy()
        digest.update(f"{name}:{normalise(name, value)}".encode())
        return digest.hexdigest()

    @property
    def fingerprint(self) -> str | None:
        """Names the secret without revealing it: HMAC-SHA256 of a fixed label under it (None without one).
        The store records the fingerprint of the secret its keys were hashed with."""
        secret = self._key()
        return hmac.digest(secret, FINGERPRINT_LABEL, "sha256").hex() if secret else None


FINGERPRINT_LABEL = b"dsa-registry lookup-key fingerprint"


class KeyMismatch(InvalidArgument):
    """The configured lookup-key secret is not the one the store's keys were hashed with."""

    def __init__(self, recorded: str, configured: str):
        super().__init__(f"the lookup-key secret is not the one this store's keys were hashed with (fingerprint "
                         f"{configured[:12]}, the store's {recorded[:12]}): configure that secret in "
                         "DSA_REGISTRY_HMAC_KEY or DSA_REGISTRY_HMAC_KEY_FILE")


def normalise(name: str, value: str) -> str:
    """E-mail addresses are trimmed and lower-cased; other keys lose all white space and are upper-cased."""
    return value.strip().lower() if name == "email" else "".join(value.split()).upper()
