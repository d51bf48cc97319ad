"""A CLIP with random weights, saved in sentence-transformers format, built offline from a config.

Tests use the tiny one (hidden size 32, 32x32 pictures) so the real loading and encoding code runs in
milliseconds; ``--base`` builds ViT-B/32-sized towers for throughput runs (quality is meaningless).

    python -m tests.images.clip_model OUT_DIR [--base]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

_SPECIALS = ("<|startoftext|>", "<|endoftext|>")


def _byte_vocab() -> dict[str, int]:
    """Every byte-level character, alone and word-final: any text tokenizes with no merges at all."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    tokens = [*chars, *(c + "</w>" for c in chars), *_SPECIALS]
    return {token: i for i, token in enumerate(tokens)}


def _config(vocab_size: int, base: bool) -> Any:
    from transformers import CLIPConfig

    bos, eos = vocab_size - 2, vocab_size - 1
    if base:
        text = {"hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 8}
        vision = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12}
        vision |= {"image_size": 224, "patch_size": 32}
        projection = 512
    else:
        text = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
        vision = {**text, "image_size": 32, "patch_size": 8}
        projection = 16
    text |= {"vocab_size": vocab_size, "max_position_embeddings": 77}
    text |= {"bos_token_id": bos, "eos_token_id": eos, "pad_token_id": eos}
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection)


def build_clip(out: Path, base: bool = False, seed: int = 0) -> Path:
    """Write a sentence-transformers CLIP to ``out`` and return ``out``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from transformers import CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    vocab = _byte_vocab()
    hf_dir = out / "_hf"
    hf_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = _config(len(vocab), base)
    side = config.vision_config.image_size
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    images = CLIPImageProcessor(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    CLIPModel(config).save_pretrained(hf_dir)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(hf_dir)
    SentenceTransformer(modules=[Transformer(str(hf_dir))]).save(str(out))
    (out / "_hf" / "README.txt").write_text(json.dumps({"random_weights": True, "base": base}))
    return out


if __name__ == "__main__":
    build_clip(Path(sys.argv[1]), base="--base" in sys.argv[2:])
