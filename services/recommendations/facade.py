"""The recommendations feature behind one object the Engine exposes as ``engine.recommendations``.

Training (ingest interactions, train, activate, list versions) and serving (recommendations, similar
items) bound to one ServiceContext; one serving object per Engine keeps the loaded models.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.context import ServiceContext
from services.search.types import SearchRequest, SearchResult

if TYPE_CHECKING:  # models load scipy & co: imported on first use, not with the Engine
    from latent.recsys.base import Recommender
    from services.recommendations.serving import RecommendationService
    from services.recommendations.training import InteractionReport, Tuning
    from services.recommendations.types import Query, Recommendations


class RecommendationFacade:
    def __init__(self, ctx: ServiceContext, search: Callable[[str, SearchRequest], SearchResult]) -> None:
        self.ctx = ctx
        self._search = search
        self._serving: RecommendationService | None = None
        self._lock = threading.Lock()

    @property
    def serving(self) -> RecommendationService:
        """The one serving object (it keeps the loaded models), built on first use."""
        with self._lock:
            if self._serving is None:
                from services.recommendations.serving import RecommendationService

                self._serving = RecommendationService(self.ctx, self._search)
            return self._serving

    # -- training -------------------------------------------------------------------------------
    def ingest_interactions(
        self,
        name: str,
        stream: Iterable[Any],
        aggregate: str = "sum",
        on_progress: Callable[[int], None] | None = None,
    ) -> InteractionReport:
        """Store interactions (Interaction records; reader RowErrors count as failed)."""
        from services.recommendations import training

        return training.ingest_interactions(self.ctx, name, stream, aggregate, on_progress)

    def train(
        self,
        name: str,
        model: str,
        params: dict[str, Any] | None = None,
        test_fraction: float = 0.25,
        seed: int = 42,
        activate: bool = True,
        tuning: Tuning | None = None,
    ) -> dict[str, Any]:
        """Tune on a validation split of the training part (default: on, 60 s), evaluate on the held-out split,
        refit on everything, store the version and (by default) activate it."""
        from services.recommendations import training

        return training.train(self.ctx, name, model, params, test_fraction, seed, activate, tuning)

    def activate(self, name: str, version: str) -> None:
        from services.recommendations import training

        training.activate_version(self.ctx, name, version)

    def versions(self, name: str) -> list[dict[str, Any]]:
        from services.recommendations import training

        return training.list_versions(self.ctx, name)

    def version_dir(self, name: str, version: str) -> Path:
        """Where a trained version of collection ``name`` is saved (``model/``, maybe ``index/``)."""
        from services.recommendations import training

        return training.recsys_dir(self.ctx.settings, self.serving.collection_id(name)) / version

    # -- serving --------------------------------------------------------------------------------
    def for_user(self, name: str, user: str, query: Query) -> Recommendations:
        return self.serving.for_user(name, user, query)

    def for_interactions(
        self, name: str, interactions: list[tuple[str, float]], negatives: list[str], query: Query
    ) -> Recommendations:
        return self.serving.for_interactions(name, interactions, negatives, query)

    def similar_items(self, name: str, item: str, k: int = 10) -> Recommendations:
        return self.serving.similar_items(name, item, k)

    def active_model(self, name: str) -> Recommender:
        """The loaded model of the collection's active version (ModelNotFitted if none)."""
        return self.serving.active(self.serving.collection_id(name)).model
