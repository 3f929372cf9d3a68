"""Re-creates the presets shipped in `ganzoo/presets/` (one per model family).

Each preset is trained from its `configs/<family>_digits.yaml` with the
overrides below (narrower networks keep every preset file small), with a fixed
seed and TF op determinism on (`train.deterministic`), so a rerun on the same
software and CPU reproduces the weights bit for bit. The run directory goes to
`--work_dir`; the preset (model.keras, config.yaml, card.json with the metrics)
to `ganzoo/presets/<name>/`.

    python tools/train_presets.py                      # all of them
    python tools/train_presets.py --presets dcgan_digits cgan_digits
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (config file, --set overrides, one-line description)
PRESETS = {
    "dcgan_digits": ("dcgan_digits.yaml", ["model.width=32"],
                     "DCGAN (Radford et al. 2015), 16x16 digits, width 32."),
    "wgan_digits": ("wgan_digits.yaml", [],
                    "WGAN with weight clipping (Arjovsky et al. 2017), 16x16 digits, width 32."),
    "wgan_gp_digits": ("wgan_gp_digits.yaml", [],
                       "WGAN-GP (Gulrajani et al. 2017), layer-norm critic, 16x16 digits."),
    "ssgan_digits": ("ssgan_digits.yaml", ["model.width=16"],
                     "Semi-supervised GAN (Salimans et al. 2016), 100 labels, feature "
                     "matching, MLP networks at a quarter of the paper's width."),
    "vanilla_digits": ("vanilla_digits.yaml",
                       ["model.width=64", "model.generator={units: [256, 256]}"],
                       "The 2014 GAN (Goodfellow et al.): MLP G 256-256, maxout D 64x5."),
    "cgan_digits": ("cgan_digits.yaml", [],
                    "Conditional GAN (Mirza & Osindero 2014), projection D, 16x16 digits."),
    "acgan_digits": ("acgan_digits.yaml", [],
                     "AC-GAN (Odena et al. 2017), 16x16 digits, width 32."),
    "infogan_digits": ("infogan_digits.yaml", ["model.width=16"],
                       "InfoGAN (Chen et al. 2016): Cat(10) + 2 continuous codes, no labels, "
                       "the paper's networks at a quarter width."),
    # Real Fashion-MNIST, 28x28 (apt-get install dataset-fashion-mnist). Width 32
    # (16 for the two large families) keeps each file a few megabytes.
    "dcgan_fashion_mnist": ("dcgan_fashion_mnist.yaml", ["model.width=32"],  # its 10,000 steps
                            "DCGAN (Radford et al. 2015), Fashion-MNIST 28x28, width 32."),
    "wgan_gp_fashion_mnist": ("wgan_gp_fashion_mnist.yaml",
                              ["model.width=32"],  # its 2,500 steps
                              "WGAN-GP (Gulrajani et al. 2017), layer-norm critic, "
                              "Fashion-MNIST 28x28, width 32."),
    "cgan_fashion_mnist": ("cgan_fashion_mnist.yaml", ["model.width=32"],  # its 8,000 steps
                           "Conditional GAN, projection D, Fashion-MNIST 28x28, width 32."),
    "acgan_fashion_mnist": ("acgan_fashion_mnist.yaml", ["model.width=32"],  # its 24,000 steps
                            "AC-GAN (Odena et al. 2017), Fashion-MNIST 28x28, width 32."),
    # Width 12: at 16 the 28x28 networks' fully-connected layers make a 10.6 MB file.
    "infogan_fashion_mnist": ("infogan_fashion_mnist.yaml",
                              ["model.width=12"],  # its 5,000 steps
                              "InfoGAN (Chen et al. 2016), Cat(10) + 2 continuous codes, no "
                              "labels, Fashion-MNIST 28x28, 3/16 of the paper's width."),
    "ssgan_fashion_mnist": ("ssgan_fashion_mnist.yaml", ["model.width=16", "train.steps=3000"],
                            # At its config's 6,000 steps this quarter-width preset
                            # classified worse (35.2% test error vs 33.1%).
                            "Semi-supervised GAN (Salimans et al. 2016), 100 labels, "
                            "Fashion-MNIST, MLP networks at a quarter of the paper's width."),
}


def train_preset(name, work_dir, extra_overrides=()):
    """Trains one preset's run (deterministic) into `work_dir/name`."""
    from ganzoo import train_lib

    config_file, overrides, description = PRESETS[name]
    config = train_lib.resolve_config(
        None, os.path.join(ROOT, "configs", config_file),
        [*overrides, "train.deterministic=true", "train.seed=0", *extra_overrides])
    run_dir = os.path.join(work_dir, name)
    shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run, never a resume
    start = time.time()
    train_lib.run(config, run_dir, verbose=2)
    with open(os.path.join(run_dir, "training_seconds.txt"), "w") as f:
        f.write(f"{time.time() - start:.1f}\n")


def write_card(name, work_dir, out_root):
    """Copies a trained run into `out_root/name` and writes its card.

    Runs in a process without TF op determinism (see `main`), as users and
    tests load presets, so the card's sample hash is what they regenerate.
    """
    from ganzoo import presets

    run_dir = os.path.join(work_dir, name)
    with open(os.path.join(run_dir, "training_seconds.txt")) as f:
        seconds = float(f.read())
    return presets.write_preset(
        run_dir, os.path.join(out_root, name), name, PRESETS[name][2],
        extra={"training_seconds": seconds,
               "recreate": f"python tools/train_presets.py --presets {name}"})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--work_dir", default=os.path.join(ROOT, "runs", "presets"))
    parser.add_argument("--out_dir", default=os.path.join(ROOT, "ganzoo", "presets"))
    parser.add_argument("--set", nargs="*", default=[],
                        help="Extra overrides for every preset (e.g. a quick train.steps=5 "
                             "smoke run into another --out_dir).")
    parser.add_argument("--cards_only", action="store_true",
                        help="Only (re)write the presets and cards from trained runs.")
    args = parser.parse_args(argv)
    if not args.cards_only:
        for name in args.presets:
            train_preset(name, args.work_dir, args.set)
        # TF op determinism cannot be switched off again in this process.
        return subprocess.call([sys.executable, os.path.abspath(__file__), "--cards_only",
                                "--presets", *args.presets, "--work_dir", args.work_dir,
                                "--out_dir", args.out_dir])
    for name in args.presets:
        card = write_card(name, args.work_dir, args.out_dir)
        summary = {"name": name, "steps": card["training"]["steps"],
                   "seconds": card["training_seconds"], "mb": card["model_bytes"] / 1e6,
                   **{k: v for k, v in card["evaluation"]["metrics"].items()
                      if isinstance(v, float)},
                   **{k: v for k, v in card["evaluation"]["report"].items()
                      if isinstance(v, float)}}
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    sys.exit(main())
