"""Evaluates a trained run: `python -m ganzoo.evaluate --model_dir RUN --metrics fid,kid,is,pr`.

Writes `RUN/metrics.json`: the numbers plus a **metric card** saying exactly
how they were measured (extractor and its weights' sha256, resizing, numbers
of real and fake samples, real split, seed, versions), so that two FIDs can be
compared, or not, by reading their cards.

Feature extractors: `digits` (ganzoo's shipped digits classifier, the default
for digits runs: "digits-FID", "digits-IS"), `fmnist` (the shipped
Fashion-MNIST classifier, the default for `fashion_mnist` runs: "fmnist-FID"),
`inception` (InceptionV3 pool3 from a local weights file: `--inception_weights`
or `GANZOO_INCEPTION_WEIGHTS`), or any `ganzoo.metrics.Extractor` from Python.
A domain classifier's FID compares runs on the same data with each other, not
with published Inception-FIDs; the card names the extractor.

`--samples=PATH --dataset=NAME` scores samples made elsewhere (a folder of
PNGs, a `.npy`, or a `.npz` with `images`) by the same protocol
(`evaluate_samples`), e.g. another framework's GAN beside ganzoo's.

Exit status: 0 with the result printed as JSON; 2 for a bad flag, metric name
or run directory (`error: ...` on stderr, see `ganzoo.cli`).
"""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf
from absl import flags

from ganzoo import cli, data, files, preset_dirs
from ganzoo import metrics as metrics_lib
from ganzoo.errors import warn
from ganzoo.loading import load_gan, load_run_config
from ganzoo.sample_files import read_samples
from ganzoo.version import __version__

FLAGS = flags.FLAGS
METRICS = ("fid", "kid", "is", "pr", "parzen", "classes")
DEFAULT_SAMPLES = 2000
# Far beyond the 50,000 of the usual FID protocol; more only risks running out of memory.
MAX_SAMPLES = 1_000_000


def evaluate(model_dir, metrics=("fid", "kid", "is", "pr"), num_samples=DEFAULT_SAMPLES,
             split="test", extractor="auto", seed=0, inception_weights=None, gan=None, write=True):
    """Measures a run's generator against real data and returns the metric card.

    Args:
        model_dir: str. A ganzoo run directory.
        metrics: iterable of names from `fid`, `kid`, `is`, `pr` (precision and
            recall), `parzen` (Gaussian Parzen window on pixels, Goodfellow et al.
            2014), `classes` (the histogram of the domain classifier's classes,
            digits or Fashion-MNIST, and its KL to the real data's frequencies).
        num_samples: int. Generated samples, and at most this many real ones;
            2 to `MAX_SAMPLES` (1,000,000).
        split: str. Real split to compare with (`test` is held out from training).
        extractor: `"auto"` (the data set's domain classifier if ganzoo ships one,
            else Inception), `"digits"`, `"fmnist"`, `"inception"` or an `Extractor`.
        seed: int. Seed of the generated samples (and KID subsets).
        inception_weights: str or None. Local InceptionV3 weights file.
        gan: an in-memory model to use instead of loading `model_dir` (for callbacks).
        write: bool. Write `metrics.json` into `model_dir`.

    Returns:
        dict: `{"metrics": {...}, "card": {...}}`.

    Example:

    >>> result = evaluate("runs/dcgan_digits", metrics=["fid", "is"], num_samples=1000)
    >>> result["metrics"]["fid"]
    """
    metrics = _check_metrics(metrics)
    _check_num_samples(num_samples)
    if not files.exists(model_dir) and "/" not in os.fspath(model_dir):
        model_dir = preset_dirs.preset_dir(model_dir)  # a preset name scores the preset
    if files.isfile(os.path.join(model_dir, "card.json")):
        write = False  # a preset's own files are never rewritten; its card has its scores
    config = load_run_config(model_dir)
    # Compiled, so the card can name the step the generator was trained to.
    gan = gan if gan is not None else load_gan(model_dir)
    try:
        return _evaluate(model_dir, metrics, num_samples, split, extractor, seed,
                         inception_weights, gan, write, config)
    except MemoryError as e:  # numpy's ArrayMemoryError says how many bytes, not what to do
        raise MemoryError(
            f"Out of memory evaluating num_samples={num_samples:,} ({e}); pass a smaller "
            f"num_samples (--num_samples), e.g. {max(1, num_samples // 10):,}.") from e


