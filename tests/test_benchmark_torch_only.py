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
