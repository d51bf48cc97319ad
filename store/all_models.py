"""Imports every module that defines models, so Base.metadata is complete (Alembic, tests).

A feature that adds tables puts its models in its own ``store/models_<feature>.py`` and adds one import here.
"""

from __future__ import annotations

from store import (
    models,  # noqa: F401
    models_auth,  # noqa: F401
    models_cluster,  # noqa: F401
    models_recsys,  # noqa: F401
    models_topics,  # noqa: F401
)
