"""Export a sentence-transformers model's transformer to ONNX (fp32) and quantize it (int8), offline, once.

The export is made from the model files on disk (nothing is downloaded) into the data dir, under a name
derived from the model files' fingerprint, the variant, the variant's recipe (:data:`RECIPES`) and the exporter
versions, so a changed model, recipe or exporter gets a new export (an export made by other code is never
reused; it stays on disk until removed). It is written through core/saveddir.py (temp dir, sha256 of every
file, atomic swap), so a reader sees a whole export or none, and a truncated or flipped file is found by its
checksum and exported again. An exclusive file lock makes two processes starting at once export once between them.

Only the transformer is exported (token ids → last hidden state, with eager attention so padding is masked
exactly as in torch); pooling and normalisation are done in numpy by ingest/onnx_embedder.py from the
model's own pooling config. int8 is dynamic quantization of the attention's weight matrices, per channel, leaving the
feed-forward layers in fp32: on MiniLM that kept ten test texts (one and two words included) within cosine
0.9926 of torch's, where quantizing every matrix gave 0.95 and every matrix but the feed-forward output
projections 0.978 (both on one- and two-word texts).
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any

from core.errors import IndexCorrupt, ModelUnavailable
from core.saveddir import read_saved_dir, write_saved_dir
from core.writelock import file_lock

log = logging.getLogger(__name__)
VARIANTS = ("fp32", "int8", "image-fp32")  # image-fp32: a CLIP's image tower (pixels -> projected vector)
MODEL_FILE = "model.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# How each variant is made. Part of the export's name: change the text whenever the code that makes the
# variant (export options, which matrices are quantized and how) changes. A change that moves vectors
# beyond the backend's tolerance also needs a new backend name: existing collections' stored vectors came
# from the old graph, and their queries would run on the new one.
RECIPES = {
    "fp32": "torch.onnx opset 17, eager attention",
    "int8": "fp32 + quantize_dynamic QInt8 per channel, MatMul with constant B, feed-forward excluded",
    "image-fp32": "torch.onnx opset 17, CLIP image tower + projection",
}


def export_dir(root: Path, fingerprint: str, variant: str) -> Path:
    import onnxruntime
    import torch

    recipe = RECIPES[variant]
    versions = f"{fingerprint}:{variant}:{recipe}:torch={torch.__version__}:ort={onnxruntime.__version__}"
    return Path(root) / f"{variant}-{hashlib.sha256(versions.encode()).hexdigest()[:16]}"


def ensure_export(model_path: str, root: Path, fingerprint: str, variant: str) -> Path:
    """The path of a valid ONNX file for the transformer stored at ``model_path``, exporting it if needed."""
    if variant not in VARIANTS:
        raise ModelUnavailable(f"unknown ONNX variant {variant!r}; choose one of {list(VARIANTS)}")
    directory = export_dir(root, fingerprint, variant)
    if _valid(directory):
        return directory / MODEL_FILE
    with file_lock(directory.parent / f".{directory.name}.lock", exclusive=True):
        if not _valid(directory):  # another process may have finished it while we waited
            log.info("exporting the embedding model to ONNX (%s) in %s", variant, directory)
            write_saved_dir(
                directory, {"kind": f"onnx-{variant}", "fingerprint": fingerprint},
                lambda tmp: _export(model_path, tmp, variant),
            )
    return directory / MODEL_FILE


def _valid(directory: Path) -> bool:
    """A complete export whose files match their checksums (a half-written or damaged one is not)."""
    try:
        read_saved_dir(directory)  # checks every file's size and sha256
    except IndexCorrupt:
        return False
    return (directory / MODEL_FILE).is_file()


def ort_session(path: Path, threads: int) -> Any:  # noqa: ANN401
    """An ONNX Runtime CPU session on ``threads`` intra-op threads (0: every core) that never spins."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads or os.cpu_count() or 1, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _export(model_path: str, directory: Path, variant: str) -> None:
    if variant == "image-fp32":
        _export_image_tower(model_path, directory / MODEL_FILE)
        return
    fp32 = directory / ("fp32.onnx" if variant == "int8" else MODEL_FILE)
    _export_fp32(model_path, fp32)
    if variant == "int8":
        _quantize(fp32, directory / MODEL_FILE)
        fp32.unlink()


def _export_fp32(model_path: str, target: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    # SDPA attention traces into a graph that ignores the padding mask; eager attention masks exactly.
    transformer = AutoModel.from_pretrained(model_path, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(model_path)

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN202
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = tokenizer(["a short text", "a somewhat longer second text"], padding=True, return_tensors="pt")
    args = tuple(sample[name] if name in sample else torch.zeros_like(sample["input_ids"]) for name in INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    # The TorchScript exporter is the one checked against torch (fp32 within 1e-5); torch warns that it is
    # legacy (the newer exporter needs onnxscript and was not checked here).
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*TorchScript-based ONNX export")
        torch.onnx.export(
            LastHiddenState().eval(), args, str(target), input_names=list(INPUTS),
            output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )


def _export_image_tower(model_path: str, target: Path) -> None:
    """A sentence-transformers CLIP's image tower: pixel values (as its own processor makes them) -> the
    projected image embedding, before normalisation (ingest/onnx_image.py normalises, as torch does)."""
    import torch
    from PIL import Image
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu")
    clip = model[0].model.eval()

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = clip

        def forward(self, pixel_values):  # noqa: ANN001, ANN202
            features = self.clip.get_image_features(pixel_values=pixel_values)
            return getattr(features, "pooler_output", features)

    sample = model.preprocess([Image.new("RGB", (8, 8))])["pixel_values"]
    axes = {"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*TorchScript-based ONNX export")
        torch.onnx.export(
            ImageTower().eval(), (sample,), str(target), input_names=["pixel_values"],
            output_names=["image_embeds"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )


def _quantize(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    matmuls = [node.name for node in onnx.load(str(source)).graph.node if node.op_type == "MatMul"]
    feed_forward = [name for name in matmuls if "/attention/" not in name and "/dense/" in name]
    quantize_dynamic(
        str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"],
        nodes_to_exclude=feed_forward, extra_options={"MatMulConstBOnly": True},
    )
