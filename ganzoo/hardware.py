"""What this machine computes fastest: the measured defaults of a run's step.

`fast_path` (XLA or graph mode) and `default_precision` (what
`train.mixed_precision: auto` means) read the kind of device and, on CPUs, the
vector units from `/proc/cpuinfo`; each returns its choice with the reason,
which `ganzoo.train_lib.run` records in run.json (`"speed"`). Every choice
cites the measurement behind it.
"""

import os

import tensorflow as tf


def _cpu_flags():
    """This CPU's feature flags (Linux `/proc/cpuinfo`; None where unknown)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def cpu_has_avx512():
    """Whether this CPU has AVX-512 (Linux `/proc/cpuinfo`; None where unknown)."""
    flags = _cpu_flags()
    return None if flags is None else "avx512f" in flags


def cpu_has_bf16():
    """Whether this CPU multiplies bfloat16 natively (AVX512_BF16 or AMX; None where unknown)."""
    flags = _cpu_flags()
    return None if flags is None else bool(flags & {"avx512_bf16", "amx_bf16"})


def fast_path(strategy, task=None, config=None):
    """`(jit_compile, reason)`: the default of `train.jit_compile` here, and why.

    Per kind of device. GPUs: XLA, not measured with ganzoo (the GPU
    machines lent had no TensorFlow); there the batch-64 DCGAN step of the
    PyTorch twin was bound by per-kernel overhead, not arithmetic (6.7 ms at
    28 px, 10.4 ms at 64 px for 14x the work; tools/results/gpu_check), which
    is what XLA's fusion removes. Measured on CPUs: with
    oneDNN on (ganzoo's default) the answer depends on the CPU: with AVX-512,
    graph mode beat XLA, whose CPU code generator does not use oneDNN (2,310 vs
    1,252 img/s for the 16 px DCGAN, 78 vs 55 img/s at 64 px; tools/benchmark.py
    --grid); on an AVX2-only CPU XLA's fused step was 1.24-1.94x faster for every
    Fashion-MNIST config but two (tools/results/step_rate.md): a family's
    `Task.xla_on_avx2_cpu(config)` keeps graph mode where XLA was no faster
    (ssgan, acgan). With oneDNN off XLA
    doubles speed. XLA fails with multi-replica CPU strategies.
    `train_lib.run` records both in run.json (`"speed"`), with the precision mode.
    """
    if tf.config.list_physical_devices("GPU"):
        return True, ("a GPU: XLA fuses the step's kernels (chosen, not measured with ganzoo: "
                      "the PyTorch twin's step was overhead-bound on an H200, "
                      "tools/results/gpu_check)")
    if strategy.num_replicas_in_sync > 1:
        return False, "XLA does not support multi-replica CPU strategies"
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") == "0":
        return True, "CPU with oneDNN off: XLA was about 2x graph mode (tools/benchmark.py)"
    if cpu_has_avx512() is False:
        if task is not None and not task.xla_on_avx2_cpu(config):
            return False, (f"CPU without AVX-512, but {config.model.name}'s step was no faster "
                           "under XLA there (tools/results/step_rate.md)")
        return True, ("CPU without AVX-512: XLA was 1.24-1.94x graph mode with oneDNN on an "
                      "AVX2-only CPU (tools/results/step_rate.md)")
    return False, ("CPU with oneDNN on and AVX-512: graph mode beat XLA, whose CPU code does "
                   "not use oneDNN (tools/benchmark.py, --grid)")


def default_precision(strategy, task=None, config=None):
    """`(mode, reason)`: what `train.mixed_precision: auto` means for this run here.

    bf16 only where it was measured to be faster without costing quality: a
    CPU that multiplies bf16 natively (oneDNN's bf16 matmul ran 787 against
    float32's 471 GFLOP/s on the AVX-512 bf16 EPYC), one replica, and a family
    whose `Task.bf16_on_cpu(config)` says its Fashion-MNIST config trained
    faster in bf16 to the same fmnist-FID over 3 seeds (tools/results/
    precision.md, step_rate.md). float32 everywhere else: on GPUs ganzoo has
    not been measured (the GPU machines lent had no TensorFlow), and the
    PyTorch twin's DCGAN step was no faster under bf16 autocast on an H200
    (27,735 vs 30,653 img/s at batch 256: bound by per-kernel overhead, which
    the casts add to; tools/results/gpu_check); without bf16 instructions
    oneDNN emulates it.
    `train_lib.run` records the mode and this reason in run.json (`"speed"`).
    """
    if tf.config.list_physical_devices("GPU"):
        return "off", ("a GPU: float32; ganzoo is unmeasured on GPUs, and the PyTorch twin's "
                       "step was no faster in bf16 autocast on an H200 (tools/results/gpu_check)")
    if not cpu_has_bf16():
        return "off", "a CPU without bf16 instructions (AVX512_BF16 or AMX): float32"
    if strategy.num_replicas_in_sync > 1:
        return "off", "several replicas: bf16 was measured with one; float32"
    if task is None or not task.bf16_on_cpu(config):
        name = config.model.name if config is not None else "this model"
        return "off", (f"a CPU with bf16, but {name} has not been measured faster at the same "
                       "quality in bf16 (tools/results/precision.md): float32")
    return "bf16", (f"a CPU with bf16: {config.model.name}'s Fashion-MNIST config trained faster "
                    "in bf16 to the same fmnist-FID over 3 seeds (tools/results/precision.md, "
                    "step_rate.md)")
