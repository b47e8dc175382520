"""Scoring speed on the CPU: Score Image Model with PyTorch fp32 against onnxruntime, in one run.

Both sides run the whole Score Image Model module (loading the model, decoding, transforming,
scoring, writing the Parquet table) on the same JPEG photos of about 500×375 pixels resized to
224×224 (bench_score.py's synthesized photos), with resnet18 (random weights, 2 classes) and the
same batch size:

- torch: ``runtime`` torch, precision fp32 (BN folded into the convolutions, channels_last);
- onnx: ``runtime`` onnx on the folder ``visionblocks export`` wrote (export time reported
  apart, it is paid once per model).

    .venv/bin/python benchmarks/bench_onnx.py
    .venv/bin/python benchmarks/bench_onnx.py --images 200 --repeat 3

The sides take turns after a warm-up pass and each side's best pass is reported (the machine may
be shared; the best pass is the least disturbed one).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from visionblocks.learn import export

sys.path.insert(0, str(Path(__file__).parent))
# bench_score's photos, model, timed module pass and turns
from bench_score import SIZE, best_turns, photo_arguments, photo_setup, visionblocks_pass  # noqa: E402


def main() -> None:
    args = photo_arguments(__doc__.splitlines()[0]).parse_args()
    _, work, image_dir, _, model_dir = photo_setup(args, "bench_onnx-")
    start = time.perf_counter()
    exported = export.export_onnx(model_dir, work / "model_onnx").folder
    export_seconds = time.perf_counter() - start

    sides = {
        "torch fp32": lambda: visionblocks_pass(model_dir, image_dir, args.batch_size, "fp32", work / "torch",
                                                args.images, runtime="torch"),
        "onnxruntime": lambda: visionblocks_pass(exported, image_dir, args.batch_size, "fp32", work / "onnx",
                                                 args.images, runtime="onnx"),
    }
    print(f"{args.images} JPEG photos of about 500x375 -> {SIZE}x{SIZE}, resnet18, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads; export took {export_seconds:.1f} s", flush=True)
    best = best_turns(sides, args.repeat)
    ratio = best["onnxruntime"] / best["torch fp32"]
    print(f"\ntorch fp32   {best['torch fp32']:7.1f} images/s\nonnxruntime  {best['onnxruntime']:7.1f} images/s"
          f"  {ratio:4.2f}x torch fp32")
    if args.json:
        args.json.write_text(json.dumps({"images": args.images, "batch_size": args.batch_size,
                                         "export_seconds": export_seconds, "images_per_second": best,
                                         "onnx_over_torch": ratio}, indent=2))


if __name__ == "__main__":
    main()
