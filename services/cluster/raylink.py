"""Joining Ray: an existing cluster (``auto`` or an address) or a local one started in this process."""

from __future__ import annotations

from typing import Any

try:
    import ray
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("cluster mode needs Ray: pip install 'latentspace[cluster]'") from exc


def connect(address: str, num_cpus: int | None = None, object_store_mb: int | None = None) -> None:
    """Join a Ray cluster (``auto`` or an address) or, for ``local``, start one in this process."""
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
    if address == "local":
        kwargs["num_cpus"] = num_cpus
        if object_store_mb:
            kwargs["object_store_memory"] = object_store_mb * 1024 * 1024
    else:
        kwargs["address"] = address
    ray.init(**kwargs)
