"""Trains the digits classifier that `DigitsClassifierExtractor` ships with.

Reproducible: fixed seeds, deterministic TF ops, augmentation drawn from a
seeded numpy generator, a fixed number of epochs (the test split is only
scored at the end, never used for choices). Writes
`ganzoo/metrics/weights/digits_classifier.weights.h5` and a JSON with its
sha256, test accuracy and every training setting.

    python tools/train_digits_classifier.py            # ~1 minute on 2 CPU cores
    python tools/train_digits_classifier.py --epochs 5 --out_dir /tmp/dc
"""

import argparse
import json
import pathlib
import time

import ganzoo  # noqa: F401  (sets TF's oneDNN switch, read once at TF import)

# isort: split
import keras
import numpy as np
import tensorflow as tf

from ganzoo.data.digits import digits_arrays
from ganzoo.files import sha256_of_file
from ganzoo.metrics import digits_classifier as dc


def random_shifts(images, max_shift, rng):
    """Shifts each image by up to `max_shift` px per axis, filling with background (-1)."""
    n, h, w, _ = images.shape
    padded = np.pad(images, ((0, 0), (max_shift,) * 2, (max_shift,) * 2, (0, 0)),
                    constant_values=-1.0)
    dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, n))
    out = np.empty_like(images)
    for i in range(n):
        out[i] = padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
    return out


def augmented_epochs(images, labels, epochs, max_shift, seed):
    """All epochs' shuffled, shifted training images, in the order they are seen."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(epochs):
        order = rng.permutation(len(labels))
        xs.append(random_shifts(images[order], max_shift, rng))
        ys.append(labels[order])
    return np.concatenate(xs), np.concatenate(ys)


def train(epochs=30, batch_size=64, learning_rate=2e-3, max_shift=2, seed=0):
    """Trains the classifier; returns `(model, test_accuracy, settings)`."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    x_train, y_train = digits_arrays("train", dc.IMAGE_SIZE)
    x_test, y_test = digits_arrays("test", dc.IMAGE_SIZE)
    x, y = augmented_epochs(x_train, y_train, epochs, max_shift, seed)
    steps = len(y) // batch_size
    model = dc.build_digits_classifier()
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    # One pass over the pre-shuffled epochs: the data order is fixed by `seed`.
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, batch_size=360, verbose=0)
    settings = {
        "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
        "schedule": "cosine decay to 0", "optimizer": "adam", "max_shift_px": max_shift,
        "seed": seed, "image_size": dc.IMAGE_SIZE, "num_train": int(len(y_train)),
        "num_test": int(len(y_test)), "num_parameters": int(model.count_params()),
    }
    return model, float(accuracy), settings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out_dir", default=str(dc.WEIGHTS_DIR))
    args = parser.parse_args()
    start = time.time()
    model, accuracy, settings = train(epochs=args.epochs, seed=args.seed)
    out_dir = pathlib.Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / dc.WEIGHTS_PATH.name
    # A compiled model's weights file also holds the optimizer's slots (3x the
    # size); copying into a fresh model ships only what inference needs.
    clean = dc.build_digits_classifier()
    clean.set_weights(model.get_weights())
    clean.save_weights(weights)
    metadata = {
        "weights_file": weights.name,
        "sha256": sha256_of_file(weights),
        "test_accuracy": round(accuracy, 5),
        "features_dim": int(model.get_layer("features").units),
        "training": settings,
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "train_seconds": round(time.time() - start, 1),
    }
    (out_dir / dc.METADATA_PATH.name).write_text(json.dumps(metadata, indent=2) + "\n")
    print(f"test accuracy {accuracy:.4f}; wrote {weights} ({weights.stat().st_size} bytes), "
          f"sha256 {metadata['sha256']}")


if __name__ == "__main__":
    main()