def _evaluate(model_dir, metrics, num_samples, split, extractor, seed, inception_weights, gan,
              write, config):
    fake = gan.generate(num_samples, seed=seed)
    result = _score(fake, metrics, num_samples, split, extractor, seed, inception_weights,
                    _RealData(config.data.name, config.data.image_size, config.data.data_dir,
                             config.data.classes))
    result["card"] = {
        "run": files.abspath(model_dir), "model": config.model.name,
        "step": (int(gan.g_optimizer.iterations.numpy())
                 if getattr(gan, "g_optimizer", None) is not None else None),
        **result["card"],
    }
    if write:
        files.write_json(os.path.join(model_dir, "metrics.json"), result, default=None)
    return result


@dataclasses.dataclass
class _RealData:
    """Which real images samples are compared with: a data set, its size, its classes."""

    name: str
    image_size: int | None = None
    data_dir: str | None = None
    classes: list | None = None


def _score(fake, metrics, num_samples, split, extractor, seed, inception_weights, real_data,
           loaded=None):
    """The metrics of samples `fake` against the first `num_samples` of `real_data`'s split
    (`loaded`: that split's `data.load` result, when the caller has it already)."""
    dataset, spec = loaded or data.load(real_data.name, split, real_data.image_size,
                                        real_data.data_dir)
    # A run trained on some classes (`data.classes`) is compared with those classes.
    dataset, spec = data.select_classes(dataset, spec, real_data.classes)
    if not spec.is_image:
        raise ValueError(
            f"{real_data.name!r} holds vectors, not images; its mode-coverage metrics are "
            "in report.json (ganzoo.metrics.mode_coverage).")
    if tuple(fake.shape[1:]) != tuple(spec.shape):
        raise ValueError(
            f"The samples are {list(fake.shape[1:])} images but {real_data.name!r} holds "
            f"{list(spec.shape)}: samples must have the data set's size and channels "
            "(--image_size reads --dataset at another size).")
    real = _first(dataset, num_samples)
    extractor = _make_extractor(extractor, real_data.name, inception_weights)
    real_out = metrics_lib.compute_features(extractor, real)
    fake_out = metrics_lib.compute_features(extractor, fake)
    results = {}
    if "fid" in metrics:
        results["fid"] = float(metrics_lib.fid_from_features(real_out["features"],
                                                             fake_out["features"]))
    if "kid" in metrics:
        mean, std = metrics_lib.kid_from_features(real_out["features"], fake_out["features"],
                                                  seed=seed)
        results.update(kid=float(mean), kid_std=float(std))
    if "is" in metrics:
        mean, std = metrics_lib.inception_score_from_logits(_logits(fake_out, extractor))
        results.update(inception_score=float(mean), inception_score_std=float(std))
    if "pr" in metrics:
        precision, recall = metrics_lib.precision_recall(real_out["features"],
                                                         fake_out["features"])
        results.update(precision=float(precision), recall=float(recall))
    if "classes" in metrics:
        # KL to the real split's class frequencies (digits: its training split's).
        reference = None if real_data.name == "digits" else _class_frequencies(dataset)
        counts, kl = metrics_lib.digits_class_histogram(_logits(fake_out, extractor), reference)
        results.update(class_counts=[int(c) for c in counts], class_kl=float(kl))
    if "parzen" in metrics:
        results.update(_parzen(real_data, fake, real))
    card = {
        "extractor": getattr(extractor, "name", type(extractor).__name__),
        "extractor_weights_sha256": getattr(extractor, "weights_checksum", None),
        "resize_method": getattr(extractor, "resize_method", None),
        "extractor_input_size": list(getattr(extractor, "input_size", None) or []) or None,
        "num_real": int(len(real)), "num_fake": int(len(fake)),
        "real_data": real_data.name, "real_split": split,
        "real_classes": real_data.classes,
        "image_size": list(spec.shape), "seed": seed,
        "ganzoo": __version__, "tensorflow": tf.__version__,
    }
    return {"metrics": results, "card": card}


