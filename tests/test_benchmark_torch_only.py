"""tools/benchmark.py --torch_only: its saved reference and rebuilding a cut-off run's section.

The GPU machines this project is lent carry PyTorch but no TensorFlow, so the
twin reads ganzoo's dcgan config and GFLOP counts from a saved file there; these
tests keep that file in step with ganzoo and check the log parser that turned a
run cut off by its time limit into tools/results/gpu_check (no torch needed).
"""

import argparse
import json

from gan_test_utils import load_tool

benchmark = load_tool("benchmark")


def test_saved_reference_is_ganzoos_current_dcgan_config():
    with open(benchmark.REFERENCE) as f:
        saved = json.load(f)
    fresh = benchmark.reference_payload(sizes=(28,))
    assert saved["config"] == json.loads(json.dumps(fresh["config"])), (
        "ganzoo's dcgan config changed: run `python tools/benchmark.py --save_reference`")
    assert abs(saved["gflop_per_image"]["28"] - fresh["gflop_per_image"]["28"]) < 1e-9


def test_from_log_rebuilds_medians_and_marks_missing_modes(tmp_path):
    log = tmp_path / "run.log"
    log.write_text(
        "== PyTorch twin alone (4 s so far)\n"
        "round 1 28px eager fp32 on cuda:0: 100 img/s (repeats 90, 100, 110)\n"
        "round 1 28px channels_last fp32 on cuda:0: 120 img/s (repeats 120, 121, 119)\n"
        "round 1 28px eager bf16 autocast on cuda:0: 80 img/s (repeats 80, 81, 79)\n"
        "round 2 28px eager fp32 on cuda:0: 140 img/s (repeats 140, 141, 139)\n"
        "noise that is not a measurement\n")
    (tmp_path / "device.json").write_text(json.dumps({"torch_gpus": ["Some GPU"],
                                                      "torch": "2.11"}))
    args = argparse.Namespace(from_log=str(log), width=64, batch=64, repeats=3, channels=0)
    payload = benchmark.torch_alone_from_log(args)
    row, = payload["rows"]
    assert row["image"] == "28x28x3" and payload["gpu"] == "Some GPU"
    assert row["torch"]["median"] == 120
    assert (row["torch"]["min"], row["torch"]["max"]) == (100, 140)
    assert row["torch_cl_bf16"] is None
    assert "cut off" in payload["protocol"] and "1-2 interleaved rounds" in payload["protocol"]
    table = "\n".join(benchmark.torch_alone_table(payload))
    assert "| 28x28x3 | 120 (100-140) | 120 (120-120) | 80 (80-80) | - |" in table
    # The best mode times the saved GFLOP per image.
    assert f"{120 * row['gflop_per_image']:.0f} |" in table


# tools/twin_gpu_fashion_mnist.py: what travels to the GPU machine, and its table.
twin_gpu = load_tool("twin_gpu_fashion_mnist")


def test_twin_configs_are_the_shipped_fashion_mnist_configs():
    configs = json.loads(json.dumps(twin_gpu.resolved_configs(["dcgan", "wgan_gp"])))
    assert [c["model"]["name"] for c in configs.values()] == ["dcgan", "wgan_gp"]
    # The steps and batch of the CPU table's rows, so the GPU rows sit beside them.
    assert (configs["dcgan"]["train"]["steps"], configs["wgan_gp"]["train"]["steps"]) == (
        10000, 2500)
    assert configs["dcgan"]["train"]["batch_size"] == 64


def test_twin_gpu_table_sets_gpu_seeds_beside_the_cpu_rows():
    scores = {"kid": 0.5, "precision": 0.7, "recall": 0.6, "classes_covered": 10}
    gpu = {f"dcgan_s{s}": {"family": "dcgan", "gpu": "Some GPU", "steps": 100, "seed": s,
                           "fid": fid, "train_seconds": t, "images_per_second": r, **scores}
           for s, fid, t, r in ((0, 10.0, 7.0, 900.0), (1, 12.0, 9.0, 700.0))}
    cpu = [{"job": {"row": "dcgan", "framework": fw, "seed": 0}, "steps": 100, "fid": fid,
            "train_seconds": 90.0, "images_per_second": 70.0, **scores}
           for fw, fid in (("pytorch", 11.0), ("ganzoo", 9.0))]
    cpu.append(dict(cpu[0], steps=50))  # another length: not this row's neighbour
    lines = twin_gpu.render(gpu, cpu).splitlines()
    rows = [line for line in lines if line.startswith("| dcgan")]
    assert rows[0].startswith("| dcgan | pytorch | Some GPU | 100 | 0,1 | 11.0 ± 1.4 |")
    assert rows[0].endswith("| 8 | 800 |")
    assert rows[1].startswith("| dcgan | pytorch | CPU, 2 cores | 100 | 0 | 11.0 |")
    assert rows[2].startswith("| dcgan | ganzoo | CPU, 2 cores | 100 | 0 | 9.0 |")
    assert len(rows) == 3
