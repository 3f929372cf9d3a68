#!/usr/bin/env bash
# The GPU checks of the speed issue, as one short script (under 10 minutes on a
# GPU): the oneDNN x XLA grid (on a GPU: XLA on/off), float32 vs bf16 vs fp16,
# the PyTorch side-by-side when torch is installed, and a short Fashion-MNIST
# DCGAN run scored with the shipped classifier. Everything it writes goes to
# one folder (default tools/results/gpu_check; $OUT on the project's device
# machine), never over the CPU results in tools/results/benchmark.json.
#
#   bash tools/gpu_check.sh                       # needs a GPU visible to TensorFlow
#   ALLOW_CPU=1 QUICK=1 bash tools/gpu_check.sh   # dry run of the script on a CPU
#
# Environment: PYTHON (default python), OUT (output folder), FMNIST_STEPS
# (default 2000), QUICK=1 (tiny sizes and steps: checks the script, measures nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
OUT_DIR="${OUT:-tools/results/gpu_check}"
mkdir -p "$OUT_DIR"
STEPS="${FMNIST_STEPS:-2000}"
SIZES=(28 64)
ROUNDS=(--rounds 1 --repeats 2)
if [ "${QUICK:-0}" = 1 ]; then
  STEPS=20; SIZES=(16); ROUNDS=(--rounds 1 --repeats 1 --steps 5 --warmup 1)
fi
start=$(date +%s)

"$PY" - "$OUT_DIR/device.json" <<'EOF'
import json, platform, sys
import tensorflow as tf
gpus = tf.config.list_physical_devices("GPU")
info = {"tensorflow": tf.__version__, "machine": platform.node(),
        "gpus": [tf.config.experimental.get_device_details(g) for g in gpus],
        "cuda_build": tf.test.is_built_with_cuda()}
json.dump(info, open(sys.argv[1], "w"), indent=1)
print(json.dumps(info))
EOF
if ! "$PY" -c "import json,sys; sys.exit(0 if json.load(open('$OUT_DIR/device.json'))['gpus'] else 1)"; then
  if [ "${ALLOW_CPU:-0}" != 1 ]; then
    echo "error: TensorFlow sees no GPU here (see $OUT_DIR/device.json); run this on a GPU" \
         "machine, or set ALLOW_CPU=1 for a dry run" >&2
    exit 2
  fi
  echo "warning: no GPU; a dry run on the CPU (ALLOW_CPU=1)" >&2
fi

export GANZOO_BENCHMARK_RESULTS="$OUT_DIR"
step() { echo "== $1 ($(( $(date +%s) - start )) s so far)"; }
step "XLA on/off (tools/benchmark.py --grid)"
timeout 240 "$PY" tools/benchmark.py --grid --sizes "${SIZES[@]}" "${ROUNDS[@]}"
step "mixed precision (tools/benchmark.py --mixed_precision off bf16 fp16)"
timeout 180 "$PY" tools/benchmark.py --mixed_precision off bf16 fp16 --sizes "${SIZES[-1]}" \
  "${ROUNDS[@]}"
if "$PY" -c "import torch" 2>/dev/null; then
  step "ganzoo vs PyTorch (tools/benchmark.py)"
  timeout 180 "$PY" tools/benchmark.py --sizes "${SIZES[@]}" "${ROUNDS[@]}"
else
  echo "torch is not installed: no side-by-side (pip install -e '.[reference]')"
fi

step "Fashion-MNIST DCGAN, $STEPS steps"
RUN="$OUT_DIR/dcgan_fashion_mnist"
rm -rf "$RUN"
timeout 300 "$PY" -m ganzoo.train --config=dcgan_fashion_mnist --steps="$STEPS" \
  --model_dir="$RUN" --set train.sample_every="$STEPS" --set train.checkpoint_every="$STEPS"
timeout 120 "$PY" -m ganzoo.evaluate --model_dir="$RUN" --metrics=fid,kid,pr,classes \
  --num_samples=10000 > /dev/null

"$PY" - "$OUT_DIR" "$(( $(date +%s) - start ))" <<'EOF'
import json, os, sys
out, seconds = sys.argv[1], int(sys.argv[2])
run = os.path.join(out, "dcgan_fashion_mnist")
summary = {
    "device": json.load(open(os.path.join(out, "device.json"))),
    "benchmark": json.load(open(os.path.join(out, "benchmark.json"))),
    "fashion_mnist": {"run.json": json.load(open(os.path.join(run, "run.json"))),
                      "metrics": json.load(open(os.path.join(run, "metrics.json")))},
    "seconds": seconds,
}
json.dump(summary, open(os.path.join(out, "gpu_check.json"), "w"), indent=1)
print(f"wrote {out}/gpu_check.json and benchmark.md ({seconds} s)")
EOF
