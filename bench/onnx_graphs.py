"""Candidate ONNX graphs of MiniLM for the int8 backend: quality vs torch and speed, one run.

Every graph is built from the backend's own fp32 export (ingest/onnx_export.py) in a temporary directory:
``int8`` (today's recipe: dynamic int8 of the attention MatMuls, unfused), ``fused-fp32`` (ONNX Runtime's
transformer optimizer: fused Attention, SkipLayerNormalization, BiasGelu, EmbedLayerNormalization),
``fused-int8-attn`` (the fused graph, attention int8 as today) and ``fused-int8-all`` (every MatMul and Attention
int8). For each: the minimum cosine to torch's vectors over one- and two-word texts, SciFact claims and
abstracts; the CPU milliseconds of one query (one thread; CPU time, so other processes on the machine move it
little) and the docs/s of batches of 16 abstracts on two threads. Graphs take turns in each round; medians.

    python -m bench.onnx_graphs --data ../shared/data/beir-scifact --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SHORT = ["volcano", "cat", "dog", "the", "of", "DNA", "insulin", "hello world", "machine learning", "DNA repair",
         "covid vaccine", "heart attack", "gene expression", "black hole", "a b"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/beir-scifact"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    queries = [json.loads(line)["text"] for line in (args.data / "queries.jsonl").open()][:40]
    docs = [" ".join((row["title"], row["text"])) for row in map(json.loads, _head(args.data / "corpus.jsonl", 64))]
    graphs = build_graphs(Path(tempfile.mkdtemp(prefix="ls-onnx-graphs-")))
    texts = SHORT + queries + docs[:20]
    bench = GraphBench(texts)
    rows = {name: {"min_cos": bench.min_cosine(path), "query_cpu_ms": [], "batch_docs_per_s": []}
            for name, path in graphs.items()}
    for _ in range(args.rounds):
        for name, path in graphs.items():
            rows[name]["query_cpu_ms"].append(bench.query_cpu_ms(path, queries))
            rows[name]["batch_docs_per_s"].append(bench.batch_docs_per_s(path, docs))
    for name, row in rows.items():
        print(json.dumps({"graph": name, "min_cos_to_torch": round(row["min_cos"], 4),
                          **{k: round(statistics.median(v), 2) for k, v in row.items() if isinstance(v, list)},
                          "rounds": {k: v for k, v in row.items() if isinstance(v, list)}}))


def _head(path: Path, count: int) -> list[str]:
    with path.open() as lines:
        return [next(lines) for _ in range(count)]


def build_graphs(directory: Path) -> dict[str, Path]:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    from ingest.embedder_base import model_fingerprint, resolve_model_path
    from ingest.onnx_export import ensure_export

    path = resolve_model_path("all-MiniLM-L6-v2")
    graphs = {name: ensure_export(path, directory, model_fingerprint(path), variant) for name, variant in
              (("fp32", "fp32"), ("int8", "int8"))}
    fused = optimizer.optimize_model(str(graphs["fp32"]), model_type="bert", num_heads=12, hidden_size=384)
    graphs["fused-fp32"] = directory / "fused-fp32.onnx"
    fused.save_model_to_file(str(graphs["fused-fp32"]))
    names = [n.name for n in onnx.load(str(graphs["fused-fp32"])).graph.node if n.op_type in ("MatMul", "Attention")]
    feed_forward = [n for n in names if "/intermediate/" in n or ("/output/dense" in n and "/attention/" not in n)]
    for name, exclude in (("fused-int8-attn", feed_forward), ("fused-int8-all", [])):
        graphs[name] = directory / f"{name}.onnx"
        quantize_dynamic(
            str(graphs["fused-fp32"]), str(graphs[name]), weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"], nodes_to_exclude=exclude,
            extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    return graphs


class GraphBench:
    def __init__(self, texts: list[str]) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers import AutoTokenizer

        from ingest.embedder_base import resolve_model_path

        path = resolve_model_path("all-MiniLM-L6-v2")
        torch.set_num_threads(1)
        self.texts = texts
        self.reference = SentenceTransformer(path, device="cpu").encode(texts, normalize_embeddings=True)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.sessions: dict[tuple[Path, int], object] = {}

    def session(self, path: Path, threads: int):  # noqa: ANN201
        from ingest.onnx_export import ort_session

        if (path, threads) not in self.sessions:  # made once: a session takes far longer to start than to run
            self.sessions[(path, threads)] = ort_session(path, threads)
        return self.sessions[(path, threads)]

    def embed(self, path: Path, texts: list[str], threads: int) -> np.ndarray:
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="np")
        feed = {k: encoded[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
        hidden = self.session(path, threads).run(None, feed)[0]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def min_cosine(self, path: Path) -> float:
        vectors = np.concatenate([self.embed(path, self.texts[i : i + 8], 1) for i in range(0, len(self.texts), 8)])
        return float((vectors * self.reference).sum(axis=1).min())

    def query_cpu_ms(self, path: Path, queries: list[str]) -> float:
        self.embed(path, queries[:1], 1)
        started = time.process_time()
        for text in queries:
            self.embed(path, [text], 1)
        return (time.process_time() - started) * 1000 / len(queries)

    def batch_docs_per_s(self, path: Path, docs: list[str]) -> float:
        self.embed(path, docs[:2], 2)
        started = time.perf_counter()
        for i in range(0, len(docs), 16):
            self.embed(path, docs[i : i + 16], 2)
        return len(docs) / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
