"""The manager's login: a password checked against a salted hash, and a guard against guessing.

The password is configured as a PBKDF2 hash (`shopfloor hash-password` makes one), or in clear for
a test bench, or made at random for one run and shown once. Failed logins are counted per client
address: from the third in a row each waits longer (doubling, at most 30 s), and after
`login_lockout_after` the address is locked out for `login_lockout_s`, the right password included.
Every failure and lockout is logged with the address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from shopfloor.errors import ConfigError
from shopfloor.settings import Settings

log = logging.getLogger(__name__)

_SCHEME = "pbkdf2_sha256"
_ITERATIONS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256
_MAX_DELAY_S = 30.0
# An address's failures are forgotten an hour after its last one (a slip yesterday is no attack
# today), and the guard keeps at most this many addresses: one attacker rotating through addresses
# must not grow the server's memory without bound.
_FORGET_AFTER_S = 3600.0
_MAX_ADDRESSES = 10_000


def hash_password(password: str, iterations: int = _ITERATIONS) -> str:
    """`pbkdf2_sha256$<iterations>$<salt>$<hash>`, for SHOPFLOOR_MANAGER_PASSWORD_HASH."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    encode = base64.b64encode
    return f"{_SCHEME}${iterations}${encode(salt).decode()}${encode(digest).decode()}"


def check_hash(encoded: str) -> tuple[int, bytes, bytes]:
    """The parts of a stored hash, or a clear error naming the setting."""
    try:
        scheme, iterations, salt, digest = encoded.split("$")
        if scheme != _SCHEME or int(iterations) < 100_000:
            raise ValueError
        return int(iterations), base64.b64decode(salt, validate=True), base64.b64decode(digest, validate=True)
    except ValueError:
        raise ConfigError(
            "manager_password_hash (SHOPFLOOR_MANAGER_PASSWORD_HASH): not a hash from `shopfloor hash-password`"
        ) from None


def password_matches(password: str, encoded: str) -> bool:
    iterations, salt, digest = check_hash(encoded)
    return hmac.compare_digest(hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations), digest)


def manager_auth(settings: Settings) -> tuple[Callable[[str, str], bool], str | None]:
    """The login check for the manager's view, and the password made for this run when none is
    configured (to be shown once)."""
    user = settings.manager_user
    if settings.manager_password_hash is not None:
        encoded = settings.manager_password_hash.get_secret_value()
        check_hash(encoded)  # a malformed hash stops the start, not the first login
        return lambda name, password: hmac.compare_digest(name, user) and password_matches(password, encoded), None
    configured = settings.manager_password.get_secret_value() if settings.manager_password else ""
    password = configured or secrets.token_urlsafe(12)

    def matches(name: str, given: str) -> bool:
        return hmac.compare_digest(name.encode(), user.encode()) and hmac.compare_digest(
            given.encode(), password.encode()
        )

    return matches, None if configured else password


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class LoginGuard:
    """Failed logins per client address: growing delays, then a temporary lockout."""

    def __init__(self, lockout_after: int, lockout_s: float, delay_s: float) -> None:
        self.lockout_after = lockout_after
        self.lockout_s = lockout_s
        self.delay_s = delay_s
        self._records: dict[str, _Record] = {}

    def locked_for(self, address: str) -> float:
        """Seconds this address is still locked out (0 when it may try)."""
        record = self._records.get(address)
        return max(0.0, record.locked_until - time.monotonic()) if record else 0.0

    def delay(self, address: str) -> float:
        """How long this attempt waits before it is checked: nothing for the first two failures."""
        record = self._records.get(address)
        if record is None or record.failures < 2 or time.monotonic() - record.last_failure > _FORGET_AFTER_S:
            return 0.0
        return min(self.delay_s * 2 ** (record.failures - 2), _MAX_DELAY_S)

    def failed(self, address: str) -> None:
        now = time.monotonic()
        if address not in self._records and len(self._records) >= _MAX_ADDRESSES:
            self._forget(now)
        record = self._records.setdefault(address, _Record())
        served = record.locked_until and record.locked_until <= now
        if served or now - record.last_failure > _FORGET_AFTER_S:
            record.failures = 0  # a lockout served, or an old slip, starts the count again
        record.failures += 1
        record.last_failure = now
        log.warning("failed manager login from %s (%d in a row)", address, record.failures)
        if record.failures >= self.lockout_after:
            record.locked_until = time.monotonic() + self.lockout_s
            log.error(
                "manager login locked for %s for %.0f s after %d failures", address, self.lockout_s, record.failures
            )

    def succeeded(self, address: str) -> None:
        self._records.pop(address, None)

    def _forget(self, now: float) -> None:
        """Drop the addresses that are neither locked nor recently failing; if every one still is,
        the oldest half of a flood, unlocked ones first (a locked address stays locked)."""
        stale = [
            a for a, r in self._records.items() if r.locked_until <= now and now - r.last_failure > _FORGET_AFTER_S
        ]
        if not stale:
            by_age = sorted(
                self._records, key=lambda a: (self._records[a].locked_until > now, self._records[a].last_failure)
            )
            stale = by_age[: len(by_age) // 2]
        for address in stale:
            del self._records[address]
        log.warning("login guard forgot %d addresses (at most %d are kept)", len(stale), _MAX_ADDRESSES)
