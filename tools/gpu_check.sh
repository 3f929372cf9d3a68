#!/usr/bin/env bash
# The GPU checks of the speed issue, as one short script (under 10 minutes on a
# GPU): the oneDNN x XLA grid (on a GPU: XLA on/off), float32 vs bf16 vs fp16,
# the PyTorch side-by-side when torch is installed, and a short Fashion-MNIST
# DCGAN run scored with the shipped classifier. Everything it writes goes to
# one folder (default tools/results/gpu_check; $OUT on the project's device
# machine), never over the CPU results in tools/results/benchmark.json. On a GPU
# machine without TensorFlow but with PyTorch (this project's lent machines:
# TensorFlow and its CUDA 12 libraries cannot be installed there) it times the
# PyTorch twin alone (`tools/benchmark.py --torch_only --device cuda`), says so,
# and exits 0.
#
#   bash tools/gpu_check.sh                       # needs a GPU visible to TensorFlow
#   ALLOW_CPU=1 QUICK=1 bash tools/gpu_check.sh   # dry run of the script on a CPU
#
# Environment: PYTHON (default python), OUT (output folder), FMNIST_STEPS
# (default 2000), QUICK=1 (tiny sizes and steps: checks the script, measures nothing).
# Torch-only branch: TWIN_BATCHES (default "64 256": which twin benchmarks to time; empty: none),
# TWIN_DATA (default .gpu_data: a folder from `tools/twin_gpu_fashion_mnist.py prepare`;
# when it exists the twins of dcgan and wgan_gp train on Fashion-MNIST there first),
# TWIN_SEEDS (default 0; each seed of both families takes about 160 s on an H200).
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

# What the machine has: TensorFlow's GPUs, else PyTorch's (the project's device
# machines carry PyTorch but no TensorFlow and cannot install it: README, Speed).
"$PY" - "$OUT_DIR/device.json" <<'EOF'
import json, platform, subprocess, sys
info = {"machine": platform.node(), "python": platform.python_version()}
try:
    import tensorflow as tf
    info.update(tensorflow=tf.__version__, cuda_build=tf.test.is_built_with_cuda(),
                gpus=[tf.config.experimental.get_device_details(g)
                      for g in tf.config.list_physical_devices("GPU")])
except ImportError as e:
    info.update(tensorflow=None, tensorflow_error=str(e), gpus=[])
try:
    import torch
    info.update(torch=torch.__version__, torch_cuda=torch.version.cuda,
                torch_gpus=[torch.cuda.get_device_name(i)
                            for i in range(torch.cuda.device_count())])
except ImportError:
    info.update(torch=None, torch_gpus=[])
try:
    info["nvidia_smi"] = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
         "--format=csv,noheader"], capture_output=True, text=True, timeout=30).stdout.strip()
except (OSError, subprocess.SubprocessError):
    info["nvidia_smi"] = None
json.dump(info, open(sys.argv[1], "w"), indent=1)
print(json.dumps(info))
EOF
has() { "$PY" -c "import json,sys; sys.exit(0 if json.load(open('$OUT_DIR/device.json'))['$1'] else 1)"; }
export GANZOO_BENCHMARK_RESULTS="$OUT_DIR"
step() { echo "== $1 ($(( $(date +%s) - start )) s so far)"; }

if ! has gpus && has torch_gpus; then
  # A GPU but no TensorFlow to run ganzoo on it: time the PyTorch twin alone (the
  # number ganzoo's GPU path will be held against) and say so.
  echo "warning: TensorFlow is not installed here (pip install 'tensorflow[and-cuda]'):" \
       "ganzoo cannot be measured; timing the PyTorch twin alone on the GPU" >&2
  # Each measurement is a fresh process (about 13 s on an H200 machine): 12 + 4 of them.
  # A run cut off by its limit still leaves a table, rebuilt from the lines it printed.
  twin() {  # twin LIMIT_S BATCH SIZES...
    local limit=$1 batch=$2; shift 2
    timeout "$limit" "$PY" tools/benchmark.py --torch_only --device cuda --batch "$batch" \
      --sizes "$@" --rounds "$([ "$batch" = 64 ] && echo 2 || echo 1)" --repeats 3 --steps 100 \
      --warmup 10 --max_repeat_s 3 | tee "$OUT_DIR/twin_batch$batch.log" ||
    "$PY" tools/benchmark.py --torch_only --batch "$batch" --from_log "$OUT_DIR/twin_batch$batch.log"
  }
  # Sections from earlier runs stay: benchmark.py replaces only the ones it measures.
  if [ ! -e "$OUT_DIR/benchmark.json" ] && [ -e tools/results/gpu_check/benchmark.json ]; then
    cp tools/results/gpu_check/benchmark.json "$OUT_DIR/"
  fi
  TWIN_DATA="${TWIN_DATA:-.gpu_data}"
  if [ -e "$TWIN_DATA/configs.json" ]; then
    # Samples come back to be scored where ganzoo runs (`... score`).
    step "PyTorch twins of dcgan and wgan_gp on Fashion-MNIST (tools/twin_gpu_fashion_mnist.py)"
    seeds=$(tr ',' '\n' <<< "${TWIN_SEEDS:-0}" | wc -l)
    timeout $(( 30 + 170 * seeds )) "$PY" tools/twin_gpu_fashion_mnist.py train "$TWIN_DATA" "$OUT_DIR" \
      --seeds "${TWIN_SEEDS:-0}" \
      $([ "${QUICK:-0}" = 1 ] && echo --steps 5) || echo "warning: the Fashion-MNIST twins stopped early" >&2
  else
    echo "no $TWIN_DATA/configs.json: no Fashion-MNIST twin run" \
         "(python tools/twin_gpu_fashion_mnist.py prepare $TWIN_DATA)"
  fi
  for batch in ${TWIN_BATCHES-64 256}; do
    step "PyTorch twin alone, batch $batch (tools/benchmark.py --torch_only --device cuda)"
    if [ "$batch" = 64 ]; then twin 420 64 28 32 64; else twin 150 "$batch" 64; fi
  done
  "$PY" - "$OUT_DIR" "$(( $(date +%s) - start ))" <<'EOF'
import json, os, sys
out, seconds = sys.argv[1], int(sys.argv[2])
summary = {"device": json.load(open(os.path.join(out, "device.json"))),
           "benchmark": json.load(open(os.path.join(out, "benchmark.json"))),
           "ganzoo": "not measured: TensorFlow is not installed on this machine",
           "seconds": seconds}
twins = os.path.join(out, "twin_fashion_mnist.json")
if os.path.exists(twins):
    summary["fashion_mnist_twins"] = json.load(open(twins))
json.dump(summary, open(os.path.join(out, "gpu_check.json"), "w"), indent=1)
print(f"wrote {out}/gpu_check.json and benchmark.md ({seconds} s)")
EOF
  exit 0
fi
if ! has gpus; then
  if [ "${ALLOW_CPU:-0}" != 1 ]; then
    echo "error: TensorFlow sees no GPU here (see $OUT_DIR/device.json); run this on a GPU" \
         "machine, or set ALLOW_CPU=1 for a dry run" >&2
    exit 2
  fi
  echo "warning: no GPU; a dry run on the CPU (ALLOW_CPU=1)" >&2
fi

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