def evaluate_samples(samples, dataset: str, metrics=("fid", "kid", "is", "pr"),
                     num_samples: int | None = None, split: str = "test", extractor="auto",
                     seed: int = 0, inception_weights: str | None = None,
                     image_size: int | None = None, data_dir: str | None = None,
                     classes=None) -> dict:
    """Scores samples made elsewhere (another framework's GAN) by ganzoo's protocol.

    Args:
        samples: str, path or array. A `.npz` with an `images` array (`python -m
            ganzoo.generate`'s), a `.npy`, or a directory of PNG/JPEG/BMP files
            (sorted by name); uint8 0..255, or floats in [-1, 1]. Or the array.
        dataset: str. The real data to compare with (`fashion_mnist`, `digits`,
            `folder:PATH`, ...), read as `ganzoo.data.load` reads it.
        metrics, split, extractor, seed, inception_weights: as `evaluate`.
        num_samples: int or None. Use the first n samples (and at most n real
            images); None uses them all.
        image_size, data_dir: how to read `dataset` (as `--image_size`, `--data_dir`).
        classes: int sequence or None. Compare with these classes of `dataset`
            only (a run's `data.classes`).

    Returns:
        dict: `{"metrics": {...}, "card": {...}}`; the card names the samples' source.

    Example:

    >>> evaluate_samples("pytorch_fakes/", "fashion_mnist", ["fid", "kid", "pr"])
    """
    metrics = _check_metrics(metrics)
    if num_samples is not None:
        _check_num_samples(num_samples)
    real = _RealData(dataset, image_size, data_dir, None if classes is None else list(classes))
    loaded = data.load(dataset, split, image_size, data_dir)  # a bad name fails before reading
    source = os.fspath(samples) if isinstance(samples, (str, os.PathLike)) else None
    fake = read_samples(source if source is not None else samples, num_samples, loaded[1].shape)
    result = _score(fake, metrics, len(fake), split, extractor, seed, inception_weights, real,
                    loaded)
    result["card"] = {"samples": files.abspath(source) if source else None, **result["card"]}
    return result


def _check_metrics(metrics):
    if isinstance(metrics, str):
        metrics = metrics.split(",")
    # `--metrics="fid, kid"` means fid and kid.
    metrics = [m.strip() if isinstance(m, str) else m for m in metrics]
    metrics = [m for m in metrics if m != ""]
    if not metrics:
        raise ValueError(f"No metrics given; choose one or more of {', '.join(METRICS)}.")
    unknown = sorted(set(metrics) - set(METRICS), key=str)
    if unknown:
        raise ValueError(f"Unknown metric(s) {unknown}; choose from {', '.join(METRICS)}.")
    return metrics


