"""The exceptions of the public client: the same classes whether the client is embedded or remote.

LatentspaceError                     anything the service refused or failed to do (``.code``, ``.status_code``)
├── InvalidInput (422)               bad request: empty query, wrong vector length, bad filter, ...
├── NotFound (404)                   unknown collection, document, user, item, topic
├── Conflict (409)                   name taken, model not fitted yet
├── Unauthorized (401)               remote only: no API key, or an unknown or revoked one
├── Forbidden (403)                  remote only: the key's scope is too weak
├── PayloadTooLarge (413)            too many documents, a document or request body over the limit
├── Unavailable (503)                the server is busy or a model cannot be loaded (retried first, remote)
└── ConnectionFailed                 remote only: the server could not be reached (after the retries) or timed out

Every error carries the service's machine-readable ``code`` (e.g. ``collection_not_found``,
``dimension_mismatch``: the same as the HTTP API's ``{"error": {"code": ...}}``) and its ``message``.
An embedded client maps the internal error tree by its HTTP status; a remote client maps the
response's status and JSON error body, so one ``except latentspace.NotFound`` serves both.
"""

from __future__ import annotations

from typing import Any


class LatentspaceError(Exception):
    """Base of every error the client raises on purpose."""

    status_code: int | None = 500

    def __init__(self, message: str, code: str = "internal_error", status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        if status_code is not None:
            self.status_code = status_code

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"


class InvalidInput(LatentspaceError):
    status_code = 422


class NotFound(LatentspaceError):
    status_code = 404


class Conflict(LatentspaceError):
    status_code = 409


class Unauthorized(LatentspaceError):
    status_code = 401


class Forbidden(LatentspaceError):
    status_code = 403


class PayloadTooLarge(LatentspaceError):
    status_code = 413


class Unavailable(LatentspaceError):
    status_code = 503


class ConnectionFailed(LatentspaceError):
    status_code = None


BY_STATUS: dict[int, type[LatentspaceError]] = {
    400: InvalidInput,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: InvalidInput,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidInput,
    503: Unavailable,
}


def error_for(status: int, code: str, message: str) -> LatentspaceError:
    """The public error of an HTTP status (or an internal error's status), with the service's code."""
    return BY_STATUS.get(status, LatentspaceError)(message, code, status)


def error_from_body(status: int, body: Any) -> LatentspaceError:  # noqa: ANN401  (any decoded JSON)
    """The error of a remote answer: its ``{"error": {"code", "message", "details"?}}`` body."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return error_for(status, "http_error", f"HTTP {status} without an error body")
    message = str(error.get("message") or f"HTTP {status}")
    details = error.get("details")
    if isinstance(details, list) and details:  # the API's request validation: say which field and why
        message += ": " + "; ".join(_detail(d) for d in details[:5])
    return error_for(status, str(error.get("code") or "http_error"), message)


def _detail(detail: Any) -> str:  # noqa: ANN401
    if not isinstance(detail, dict):
        return str(detail)
    where = ".".join(str(part) for part in detail.get("loc", []) if part != "body")
    return f"{where}: {detail.get('msg', '')}" if where else str(detail.get("msg", ""))
