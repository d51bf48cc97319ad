"""API-key authentication for every route, by the scope table in api/scopes.py (no router needs editing).

Whether a request without a key may pass is ``LATENTSPACE_AUTH``:

* ``auto`` (default): open only while no key was *ever* created. Revoked keys count, so revoking the
  last key can never reopen the API; once a key exists every non-open route needs one.
* ``on``: every non-open route needs a key, even before the first one is created.
* ``off``: nothing is checked (e.g. behind an authenticating proxy); admin routes included.

With keys required, ``allow_anonymous_read`` lets key-less requests through for ``read`` routes only.
A presented key is always checked, whatever the mode says about key-less requests.

Argon2 is slow on purpose, so its cost is bounded here: :meth:`KeyStore.lookup` answers from caches
(valid and failed keys) without argon2; the verifications that remain run at most
``max_verifications`` at a time in worker threads, waiting *in the event loop* (no thread is held while
waiting, so a flood of bad keys never takes the threads that serve requests whose key is cached), and
beyond ``max_waiting`` queued verifications a request is refused at once with 503 and ``Retry-After``.
The key itself is never logged: only its public prefix is put on the request scope. api/edge.py calls
:meth:`ApiKeyAuth.check` for every request. In ``auto`` mode the key-less request's question "was a key
ever created?" is answered without SQL or a thread hop once this process knows (services/keys.py: a
marker file in the data dir, written before the first key is stored, is what other processes see).
"""

from __future__ import annotations

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from api.scopes import required_scope
from core.errors import LatentspaceError, Unauthorized
from services.keys import MISSING_KEY, KeyInfo, KeyStore, PendingCheck, authorize, keys_marker

AUTH_MODES = ("auto", "on", "off")


class VerificationBusy(LatentspaceError):
    """Too many key verifications already queued: retry shortly (a flood of unknown keys, usually)."""

    status_code = 503
    code = "auth_busy"


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    direct = headers.get(b"x-api-key")
    if direct:
        return direct.decode("latin-1").strip()
    auth = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class ApiKeyAuth:
    def __init__(
        self,
        mode: str = "auto",
        allow_anonymous_read: bool = False,
        max_verifications: int = 2,
        max_waiting: int = 256,
    ) -> None:
        if mode not in AUTH_MODES:
            raise ValueError(f"auth mode must be one of {AUTH_MODES}, not {mode!r}")
        self.mode = mode
        self.allow_anonymous_read = allow_anonymous_read
        self.max_verifications = max_verifications
        self.max_waiting = max_waiting
        self.waiting = 0  # verifications queued or running; one event loop, so no lock is needed
        self._limiter: anyio.CapacityLimiter | None = None  # made inside the event loop, on first use

    async def check(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        """The verified key's prefix (None: no key needed or none given and allowed); raises to refuse.

        Called by api/edge.py for every HTTP request, before any body is read.
        """
        if self.mode == "off":
            return None
        needed = required_scope(scope.get("method", ""), scope.get("path", ""))
        if needed is None:
            return None
        return await self._check(key_store(scope["app"]), presented_key(headers), needed)

    async def _check(self, store: KeyStore, key: str | None, needed: str) -> str | None:
        if key is None:
            if needed == "read" and self.allow_anonymous_read:
                return None
            if self.mode == "auto" and not await _ever_created(store):
                return None
            raise Unauthorized(MISSING_KEY)
        found = await run_in_threadpool(store.lookup, key)
        info = await self._verify(store, found) if isinstance(found, PendingCheck) else found
        authorize(info, needed)
        return info.prefix

    async def _verify(self, store: KeyStore, pending: PendingCheck) -> KeyInfo:
        if self.waiting >= self.max_waiting:
            raise VerificationBusy("too many API key verifications in progress; retry shortly")
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.max_verifications)
        self.waiting += 1
        try:
            return await anyio.to_thread.run_sync(store.verify, pending, limiter=self._limiter)
        finally:
            self.waiting -= 1


def key_store(app: Starlette) -> KeyStore:
    """One KeyStore per app (its verification caches live as long as the app)."""
    store = getattr(app.state, "key_store", None)
    if store is None:
        engine = app.state.engine
        store = app.state.key_store = KeyStore(engine.sessions, marker=keys_marker(engine.settings.data_dir))
    return store


async def _ever_created(store: KeyStore) -> bool:
    """Whether a key was ever created: answered in the event loop while the store knows (no thread hop)."""
    known = store.known_ever_created()
    return known if known is not None else await run_in_threadpool(store.ever_created)