def _check_num_samples(num_samples):
    """Refuses a bad `num_samples` before anything is loaded."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise ValueError(f"num_samples (--num_samples) must be a whole number, not "
                         f"{num_samples!r}; e.g. 2000.")
    if not 2 <= num_samples <= MAX_SAMPLES:  # FID's covariances need two
        raise ValueError(f"num_samples (--num_samples) is {num_samples:,}; pass 2 to "
                         f"{MAX_SAMPLES:,} (the usual FID protocol uses 10,000 or 50,000).")


def _first(dataset, n):
    images = [x for x, _ in dataset.take(n).batch(500).as_numpy_iterator()]
    return np.concatenate(images)


# Data set -> its shipped domain classifier (the `auto` extractor).
DOMAIN_EXTRACTORS = {"digits": "digits", "fashion_mnist": "fmnist"}
EXTRACTORS = ("auto", "digits", "fmnist", "inception")


def _make_extractor(choice, data_name, inception_weights):
    if not isinstance(choice, str):
        return choice
    if choice == "auto":
        choice = DOMAIN_EXTRACTORS.get(data_name, "inception")
    home = {v: k for k, v in DOMAIN_EXTRACTORS.items()}.get(choice)
    if home and data_name in DOMAIN_EXTRACTORS and data_name != home:
        warn(f"--extractor={choice} is the classifier of {home!r} but the real data is "
             f"{data_name!r}: its FID is not comparable with {data_name}'s published or README "
             f"numbers, and its classes are {home}'s; --extractor=auto picks "
             f"{DOMAIN_EXTRACTORS[data_name]}.")
    if choice == "digits":
        return metrics_lib.DigitsClassifierExtractor()
    if choice == "fmnist":
        return metrics_lib.FashionMNISTClassifierExtractor()
    if choice == "inception":
        return metrics_lib.InceptionV3Extractor(weights_path=inception_weights)
    raise ValueError(f"Unknown extractor {choice!r}; use {', '.join(EXTRACTORS)}.")


def _class_frequencies(dataset):
    labels = np.concatenate([y for _, y in dataset.batch(10_000).as_numpy_iterator()])
    counts = np.bincount(labels, minlength=10).astype(np.float64)
    return counts / counts.sum()


def _logits(outputs, extractor):
    if "logits" not in outputs:
        raise ValueError(f"{getattr(extractor, 'name', extractor)} has no classifier logits; "
                         "the Inception Score and class histogram need them.")
    return outputs["logits"]


def _parzen(real_data, fake, real_test):
    # Bandwidth chosen on a validation set taken from the training split (never the test set).
    train, _ = data.load(real_data.name, "train", real_data.image_size, real_data.data_dir)
    validation = _first(train, min(1000, len(real_test)))
    flat = lambda x: x.reshape(len(x), -1).astype(np.float64)  # noqa: E731
    result = metrics_lib.parzen_log_likelihood(flat(fake), flat(real_test), flat(validation))
    return {"parzen_log_likelihood": float(result.mean), "parzen_stderr": float(result.std_error),
            "parzen_sigma": float(result.sigma)}


def define_flags():
    """Defines this command's absl flags; called by `run`, not at import (see `ganzoo.cli`)."""
    flags.DEFINE_string("model_dir", None, "Run directory, .keras file or preset name to "
                        "evaluate (or give --samples).")
    flags.DEFINE_string("samples", None,
                        "Instead of a run: samples made elsewhere (.npz with `images`, .npy, or "
                        "a directory of PNGs), scored against --dataset.")
    flags.DEFINE_string("dataset", None, "With --samples: the real data (e.g. fashion_mnist).")
    flags.DEFINE_integer("image_size", None, "With --samples: read --dataset at this size.")
    flags.DEFINE_string("data_dir", None, "With --samples: where --dataset's files are.")
    flags.DEFINE_string("classes", None,
                        "With --samples: compare with these classes of --dataset (e.g. 0,1,2).")
    flags.DEFINE_string("metrics", "fid,kid,is,pr", f"Comma-separated, from {','.join(METRICS)}.")
    flags.DEFINE_integer("num_samples", None,
                         f"Generated samples, and at most this many real ones; default "
                         f"{DEFAULT_SAMPLES} for --model_dir, every one of --samples.")
    flags.DEFINE_string("split", "test", "Real split to compare with (test is held out).")
    flags.DEFINE_enum("extractor", "auto", list(EXTRACTORS),
                      "Feature extractor; auto: the data set's shipped classifier, else Inception.")
    flags.DEFINE_string("inception_weights", None, "Local InceptionV3 weights file.")
    flags.DEFINE_integer("seed", 0, "Seed of the generated samples (and KID subsets).")


def main(argv):
    del argv  # `cli.parse_flags` refuses positional arguments
    try:
        if (FLAGS.model_dir is None) == (FLAGS.samples is None):
            raise ValueError("Pass --model_dir=RUN (a ganzoo run) or --samples=PATH (samples "
                             "made elsewhere, with --dataset), not both or neither.")
        if FLAGS.samples is not None:
            if not FLAGS.dataset:
                raise ValueError("--samples needs --dataset: the real data to compare with, "
                                 "e.g. --dataset=fashion_mnist.")
            result = evaluate_samples(FLAGS.samples, FLAGS.dataset, FLAGS.metrics,
                                      FLAGS.num_samples, FLAGS.split, FLAGS.extractor,
                                      FLAGS.seed, FLAGS.inception_weights, FLAGS.image_size,
                                      FLAGS.data_dir, cli.parse_ints(FLAGS.classes, "classes"))
        else:
            for name in ("dataset", "image_size", "data_dir", "classes"):
                if getattr(FLAGS, name) is not None:
                    raise ValueError(f"--{name} is for --samples; a run is compared with the "
                                     "data it trained on (its config.yaml).")
            result = evaluate(FLAGS.model_dir, FLAGS.metrics,
                              DEFAULT_SAMPLES if FLAGS.num_samples is None else FLAGS.num_samples,
                              FLAGS.split, FLAGS.extractor, FLAGS.seed, FLAGS.inception_weights)
    except (ValueError, FileNotFoundError, RuntimeError, MemoryError) as e:
        cli.fail(e)
    print(json.dumps(result, indent=2))


def run():
    cli.run(main, define_flags)


if __name__ == "__main__":
    run()
