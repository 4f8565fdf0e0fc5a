#!/usr/bin/env bash
# The GPU path, checked end to end (issue 15.4): train a small run with --device cuda, bundle, verify and
# replay it, then verify and replay the CUDA-trained bundle on CPU, and print GPU training throughput.
# Run from the repository root after `dvc repro contract`, on a machine with CUDA and the GPU build of torch:
#     bash scripts/gpu_check.sh [samples, default 20000]
# Exit 0 when every step passed; the figures are printed at the end (and in $OUT/gpu_check.json if OUT is set).
set -euo pipefail
SAMPLES=${1:-20000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gx1-gpu-check.XXXXXX")
M=gx1/models/entry_v9/nextgen_2020_2025_clean
export ENTRY_CONTEXT_FEATURES_ENABLED=true
python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device visible to torch: nothing to check')"
python3 -c "import torch; print('device:', torch.cuda.get_device_name(0), '| torch', torch.__version__)"
train() {  # out_dir device extra...
  local out=$1 device=$2; shift 2
  python3 -m gx1.models.entry_v10.entry_v10_ctx_train --data data/entry_v9/full_2025.parquet --out_dir "$out" \
    --feature_meta_path $M/entry_v9_feature_meta.json --seq_scaler_path $M/seq_scaler.joblib \
    --snap_scaler_path $M/snap_scaler.joblib --seq_len 30 --batch_size 64 --epochs 1 --device "$device" --seed 1337 \
    --log_every 1000 --learning_rate 1e-4 --limit_samples "$SAMPLES" --holdout_days 7 "$@"
}
train "$WORK/cuda" cuda | tail -3
python3 -m gx1.bundle --train_dir "$WORK/cuda" --out "$WORK/cuda_bundle"
python3 scripts/verify_entry_v10_ctx_bundle.py --bundle_dir "$WORK/cuda_bundle" --feature_meta_path $M/entry_v9_feature_meta.json | tail -1
# the runtime is CPU (replay builds its inputs on CPU): a CUDA-trained bundle verifies and replays there
CUDA_VISIBLE_DEVICES= python3 scripts/verify_entry_v10_ctx_bundle.py --bundle_dir "$WORK/cuda_bundle" --feature_meta_path $M/entry_v9_feature_meta.json | tail -1
CUDA_VISIBLE_DEVICES= python3 -m gx1.replay --bundle_dir "$WORK/cuda_bundle" --data data/entry_v9/full_2025.parquet --out_dir "$WORK/replay"
python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
metrics = json.load(open(f"{work}/cuda/metrics.json"))
figures = {"samples": metrics["dataset_len"], "gpu_samples_per_s_batch64": metrics["avg_throughput_samples_per_s"],
           "five_fullyear_epochs_s_projected": 5 * 66938 / metrics["avg_throughput_samples_per_s"],
           "peak_gpu_memory_mb": metrics["peak_gpu_memory_mb"], "direction_auc": json.load(open(f"{work}/replay/replay.json"))["model_quality"]["direction_auc"]}
print(json.dumps(figures, indent=2))
import os
if os.environ.get("OUT"):
    json.dump(figures, open(os.path.join(os.environ["OUT"], "gpu_check.json"), "w"), indent=2)
PY
