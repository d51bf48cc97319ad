"""Explicit registry of recommender models, chosen by name.

It is the one module that knows every model, so it hands the blend its component factory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import IndexCorrupt, InvalidInput
from core.saveddir import read_saved_dir
from latent.recsys.base import Recommender
from latent.recsys.blend import BlendRecommender
from latent.recsys.factors import AlsRecommender, BprRecommender
from latent.recsys.graph import Rp3BetaRecommender
from latent.recsys.kernel import InfiniteAeRecommender
from latent.recsys.lowrank import LowRankEaseRecommender
from latent.recsys.neighbours import EaseRecommender, PopularityRecommender
from latent.recsys.sequence import SequenceKnnRecommender
from latent.recsys.spectral import GfcfRecommender

MODELS: dict[str, type[Recommender]] = {
    cls.name: cls
    for cls in (
        AlsRecommender,
        BprRecommender,
        EaseRecommender,
        LowRankEaseRecommender,
        PopularityRecommender,
        Rp3BetaRecommender,
        GfcfRecommender,
        SequenceKnnRecommender,
        InfiniteAeRecommender,
        BlendRecommender,
    )
}


def create_model(name: str, params: dict[str, Any] | None = None) -> Recommender:
    try:
        cls = MODELS[name]
    except (KeyError, TypeError):
        raise InvalidInput(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
    return cls(params, create_model) if cls is BlendRecommender else cls(params)


def load_model(directory: Path) -> Recommender:
    kind = read_saved_dir(Path(directory), verify_files=False)["kind"]
    if kind not in MODELS:
        raise IndexCorrupt(f"{directory}: manifest names an unknown model {kind!r}")
    return MODELS[kind].load(Path(directory), create=lambda params: create_model(kind, params))
