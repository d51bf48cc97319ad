"""One exception tree for latentspace.

Every error the product raises on purpose derives from :class:`LatentspaceError`. Each class carries
the HTTP status the API answers with and a stable machine-readable ``code``; ``api/errors.py`` is the
only place that turns them into JSON, and the CLI prints ``message`` and exits non-zero.

LatentspaceError (500 internal_error)
├── InvalidInput (422 invalid_input)
│   ├── DimensionMismatch (422 dimension_mismatch)   vector length differs from the collection's
│   ├── InvalidFilter (422 invalid_filter)          a metadata filter that cannot be applied
│   ├── UnreadableFile (422 unreadable_file)        a file that cannot be read as a document
│   ├── EmbedderMismatch (422 embedder_mismatch)    another model on an existing collection
│   └── UnknownIndexKind (422 unknown_index_kind)   index backend name not in the registry
├── NotFound (404 not_found)
│   ├── CollectionNotFound (404 collection_not_found)
│   ├── DocumentNotFound (404 document_not_found)
│   ├── TopicNotFound (404 topic_not_found)
│   ├── UserNotFound (404 user_not_found)           a recommendations user with no interactions
│   └── ItemNotFound (404 item_not_found)           an item neither in the active model nor a document
├── Conflict (409 conflict)
│   ├── CollectionExists (409 collection_exists)
│   └── ModelNotFitted (409 model_not_fitted)        topics/map/compression/recommendations before a fit
├── Unauthorized (401 unauthorized)                 no API key, or an unknown/revoked one
├── Forbidden (403 forbidden)                       a valid API key without the needed scope
├── PayloadTooLarge (413 payload_too_large)
├── ModelUnavailable (503 model_unavailable)        an embedding model that cannot be loaded
├── ShardUnavailable (503 shard_unavailable)        a search shard did not answer (cluster mode, issue 13)
└── IndexCorrupt (500 index_corrupt)                index files missing or unreadable (rebuild fixes it)
"""

from __future__ import annotations


class LatentspaceError(Exception):
    """Base of every deliberate latentspace error."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message or self.__class__.__name__


class InvalidInput(LatentspaceError):
    status_code = 422
    code = "invalid_input"


class DimensionMismatch(InvalidInput):
    code = "dimension_mismatch"


class InvalidFilter(InvalidInput):
    code = "invalid_filter"


class UnreadableFile(InvalidInput):
    code = "unreadable_file"


class EmbedderMismatch(InvalidInput):
    code = "embedder_mismatch"


class BackendUnsupported(InvalidInput):
    """The model cannot run with the embedding backend asked for (e.g. int8 for a CLIP)."""

    code = "backend_unsupported"


class UnknownIndexKind(InvalidInput):
    code = "unknown_index_kind"


class NotFound(LatentspaceError):
    status_code = 404
    code = "not_found"


class CollectionNotFound(NotFound):
    code = "collection_not_found"


class DocumentNotFound(NotFound):
    code = "document_not_found"


class TopicNotFound(NotFound):
    code = "topic_not_found"


class UserNotFound(NotFound):
    code = "user_not_found"


class ItemNotFound(NotFound):
    code = "item_not_found"


class Conflict(LatentspaceError):
    status_code = 409
    code = "conflict"


class CollectionExists(Conflict):
    code = "collection_exists"


class ModelNotFitted(Conflict):
    code = "model_not_fitted"


class Unauthorized(LatentspaceError):
    status_code = 401
    code = "unauthorized"


class Forbidden(LatentspaceError):
    status_code = 403
    code = "forbidden"


class PayloadTooLarge(LatentspaceError):
    status_code = 413
    code = "payload_too_large"


class ModelUnavailable(LatentspaceError):
    status_code = 503
    code = "model_unavailable"


class ShardUnavailable(LatentspaceError):
    status_code = 503
    code = "shard_unavailable"


class InvalidSettings(LatentspaceError):
    """A LATENTSPACE_* setting (environment or .env) that does not validate."""

    status_code = 500
    code = "invalid_settings"


class IndexCorrupt(LatentspaceError):
    status_code = 500
    code = "index_corrupt"
