"""Does ONNX Runtime pay for CLIP's image tower? torch vs ONNX fp32 vs ONNX int8 on real photos.

No package here ships CLIP weights, so the tower is CLIP ViT-B/32's architecture (``CLIPConfig()``'s
defaults: 12 layers, width 768, 32-pixel patches, 224-pixel input) with random weights, seeded. Speed
does not depend on the weights' values, so the timings are those of a real ViT-B/32; quality cannot be
measured without real weights, so the fp32 export is only checked to give torch's vectors (max abs diff).

The photos are real (Caltech-101 subset, preprocessed by CLIP's own image processor). For one image
(what an image query costs) and for a batch (what image ingest costs), each backend takes its turn in
every round, with the thread policy latentspace uses (one thread for a single item, all cores for a batch);
medians over rounds and the ratio to torch are printed.

    python -m bench.clip_backends --images ../shared/data/caltech101-subset/images --rounds 5
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=Path("../shared/data/caltech101-subset/images"))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--single", type=int, default=20, help="single-image calls timed per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    pixels = load_pixels(args.images, args.batch)
    model = tower()
    paths = export(model, Path(tempfile.mkdtemp(prefix="ls-clip-onnx-")))
    runners = {"torch": torch_runner(model), **{k: ort_runner(p) for k, p in paths.items()}}
    reference = runners["torch"](pixels, os.cpu_count() or 1)
    for name, run in runners.items():
        diff = float(np.abs(run(pixels, os.cpu_count() or 1) - reference).max())
        print(json.dumps({"backend": name, "max_abs_diff_vs_torch": round(diff, 6)}))
    times: dict[str, dict[str, list[float]]] = {n: {"single_ms": [], "batch_img_per_s": []} for n in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            times[name]["single_ms"].append(single_ms(run, pixels, args.single))
            started = time.perf_counter()
            run(pixels, os.cpu_count() or 1)
            times[name]["batch_img_per_s"].append(len(pixels) / (time.perf_counter() - started))
    base = {k: statistics.median(v) for k, v in times["torch"].items()}
    for name, rows in times.items():
        medians = {k: round(statistics.median(v), 2) for k, v in rows.items()}
        ratios = {f"{k}_vs_torch": round(medians[k] / base[k], 2) for k in medians}
        print(json.dumps({"backend": name, **medians, **ratios}))


def load_pixels(root: Path, count: int) -> np.ndarray:
    """``count`` real photos (one per class, in name order) as CLIP pixel values, float32 NCHW."""
    from PIL import Image
    from transformers import CLIPImageProcessor

    files = [sorted(d.glob("*.jpg"))[0] for d in sorted(root.iterdir()) if d.is_dir()][:count]
    if len(files) < count:
        raise SystemExit(f"{root}: found {len(files)} class folders with photos, need {count}")
    images = [Image.open(f).convert("RGB") for f in files]
    return CLIPImageProcessor()(images=images, return_tensors="np")["pixel_values"].astype(np.float32)


def tower():  # noqa: ANN201
    """CLIP ViT-B/32's image tower (vision transformer + projection), random weights, seeded."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig()).eval()

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.vision, self.projection = model.vision_model, model.visual_projection

        def forward(self, pixel_values):  # noqa: ANN001, ANN202
            return self.projection(self.vision(pixel_values=pixel_values).pooler_output)

    return ImageTower().eval()


def export(model, directory: Path) -> dict[str, Path]:  # noqa: ANN001
    """fp32 ONNX by torch.onnx, and int8 by onnxruntime's dynamic quantization of every MatMul."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32, int8 = directory / "clip-image.onnx", directory / "clip-image-int8.onnx"
    sample = torch.zeros(1, 3, 224, 224)
    torch.onnx.export(
        model, (sample,), str(fp32), input_names=["pixel_values"], output_names=["embeds"],
        dynamic_axes={"pixel_values": {0: "batch"}, "embeds": {0: "batch"}}, opset_version=17, dynamo=False,
    )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
    return {"onnx": fp32, "onnx-int8": int8}


def torch_runner(model):  # noqa: ANN001, ANN201
    import torch

    def run(pixels: np.ndarray, threads: int) -> np.ndarray:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            return model(torch.from_numpy(pixels)).numpy()

    return run


def ort_runner(path: Path):  # noqa: ANN201
    import onnxruntime

    sessions = {}
    for threads in sorted({1, os.cpu_count() or 1}):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sessions[threads] = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(pixels: np.ndarray, threads: int) -> np.ndarray:
        return sessions[threads].run(None, {"pixel_values": pixels})[0]

    return run


def single_ms(run, pixels: np.ndarray, calls: int) -> float:  # noqa: ANN001
    """Median milliseconds of one single-image call (one thread, as an image query runs)."""
    times = []
    for i in range(calls):
        started = time.perf_counter()
        run(pixels[i % len(pixels)][None], 1)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    main()
