"""Pretrained generators: making and scoring presets, and every preset name in one place.

A preset is a directory (the shipped ones are `ganzoo/presets/<name>/`):

    model.keras   the whole GAN: G, D and both optimizers with their state, so
                  `ganzoo.from_preset(name)` can `fit` on (fine-tuning)
    config.yaml   the resolved training config (as in a run directory)
    card.json     the model card: family, config, training steps and seed,
                  data, evaluation metrics with their metric card, the sample
                  seed, sha256 and per-image statistics of the samples it
                  generates (`samples_match`), the sha256 of
                  `model.keras`, ganzoo/TensorFlow/Keras versions

`tools/train_presets.py` re-creates the shipped presets. A preset for another
data set (e.g. a TFDS one) is any such directory, made from a run with
`write_preset`, and added by name with `register_preset(name, path_or_url)`.
A URL names a directory served over HTTP(S): its three files are downloaded
once into `$GANZOO_CACHE_DIR` (default `~/.cache/ganzoo/presets`).

Resolving a name (`ganzoo.preset_dirs`) and loading it (`ganzoo.loading`) import
no evaluation; this module, which scores presets with `ganzoo.evaluate`, sits
above both and re-exports their preset names (`preset_dir`, `from_preset`, ...).
"""

import hashlib
import os

import keras
import numpy as np
import tensorflow as tf
import yaml

from ganzoo import data, files
from ganzoo.evaluate import evaluate
from ganzoo.loading import from_preset, load_gan, load_run_config
from ganzoo.preset_dirs import (
    CARD_FILE,
    CONFIG_FILE,
    DOWNLOAD_TIMEOUT,
    MODEL_FILE,
    PRESET_FILES,
    PresetError,
    UnknownPresetError,
    _builtin_names,
    builtin_dir,
    list_presets,
    load_card,
    preset_dir,
    register_preset,
    unregister_preset,
    verify_preset,
)
from ganzoo.tasks import get_task
from ganzoo.version import __version__

__all__ = [
    "CARD_FILE", "CONFIG_FILE", "DOWNLOAD_TIMEOUT", "EVAL_METRICS", "EVAL_SAMPLES", "MODEL_FILE",
    "PRESET_FILES", "SAMPLE_COUNT", "PresetError", "UnknownPresetError", "_builtin_names",
    "builtin_dir", "evaluate_preset", "from_preset", "list_presets", "load_card", "preset_dir",
    "register_preset", "samples_fingerprint", "samples_match", "unregister_preset",
    "verify_preset", "write_preset",
]

gfile = files.gfile

# Samples whose hash the card records: `gan.generate(SAMPLE_COUNT, seed)`.
SAMPLE_COUNT = 100
# Evaluation protocol of every card: digits-FID etc. on this many samples.
EVAL_METRICS = ("fid", "kid", "is", "classes")
EVAL_SAMPLES = 1000


def samples_fingerprint(gan, seed=0, num_images=SAMPLE_COUNT):
    """What the card records of `gan.generate(num_images, seed)`.

    `sha256` of the float32 bytes is bit-exact only on the CPU type that wrote
    the card (oneDNN picks different kernels on other CPUs, which changes the
    last bits); `image_means` and `image_stds` (one per image, 6 decimals) are
    what `samples_match` compares, with a tolerance far below any visible change.
    """
    samples = np.ascontiguousarray(gan.generate(num_images, seed=seed), np.float32)
    flat = samples.reshape(len(samples), -1).astype(np.float64)
    return {"sha256": hashlib.sha256(samples.tobytes()).hexdigest(),
            "image_means": [round(float(v), 6) for v in flat.mean(axis=1)],
            "image_stds": [round(float(v), 6) for v in flat.std(axis=1)]}


def samples_match(gan, card_samples, atol=1e-4):
    """True if `gan` regenerates the card's samples: bit-exact, or per-image
    means and standard deviations within `atol` (another CPU type)."""
    new = samples_fingerprint(gan, card_samples["seed"], card_samples["num_images"])
    if new["sha256"] == card_samples["sha256"]:
        return True
    return all(np.allclose(new[key], card_samples[key], rtol=0.0, atol=atol)
               for key in ("image_means", "image_stds"))


def evaluate_preset(gan, path, seed=0):
    """The card's evaluation: `ganzoo.evaluate` metrics and the family's report.

    Digits-domain FID/KID/IS and class histogram via the shipped digits
    classifier on `EVAL_SAMPLES` samples of `seed` against the real test split,
    and the family's own report (`ganzoo.tasks.Task.report`: class accuracy for
    cgan/acgan, matched code accuracy for infogan, test error for ssgan).
    """
    config = load_run_config(path)
    result = evaluate(path, EVAL_METRICS, num_samples=EVAL_SAMPLES, seed=seed, gan=gan,
                      write=False)
    result["card"].pop("run")
    _, spec = data.load(config.data.name, "train", config.data.image_size,
                        config.data.data_dir)
    task_report = get_task(config.model.name).report(gan, config, spec)
    report = {k: v for k, v in task_report.items() if not k.endswith("_history")}
    return {**result, "report": report}


def write_preset(run_dir, out_dir, name, description="", extra=None):
    """Makes a preset directory from a finished run and writes its model card.

    Args:
        run_dir: str. A ganzoo run directory (with model.keras and config.yaml).
        out_dir: str. The preset directory to (over)write.
        name: str. The preset's name.
        description: str. One line for the card.
        extra: dict or None. More card fields (e.g. training time).

    Returns:
        The card (dict).
    """
    config = load_run_config(run_dir)
    for f in (MODEL_FILE, CONFIG_FILE):
        with files.atomic_path(os.path.join(out_dir, f)) as tmp:
            gfile.copy(os.path.join(run_dir, f), tmp)
    gan = load_gan(out_dir, compile=True)
    seed = 0
    evaluation = evaluate_preset(gan, out_dir, seed=seed)
    config_dict = yaml.safe_load(files.read_text(os.path.join(out_dir, CONFIG_FILE)))
    d = config.data
    card = {
        "name": name,
        "family": config.model.name,
        "description": description,
        "data": {"name": d.name, "image_size": d.image_size, "split": "train",
                 "classes": d.classes},
        "config": config_dict,
        "training": {"steps": int(gan.g_optimizer.iterations.numpy()),
                     "seed": config.train.seed, "deterministic": config.train.deterministic,
                     "batch_size": config.train.batch_size, "d_steps": config.train.d_steps},
        "samples": {"call": f"gan.generate({SAMPLE_COUNT}, seed={seed})", "seed": seed,
                    "num_images": SAMPLE_COUNT, "dtype": "float32",
                    **samples_fingerprint(gan, seed)},
        "evaluation": evaluation,
        "model_file": MODEL_FILE,
        "model_bytes": gfile.stat(os.path.join(out_dir, MODEL_FILE)).length,
        "model_sha256": files.sha256_of_file(os.path.join(out_dir, MODEL_FILE)),
        "versions": {"ganzoo": __version__, "tensorflow": tf.__version__,
                     "keras": keras.__version__, "numpy": np.__version__},
        **(extra or {}),
    }
    files.write_json(os.path.join(out_dir, CARD_FILE), card, default=float)
    return card
