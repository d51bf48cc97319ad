"""A CLIP is loaded once per process whatever the backend asked for (issue 14 review finding)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_engine


@pytest.fixture
def counted_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every torch model load the embedder cache makes (the real class, counted)."""
    import ingest.embedders as embedders

    loads: list[str] = []

    class Counted(embedders.SentenceTransformerEmbedder):
        def __init__(self, name: str, **options) -> None:  # noqa: ANN003
            loads.append(name)
            super().__init__(name, **options)

    monkeypatch.setattr(embedders, "SentenceTransformerEmbedder", Counted)
    return loads


def test_refused_int8_then_torch_loads_the_clip_once(tmp_path: Path, clip_path: str, counted_loads) -> None:  # noqa: ANN001
    from core.errors import BackendUnsupported
    from ingest.embedders import EmbedderCache

    cache = EmbedderCache(batch_size=4, export_root=tmp_path / "exports")
    with pytest.raises(BackendUnsupported):
        cache.get(clip_path, "onnx-int8")
    torch_embedder = cache.get(clip_path, "torch")
    onnx_embedder = cache.get(clip_path, "onnx")  # its text tower is the same torch model
    assert counted_loads == [clip_path]
    assert onnx_embedder.embed_query("a red square").tolist() == torch_embedder.embed_query("a red square").tolist()
    assert cache.query_cache_counts() == (1, 1)  # one shared query cache, counted once


def test_default_backend_fallback_loads_the_clip_once(tmp_path: Path, clip_path: str, counted_loads) -> None:  # noqa: ANN001
    from core.settings import Settings
    from ingest.embedders import EmbedderCache

    cache = EmbedderCache(batch_size=4, export_root=tmp_path / "exports")
    engine = make_engine(Settings(data_dir=tmp_path / "data", image_model=clip_path, _env_file=None), cache)
    try:
        info = engine.create_collection("texts", model=clip_path)  # default onnx-int8 -> torch for a CLIP
        assert info.options["backend"] == "torch"
        assert counted_loads == [clip_path]
    finally:
        engine.close()
