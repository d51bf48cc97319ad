"""API keys: create, list, revoke, and check a presented key against the stored argon2 hashes.

A key looks like ``ls_<prefix>_<secret>``. The prefix (8 hex characters) is stored in clear to find
the row; the whole key is stored only as an argon2id hash. Scopes are ordered: ``admin`` includes
``write``, which includes ``read``. While no active key exists the API stays open (local use).

Verifying argon2 costs tens of milliseconds by design, so a successful verification is remembered
in memory under the SHA-256 of the key together with the stored hash; a revoked key is refused on
the next request because the row is read every time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from core.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from store.models import utcnow
from store.models_auth import ApiKey

SCOPES = ("read", "write", "admin")  # each includes the ones before it
_KEY = re.compile(r"^ls_([0-9a-f]{8})_[A-Za-z0-9_\-]{20,100}$")
_HASHER = PasswordHasher()


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: str
    revoked: bool


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes.split(",")),
        created_at=row.created_at.isoformat(),
        revoked=row.revoked_at is not None,
    )


def _check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInput(f"scopes must be a non-empty subset of {list(SCOPES)}; got {scopes}")
    return [s for s in SCOPES if s in scopes]


def grants(scopes: tuple[str, ...], needed: str) -> bool:
    """True if any held scope is at least as strong as ``needed``."""
    return any(SCOPES.index(s) >= SCOPES.index(needed) for s in scopes if s in SCOPES)


class KeyStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._verified: dict[str, str] = {}  # sha256(key) -> the stored hash it matched
        self._lock = threading.Lock()

    def create(self, name: str, scopes: list[str]) -> tuple[str, KeyInfo]:
        """Return the new key (shown once, never stored) and its record."""
        if not name.strip() or len(name) > 128:
            raise InvalidInput("a key name is 1-128 characters")
        ordered = _check_scopes(scopes)
        prefix = secrets.token_hex(4)
        key = f"ls_{prefix}_{secrets.token_urlsafe(32)}"
        with self._sessions.begin() as session:
            row = ApiKey(name=name, prefix=prefix, secret_hash=_HASHER.hash(key), scopes=",".join(ordered))
            session.add(row)
            session.flush()
            return key, _info(row)

    def list(self) -> list[KeyInfo]:
        with self._sessions() as session:
            return [_info(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.id))]

    def revoke(self, ident: str) -> KeyInfo:
        """Revoke by numeric id or by prefix."""
        with self._sessions.begin() as session:
            where = ApiKey.prefix == ident
            if ident.isdigit() and len(ident) < 19:  # an id, or a prefix that is all digits (~2% of keys)
                where = or_(ApiKey.id == int(ident), where)
            row = session.scalar(select(ApiKey).where(where))
            if row is None:
                raise NotFound(f"no API key {ident!r}")
            row.revoked_at = row.revoked_at or utcnow()
            return _info(row)

    def any_active(self) -> bool:
        with self._sessions() as session:
            count = session.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None)))
            return bool(count)

    def authenticate(self, key: str | None) -> KeyInfo:
        """The active key's record; Unauthorized for a missing, malformed, unknown or revoked key."""
        match = _KEY.match(key or "")
        if match is None:
            raise Unauthorized("a valid API key is required (Authorization: Bearer <key> or X-API-Key)")
        with self._sessions() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.prefix == match.group(1)))
            if row is None or row.revoked_at is not None or not self._matches(key, row.secret_hash):
                raise Unauthorized("unknown or revoked API key")
            return _info(row)

    def _matches(self, key: str, stored_hash: str) -> bool:
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self._lock:
            if self._verified.get(digest) == stored_hash:
                return True
        try:
            _HASHER.verify(stored_hash, key)
        except (VerificationError, InvalidHashError):
            return False
        with self._lock:
            if len(self._verified) > 10_000:  # bounded: a flood of distinct keys cannot grow it forever
                self._verified.clear()
            self._verified[digest] = stored_hash
        return True


def authorize(info: KeyInfo, needed: str) -> None:
    if not grants(info.scopes, needed):
        raise Forbidden(f"this API key lacks the {needed!r} scope")
