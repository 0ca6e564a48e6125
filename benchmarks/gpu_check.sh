#!/usr/bin/env bash
# The GPU check, one command on a machine with a CUDA GPU: `make gpu-check` (or `bash benchmarks/gpu_check.sh`).
#  1. installs the fast-kernel extras: flash-linear-attention (+ fla-core), and causal-conv1d where it builds
#     (it needs nvcc); from a local wheel folder ($GENTREND_WHEELS, default ./wheels) when there is one, else
#     from the package index; never another torch (--no-deps);
#  2. runs a quick GPU report (two small models, compiled backend, int8/int4 rows);
#  3. runs the hand-written reference decode loop on the same model and point;
#  4. prints a one-screen summary (benchmarks/gpu_summary.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
WHEELS=${GENTREND_WHEELS:-wheels}
MODELS=${GPU_CHECK_MODELS:-"qwen2.5-1.5b qwen3.5-0.8b"}
LOOP_MODEL=${MODELS%% *}

$PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu-check: no CUDA GPU visible to torch')"
index=()
if [ -d "$WHEELS" ]; then index=(--no-index --find-links "$WHEELS"); fi
$PY -m pip install --quiet "${index[@]}" einops \
  && $PY -m pip install --quiet --no-deps "${index[@]}" fla-core flash-linear-attention \
  || echo "gpu-check: flash-linear-attention not installed: the gated delta rule runs the torch reference (rows say so)"
$PY -m pip install --quiet --no-deps --no-build-isolation "${index[@]}" causal-conv1d \
  || echo "gpu-check: causal-conv1d not installed (it builds with nvcc): conv1d runs the torch reference (rows say so)"

RUN=gpu-check-$(date +%Y%m%d-%H%M%S)
REPORTS=$($PY -c "from gentrend.core import paths; print(paths.reports_dir())")
# shellcheck disable=SC2086
$PY -m gentrend.cli report --device cuda --mode synthetic --models $MODELS --no-pdf --run-id "$RUN"
$PY benchmarks/reference_loop.py --model "$LOOP_MODEL" --device cuda --json "$REPORTS/$RUN/results/reference_loop.json"
$PY benchmarks/gpu_summary.py "$REPORTS/$RUN"
