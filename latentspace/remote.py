"""The remote transports: each :class:`~latentspace.calls.Call` as an HTTP request to ``latentspace serve``.

Timeouts on every request; retries with exponential backoff (0.25 s, 0.5 s, 1 s, ... plus jitter) when the
server answers 503 (busy verifying keys, model loading) or cannot be connected to; a request the server may
have started (a read timeout, a dropped connection) is retried only when it cannot change anything (GET).
Error answers become the public exception of their status, with the server's code and message.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from latentspace.calls import Call
from latentspace.errors import ConnectionFailed, LatentspaceError, error_for, error_from_body

NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # safe to retry any request


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    backoff: float = 0.25  # seconds before the first retry; doubles each time

    def delay(self, attempt: int) -> float:
        return self.backoff * (2**attempt) * (1 + random.random() * 0.1)


def _headers(api_key: str | None) -> dict[str, str]:
    headers = {"user-agent": "latentspace-python"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    return headers


def _request_args(call: Call) -> dict[str, Any]:
    args: dict[str, Any] = {"params": call.params}
    if call.files is not None or call.data is not None:
        args.update(files=call.files, data=call.data)
    elif call.json is not None:
        args["json"] = call.json
    return args


def _may_retry(call: Call, exc: httpx.TransportError) -> bool:
    return isinstance(exc, NEVER_SENT) or call.method == "GET"


def _answer(response: httpx.Response) -> Any:  # noqa: ANN401  (decoded JSON, or None for 204)
    if response.status_code < 400:
        return response.json() if response.content else None
    try:
        body = response.json()
    except ValueError:
        body = None
    raise error_from_body(response.status_code, body)


def _unreachable(url: str, exc: Exception) -> LatentspaceError:
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, NEVER_SENT):
        return ConnectionFailed(f"latentspace at {url} did not answer in time ({type(exc).__name__})", "timeout")
    return ConnectionFailed(f"cannot reach latentspace at {url}: {type(exc).__name__}: {exc}", "connection_failed")


class HttpTransport:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30.0, retry: RetryPolicy | None = None):
        self.url = url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.http = httpx.Client(base_url=self.url, headers=_headers(api_key), timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def run(self, call: Call) -> Any:  # noqa: ANN401
        for attempt in range(self.retry.retries + 1):
            last = attempt == self.retry.retries
            try:
                response = self.http.request(call.method, call.path, **_request_args(call))
            except httpx.TransportError as exc:
                if last or not _may_retry(call, exc):
                    raise _unreachable(self.url, exc) from None
                time.sleep(self.retry.delay(attempt))
                continue
            if response.status_code == 503 and not last:
                time.sleep(self.retry.delay(attempt))
                continue
            return _answer(response)
        raise error_for(503, "unavailable", "no attempt was made")  # retries < 0


class AsyncHttpTransport:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30.0, retry: RetryPolicy | None = None):
        self.url = url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.http = httpx.AsyncClient(base_url=self.url, headers=_headers(api_key), timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    async def run(self, call: Call) -> Any:  # noqa: ANN401
        for attempt in range(self.retry.retries + 1):
            last = attempt == self.retry.retries
            try:
                response = await self.http.request(call.method, call.path, **_request_args(call))
            except httpx.TransportError as exc:
                if last or not _may_retry(call, exc):
                    raise _unreachable(self.url, exc) from None
                await asyncio.sleep(self.retry.delay(attempt))
                continue
            if response.status_code == 503 and not last:
                await asyncio.sleep(self.retry.delay(attempt))
                continue
            return _answer(response)
        raise error_for(503, "unavailable", "no attempt was made")
