#!/usr/bin/env bash
# The GPU checks, as one script for a lent GPU machine (the workplace's `device` tool): the CUDA
# tests, the docs examples on the GPU, and the GPU benchmark, in under 8 minutes on one H200.
#
# That machine has its own Python 3.12 with torch and torchvision but not all of visionblocks'
# dependencies, and no network. Prepare the missing wheels here once (they travel in .whl/):
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl fastapi starlette pydantic pydantic-core annotated-types typing-inspection uvicorn \
#     python-multipart polib babel sybil swagger-ui-bundle-v2 httptools
#
# then run it there with `.whl` carried:   bash benchmarks/gpu_check.sh
# Everything it prints also lands in $OUT (when set) so the log comes back.
set -uo pipefail
OUT="${OUT:-/tmp/gpu-check}"
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1

started=$(date +%s)
step() { echo; echo "== $1 ($(( $(date +%s) - started )) s)"; }

step "install (no dependencies: the machine's torch stays)"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__,
"cuda", torch.cuda.is_available(), torch.cuda.device_count(), "GPU(s)")'

export VISIONBLOCKS_OFFLINE=1 PYTHONUNBUFFERED=1
status=0

step "CUDA tests"
timeout 240 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_models.py -k "cuda or precision" \
  || status=1

step "docs examples on the GPU (module pages, tutorial)"
VISIONBLOCKS_DEVICE=cuda timeout 150 python3 -m pytest -q -p no:cacheprovider docs/modules/*.md docs/tutorial.md \
  || status=1

step "benchmark: training and scoring, visionblocks vs plain torchvision"
timeout 150 python3 benchmarks/bench_gpu.py --images 2000 --arch resnet50 --repeat 2 --json "$OUT/bench_gpu.json" \
  || status=1

step "done, status $status"
exit $status
