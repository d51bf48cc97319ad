"""Issue 18, class 8: wrong keys must not cost an argon2 verification each without bound, nor tell by their
cost whether a key prefix exists, nor starve requests whose key is already verified.

Behaviour, not wall time: argon2 calls are counted (``PasswordHasher.verify`` is wrapped) and concurrent
verifications are held open on an event while the test looks at what else can proceed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from services.keys import KeyStore
from tests.ops.conftest import *  # noqa: F403 (the client fixtures)

WAIT = 30  # seconds a blocked helper waits at most: a deadlock guard, never a timing assertion


@pytest.fixture
def argon2_calls(monkeypatch) -> list[str]:  # noqa: ANN001
    """Every argon2 verification, by the presented key."""
    calls: list[str] = []
    original = PasswordHasher.verify

    def counting(self: PasswordHasher, hash: str, password: str | bytes) -> bool:  # noqa: A002
        calls.append(password if isinstance(password, str) else password.decode())
        return original(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return calls


def wrong_secret(key: str, n: int) -> str:
    """The same (existing) prefix with another well-formed secret."""
    prefix = key.split("_")[1]
    return f"ls_{prefix}_{'w' * 30}{n:012d}"


def get(client: Any, key: str) -> int:  # noqa: ANN401
    return client.get("/v1/collections", headers={"X-API-Key": key}).status_code


def test_a_repeated_wrong_key_costs_argon2_once(client, sqlite_engine, argon2_calls) -> None:  # noqa: ANN001
    key = KeyStore(sqlite_engine.sessions).create("real", ["read"])[0]
    bad = wrong_secret(key, 1)
    assert [get(client, bad) for _ in range(20)] == [401] * 20
    assert len(argon2_calls) <= 1, f"{len(argon2_calls)} argon2 verifications for one repeated wrong key"


def test_unknown_prefix_costs_the_same_as_a_wrong_secret(client, sqlite_engine, argon2_calls) -> None:  # noqa: ANN001
    """No timing oracle: an unknown prefix, a wrong secret and a revoked key each cost one verification."""
    store = KeyStore(sqlite_engine.sessions)
    key = store.create("real", ["read"])[0]
    revoked, info = store.create("old", ["read"])
    store.revoke(str(info.id))
    cases = {"wrong secret": wrong_secret(key, 2), "unknown prefix": "ls_00000000_" + "u" * 43, "revoked": revoked}
    for label, presented in cases.items():
        before = len(argon2_calls)
        assert get(client, presented) == 401
        assert len(argon2_calls) - before == 1, f"{label}: {len(argon2_calls) - before} argon2 verifications"
        assert get(client, presented) == 401
        assert len(argon2_calls) - before == 1, f"{label}: repeated, verified again"


def test_a_valid_key_is_verified_once(client, sqlite_engine, argon2_calls) -> None:  # noqa: ANN001
    key = KeyStore(sqlite_engine.sessions).create("real", ["read"])[0]
    assert [get(client, key) for _ in range(10)] == [200] * 10
    assert len(argon2_calls) == 1


class Gate:
    """A stand-in for argon2 that blocks until released and records how many run at once."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.release = threading.Event()
        self.running = self.peak = 0

    def verify(self, _hash: str, _password: str) -> bool:
        with self.cond:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.cond.notify_all()
        self.release.wait(WAIT)
        with self.cond:
            self.running -= 1
        raise VerifyMismatchError

    def wait_for(self, predicate: Callable[[], bool]) -> None:
        with self.cond:
            assert self.cond.wait_for(predicate, WAIT), "the expected requests never arrived"


def flood(client: Any, keys: list[str], results: list[int], cond: threading.Condition) -> list[threading.Thread]:  # noqa: ANN401
    def one(presented: str) -> None:
        status = get(client, presented)
        with cond:
            results.append(status)
            cond.notify_all()

    threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in keys]
    for thread in threads:
        thread.start()
    return threads


def test_bad_keys_cannot_starve_verified_ones(make_client, sqlite_engine, monkeypatch) -> None:  # noqa: ANN001
    client = make_client(auth_max_concurrent_verifications=2, auth_max_pending_verifications=100)
    key = KeyStore(sqlite_engine.sessions).create("real", ["read"])[0]
    assert get(client, key) == 200  # verified once, now cached
    gate = Gate()
    monkeypatch.setattr(PasswordHasher, "verify", lambda _hasher, h, p: gate.verify(h, p))
    results: list[int] = []
    threads = flood(client, [wrong_secret(key, n) for n in range(8)], results, gate.cond)
    try:
        gate.wait_for(lambda: gate.running >= 2)
        assert get(client, key) == 200  # answered while every verification slot is taken
        assert gate.running <= 2, f"{gate.running} argon2 verifications running at once"
    finally:  # never leave requests hanging in the client, even when an assertion failed
        gate.release.set()
        for thread in threads:
            thread.join(WAIT)
    assert sorted(results) == [401] * 8
    assert gate.peak <= 2, f"{gate.peak} argon2 verifications ran at once"


def test_beyond_the_queue_bound_bad_keys_get_503(make_client, sqlite_engine, monkeypatch) -> None:  # noqa: ANN001
    client = make_client(auth_max_concurrent_verifications=1, auth_max_pending_verifications=2)
    key = KeyStore(sqlite_engine.sessions).create("real", ["read"])[0]
    gate = Gate()
    monkeypatch.setattr(PasswordHasher, "verify", lambda _hasher, h, p: gate.verify(h, p))
    results: list[int] = []
    threads = flood(client, [wrong_secret(key, n) for n in range(5)], results, gate.cond)
    try:
        gate.wait_for(lambda: len(results) >= 3)  # two are admitted (one verifying, one queued); the rest refused
        assert results == [503] * 3 and gate.running == 1
    finally:
        gate.release.set()
        for thread in threads:
            thread.join(WAIT)
    assert sorted(results) == [401, 401, 503, 503, 503]
    busy = client.get("/v1/collections")  # a key-less request is not a verification: still a plain 401
    assert busy.status_code == 401
