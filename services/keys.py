"""API keys: create, list, revoke, and check a presented key against the stored argon2 hashes.

A key looks like ``ls_<prefix>_<secret>``. The prefix (8 hex characters) is stored in clear to find
the row; the whole key is stored only as an argon2id hash. Scopes are ordered: ``admin`` includes
``write``, which includes ``read``. Whether a request without a key may pass is the API's rule
(``LATENTSPACE_AUTH``, api/auth.py); :meth:`KeyStore.ever_created` is what its ``auto`` mode asks.

Checking a key is split in two so the API can bound the expensive half:

* :meth:`KeyStore.lookup` is cheap: the format, the row by prefix, and two in-memory caches keyed by the
  SHA-256 of the presented key together with the stored hash it was checked against: keys that verified
  (a valid key costs argon2 once per process) and keys that failed (a repeated wrong key costs nothing).
* :meth:`KeyStore.verify` runs argon2 once. An unknown prefix or a revoked key is verified against a
  dummy hash, so every negative answer costs the same argon2 call as a wrong secret for a real prefix:
  timing does not tell whether a prefix exists.

A revoked key is refused on the next request because the row is read every time.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

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
CACHE_ENTRIES = 10_000  # per cache: bounded, so a flood of distinct keys cannot grow memory without end
MISSING_KEY = "a valid API key is required (Authorization: Bearer <key> or X-API-Key)"
BAD_KEY = "unknown or revoked API key"  # one message for every negative answer: no oracle in the text either


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: str
    revoked: bool


@dataclass(frozen=True)
class PendingCheck:
    """A well-formed key the caches could not decide: :meth:`KeyStore.verify` must run argon2."""

    key: str
    digest: str
    stored_hash: str | None  # None: unknown prefix or revoked key (checked against the dummy hash)
    info: KeyInfo | None


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


@cache
def dummy_hash() -> str:
    """An argon2 hash of a random secret nobody knows, made once per process (lazily: not at import)."""
    return _HASHER.hash(secrets.token_urlsafe(32))


def verify_secret(stored_hash: str, key: str) -> bool:
    """The one argon2 verification (tests count its calls)."""
    try:
        return _HASHER.verify(stored_hash, key)
    except (VerificationError, InvalidHashError):
        return False


def _remember(cache_: OrderedDict[str, str], digest: str, value: str) -> None:
    cache_[digest] = value
    cache_.move_to_end(digest)
    while len(cache_) > CACHE_ENTRIES:
        cache_.popitem(last=False)


def keys_marker(data_dir: Path) -> Path:
    """The file whose existence says a key was created for this data dir (see :meth:`KeyStore.ever_created`)."""
    return Path(data_dir) / ".keys.created"


_CREATED_HERE = [0]  # keys created by any KeyStore of this process: others re-ask the database when it moves


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class KeyStore:
    def __init__(self, sessions: sessionmaker[Session], marker: Path | None = None) -> None:
        self._sessions = sessions
        self._marker = None if marker is None else str(marker)
        self._none_as_of: int | None = None  # _CREATED_HERE when the database last said "no key ever"
        self._verified: OrderedDict[str, str] = OrderedDict()  # sha256(key) -> the stored hash it matched
        self._failed: OrderedDict[str, str] = OrderedDict()  # sha256(key) -> the hash it failed ("" = none)
        self._lock = threading.Lock()
        self._ever_created = False

    def create(self, name: str, scopes: list[str]) -> tuple[str, KeyInfo]:
        """Return the new key (shown once, never stored) and its record."""
        if not name.strip() or len(name) > 128:
            raise InvalidInput("a key name is 1-128 characters")
        ordered = _check_scopes(scopes)
        if self._marker is not None:  # before the row exists: no process can see a key but not the marker
            _touch(Path(self._marker))
        _CREATED_HERE[0] += 1
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

    def ever_created(self) -> bool:
        """True once any key exists, revoked ones included (revocation never deletes a row).

        Remembered once true: keys are never deleted, so the answer cannot go back to false, and the
        key-less requests of ``LATENTSPACE_AUTH=auto`` stop costing a query each. A store given the data
        dir's marker (:func:`keys_marker`) also remembers "no key yet" (:meth:`known_ever_created`).
        """
        known = self.known_ever_created()
        if known is not None:
            return known
        as_of = _CREATED_HERE[0]
        with self._sessions() as session:
            self._ever_created = session.scalar(select(ApiKey.id).limit(1)) is not None
        if self._ever_created and self._marker is not None and not os.path.exists(self._marker):
            _touch(Path(self._marker))  # keys from before the marker existed: mark them once
        self._none_as_of = None if self._ever_created else as_of
        return self._ever_created

    def known_ever_created(self) -> bool | None:
        """The answer of :meth:`ever_created` if it needs no query, else None; a stat call at most.

        "No key yet" is remembered only with a marker: every store that creates keys for a data dir
        (``latentspace keys create``, the server) creates the marker *before* it stores the first key,
        so a process that still finds no marker knows that no key exists yet, whichever process
        creates one. Keys created in this process by a store without the marker also end it.
        """
        if self._ever_created:
            return True
        if self._marker is None:
            return None
        if os.path.exists(self._marker):
            self._ever_created = True
            return True
        return False if self._none_as_of == _CREATED_HERE[0] else None

    def lookup(self, key: str | None) -> KeyInfo | PendingCheck:
        """The key's record when the caches decide; Unauthorized when malformed or known to fail; else pending."""
        match = _KEY.match(key or "")
        if key is None or match is None:
            raise Unauthorized(MISSING_KEY)
        with self._sessions() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.prefix == match.group(1)))
            info = _info(row) if row is not None else None
            stored = row.secret_hash if row is not None and row.revoked_at is None else None
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self._lock:
            if stored is not None and info is not None and self._verified.get(digest) == stored:
                self._verified.move_to_end(digest)
                return info
            if self._failed.get(digest) == (stored or ""):
                self._failed.move_to_end(digest)
                raise Unauthorized(BAD_KEY)
        return PendingCheck(key, digest, stored, info)

    def verify(self, pending: PendingCheck) -> KeyInfo:
        """One argon2 verification (against the dummy hash when there is no live row); the result is cached."""
        matched = verify_secret(pending.stored_hash or dummy_hash(), pending.key)
        ok = matched and pending.stored_hash is not None and pending.info is not None
        with self._lock:
            _remember(self._verified if ok else self._failed, pending.digest, pending.stored_hash or "")
        if not ok or pending.info is None:
            raise Unauthorized(BAD_KEY)
        return pending.info

    def authenticate(self, key: str | None) -> KeyInfo:
        """The active key's record; Unauthorized for a missing, malformed, unknown or revoked key."""
        found = self.lookup(key)
        return self.verify(found) if isinstance(found, PendingCheck) else found


def authorize(info: KeyInfo, needed: str) -> None:
    if not grants(info.scopes, needed):
        raise Forbidden(f"this API key lacks the {needed!r} scope")
