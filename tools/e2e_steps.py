"""The digits e2e tests' measurements at other step counts: can a test train less?

Each slow e2e test trains a shipped digits config for a fixed number of steps
and checks what it made. This tool trains the same config at `--steps` for
each seed and reports the numbers that test asserts, so a shorter test can be
judged on several seeds before its step count or thresholds change:

- `dcgan` (tests/test_dcgan_e2e.py) and `wgan_gp` (tests/test_wgan_e2e.py):
  the share of 1,000 samples the independent scikit-learn classifier reads with
  p > 0.5, and the rarest digit's share; wgan_gp also its gradient penalty.
- `infogan` (tests/test_control_e2e.py): the categorical code's matched
  accuracy and Q's accuracy on the real test split.
- `cgan` and `acgan` (tests/test_control_e2e.py): requested-class accuracy by
  the run's report (digits CNN) and by the pixel judge.
- `ssgan` (tests/test_ssgan_e2e.py): D's test error with 100 labels (label
  subset 0) and that of the same D trained on the labels alone.
- `dcgan_fashion_mnist` (tests/test_fashion_mnist_e2e.py: the Fashion-MNIST
  config at width 32): fmnist-FID and the classes covered by 10,000 samples,
  scored as tools/fashion_mnist_table.py scores.

`--mixed_precision` sets `train.mixed_precision` (default: the config's,
`auto`); each row records the precision the run trained in.

    python tools/e2e_steps.py --kind dcgan --steps 500 --seeds 0,1,2
    python tools/e2e_steps.py --kind dcgan_fashion_mnist --steps 1000 --mixed_precision off

Prints one JSON line per run and appends it to tools/results/e2e_steps.json.
"""

import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import machine  # noqa: E402

CONFIGS = {"dcgan": "dcgan_digits", "wgan_gp": "wgan_gp_digits", "infogan": "infogan_digits",
           "dcgan_fashion_mnist": "dcgan_fashion_mnist", "cgan": "cgan_digits",
           "acgan": "acgan_digits", "ssgan": "ssgan_digits"}
# kind -> the test's overrides of its config.
TEST_OVERRIDES = {"dcgan_fashion_mnist": ["model.width=32"],
                  "ssgan": ["model.options.label_seed=0"]}
RESULTS = os.path.join(ROOT, "tools", "results", "e2e_steps.json")


def _train(kind, steps, seed, mixed_precision, *overrides):
    from ganzoo import train_lib

    config = train_lib.resolve_config(
        config_file=os.path.join(ROOT, "configs", f"{CONFIGS[kind]}.yaml"),
        overrides=[f"train.steps={steps}", f"train.seed={seed}", *TEST_OVERRIDES.get(kind, []),
                   *([f"train.mixed_precision={mixed_precision}"] if mixed_precision else []),
                   *overrides])
    with tempfile.TemporaryDirectory() as tmp:
        return train_lib.run(config, os.path.join(tmp, "run"), verbose=0)


def measure(kind, steps, seed, mixed_precision=None):
    import numpy as np
    from test_dcgan_e2e import independent_digits_classifier

    from ganzoo import precision

    start = time.time()
    result = _train(kind, steps, seed, mixed_precision)
    gan = result["model"]
    out = {"kind": kind, "steps": steps, "seed": seed, "seconds": round(time.time() - start, 1),
           # `auto` by default: bf16 for dcgan on a CPU with bf16 (hardware.default_precision).
           "mixed_precision": precision.mode_of(gan.generator, gan.discriminator)}
    if kind == "dcgan_fashion_mnist":
        import fashion_mnist_table

        scores = fashion_mnist_table.score(gan.generate(fashion_mnist_table.NUM_SAMPLES, seed=0))
        return {**out, **{k: scores[k] for k in ("fid", "classes_covered", "class_counts")}}
    if kind in ("cgan", "acgan"):
        from ganzoo.data.digits import digits_arrays
        from ganzoo.metrics import control

        pixels = control.pixel_logistic_regression(*digits_arrays("train", 16))
        return {**out, "class_accuracy": result["report"]["class_accuracy"],
                "pixel_class_accuracy": control.conditional_class_accuracy(
                    gan, pixels)["class_accuracy"]}
    if kind == "ssgan":
        baseline = _train(kind, steps, seed, mixed_precision,
                          "model.options.unsupervised_weight=0")
        return {**out, "test_error": result["report"]["test_error"],
                "baseline_test_error": baseline["report"]["test_error"]}
    if kind == "infogan":
        report = result["report"]
        return {**out, "code_accuracy": report["code_accuracy"],
                "q_test_accuracy": report["q_test_accuracy"]}
    images = np.asarray(result["model"].generate(1000, seed=123))  # the tests' sample seed
    probs = independent_digits_classifier(images.shape[1]).predict_proba(
        images.reshape(len(images), -1))
    confident = probs.max(1) > 0.5
    counts = np.bincount(probs.argmax(1)[confident], minlength=10)
    out.update(confident=float(confident.mean()), rarest=float(counts.min() / len(images)))
    if kind == "wgan_gp":
        out["gradient_penalty"] = float(result["metrics"]["gradient_penalty"])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind", choices=sorted(CONFIGS), required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--mixed_precision", choices=("off", "bf16", "auto"))
    parser.add_argument("--worker_seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_seed is not None:
        print("RESULT " + json.dumps(measure(args.kind, args.steps, args.worker_seed,
                                             args.mixed_precision)))
        return
    import subprocess
    for seed in (int(s) for s in args.seeds.split(",")):
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), f"--kind={args.kind}",
                               f"--steps={args.steps}", f"--worker_seed={seed}",
                               *([f"--mixed_precision={args.mixed_precision}"]
                                 if args.mixed_precision else [])],
                              capture_output=True, text=True, check=True,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        row = {**json.loads(proc.stdout.split("RESULT ", 1)[1]), "cpu": machine.describe()}
        print(json.dumps(row), flush=True)
        rows = []
        if os.path.exists(RESULTS):
            with open(RESULTS) as f:
                rows = json.load(f)["rows"]
        with open(RESULTS, "w") as f:
            json.dump({"rows": rows + [row]}, f, indent=1)


if __name__ == "__main__":
    main()
