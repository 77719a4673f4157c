"""Who may see the dashboard: credential checks, login throttling, session cookies and CSRF.

No framework here (the Flask views call it). Passwords from the config are compared in constant
time, or checked with werkzeug when given as a werkzeug hash; every candidate account is checked
on every attempt so timing does not tell which user name exists. Attempts are counted per
(address, user name) and per address, before the password is checked, in a file every worker
shares (:mod:`fmd_profiler.dashboard.throttle`); never per user name alone, which would let anybody
lock
the admin out. The session is a cookie signed with the app's secret whose salt includes a
fingerprint of the configured credentials, so changing a password signs everybody out. Each
session carries its own CSRF token and its account's session generation (kept in the store's
``sessions.json``, shared by every worker): signing out bumps it, so a copied cookie stops
working everywhere at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash

from fmd_profiler.config import Config
from fmd_profiler.dashboard.throttle import AttemptLog, FileAttemptLog, Throttle
from fmd_profiler.store.control import locked, mtime, read_json_object, write_atomic
from fmd_profiler.store.segments import StoreLocation

ADMIN = "admin"
GUEST = "guest"
#: werkzeug's generate_password_hash output: method$salt$hash.
_WERKZEUG_HASH = re.compile(r"^(scrypt|pbkdf2)(:[A-Za-z0-9]+)*\$[^$]+\$[0-9a-f]+$")


def is_password_hash(value: str) -> bool:
    return bool(_WERKZEUG_HASH.match(value))


def _password_matches(given: str, stored: str) -> bool:
    if is_password_hash(stored):
        return check_password_hash(stored, given)
    return hmac.compare_digest(given.encode("utf-8"), stored.encode("utf-8"))


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: str


class Credentials:
    """The accounts of the config: the admin (USERNAME/PASSWORD) and the guest passwords."""

    def __init__(self, config: Config) -> None:
        accounts = []
        if config.password:
            accounts.append(Account(config.username, config.password, ADMIN))
        accounts += [Account(config.guest_username, p, GUEST) for p in config.guest_password if p]
        self.accounts = tuple(accounts)
        hashed = [a.password for a in accounts if is_password_hash(a.password)]
        # A failed attempt also checks one hash of the same method, so it takes as long as a
        # successful one (made on first use: hashing is slow on purpose).
        self._dummy_method = hashed[0].split("$", 1)[0] if hashed else None
        self._dummy: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.accounts)

    def fingerprint(self) -> str:
        """Changes whenever a user name or password in the config changes."""
        digest = hashlib.sha256()
        for account in self.accounts:
            digest.update(f"{account.role}\0{account.username}\0{account.password}\0".encode())
        return digest.hexdigest()[:16]

    def check(self, username: str, password: str) -> str | None:
        """The role of the matching account, or None. Every account is checked, always."""
        role = None
        for account in self.accounts:
            user_ok = hmac.compare_digest(username.encode("utf-8"),
                                          account.username.encode("utf-8"))
            password_ok = _password_matches(password, account.password)
            if user_ok and password_ok and role is None:
                role = account.role
        if self._dummy_method is not None and role is None:
            if self._dummy is None:
                self._dummy = generate_password_hash(secrets.token_hex(16), self._dummy_method)
            check_password_hash(self._dummy, password)
        return role


#: Sign-in attempts allowed per (address, user name) and per address in :data:`LOGIN_WINDOW_S`.
LOGIN_PER_USER = 5
LOGIN_PER_ADDRESS = 20
LOGIN_WINDOW_S = 300.0


def login_throttle(location: StoreLocation,
                   clock: Callable[[], float] = time.time,
                   attempts: AttemptLog | None = None) -> Throttle:
    """The sign-in throttle of a store, shared by every worker process through its folder (or
    through ``attempts``: the catalog's log in fleet mode)."""
    return Throttle(attempts or FileAttemptLog(location.attempts_path), scope="login",
                    per_name=LOGIN_PER_USER, per_address=LOGIN_PER_ADDRESS,
                    window_s=LOGIN_WINDOW_S, clock=clock)


@dataclass(frozen=True)
class Session:
    """What the session cookie says: a CSRF token always; a user and role once signed in."""

    csrf_token: str
    user: str | None = None
    role: str | None = None
    generation: int = 0

    @property
    def signed_in(self) -> bool:
        return self.user is not None and self.role in (ADMIN, GUEST)

    @property
    def is_admin(self) -> bool:
        return self.signed_in and self.role == ADMIN


def new_session(user: str | None = None, role: str | None = None,
                generation: int = 0) -> Session:
    return Session(secrets.token_urlsafe(32), user, role, generation)


def _clocked_signer(clock: Callable[[], float]) -> type[TimestampSigner]:
    """itsdangerous' timestamp signer reading ``clock`` (its timestamps are whole seconds)."""

    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return ClockedSigner


class SessionCodec:
    """Signs and reads the session cookie (itsdangerous, with an expiry)."""

    def __init__(self, secret: str | bytes, fingerprint: str, max_age_s: int,
                 clock: Callable[[], float] = time.time) -> None:
        self._serializer = URLSafeTimedSerializer(
            secret, salt=f"fmd_profiler.dashboard.{fingerprint}", signer=_clocked_signer(clock))
        self.max_age_s = max_age_s

    def dumps(self, session: Session) -> str:
        return self._serializer.dumps({"c": session.csrf_token, "u": session.user,
                                       "r": session.role, "g": session.generation})

    def loads(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        user, role, generation = data.get("u"), data.get("r"), data.get("g", 0)
        if not (isinstance(user, str) or user is None) or role not in (ADMIN, GUEST, None) \
                or type(generation) is not int:
            return None
        return Session(data["c"], user, role, generation)


class SessionGenerations:
    """Each account's session generation, in a file every worker process reads.

    A session is valid only while its generation is the account's current one; read per request
    from ``sessions.json`` (a stat, and a read when it changed).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[float | None, dict[str, Any]] = (None, {})

    def current(self, role: str, user: str) -> int:
        stamp = mtime(self.path)
        if stamp != self._cache[0]:
            self._cache = (stamp, read_json_object(self.path))
        value = self._cache[1].get(f"{role}:{user}", 0)
        return value if type(value) is int else 0

    def bump(self, role: str, user: str) -> int:
        """End every session of the account (sign-out); returns the new generation."""
        with locked(self.path):
            data = read_json_object(self.path)
            key = f"{role}:{user}"
            value = data.get(key, 0)
            data[key] = (value if type(value) is int else 0) + 1
            write_atomic(self.path, json.dumps(data, sort_keys=True).encode())
        self._cache = (None, {})
        return int(data[key])


def csrf_ok(session: Session | None, given: str | None) -> bool:
    if session is None or not given:
        return False
    return hmac.compare_digest(session.csrf_token.encode(), given.encode())
