"""Trains the Fashion-MNIST classifier that `FashionMNISTClassifierExtractor` ships with.

Trained on the 60,000 training images only; the 10,000 test images are scored
once at the end and never used for a choice (fixed recipe, fixed epochs).
Reproducible: fixed seeds, deterministic TF ops, augmentation (random shifts of
up to 1 px and horizontal flips, both label-preserving for clothes) drawn from
stateless seeds. Writes `ganzoo/metrics/weights/fmnist_classifier.weights.h5`
and a JSON with its sha256, test accuracy, confusion matrix and settings.

    python tools/train_fmnist_classifier.py           # ~25 minutes on 2 busy CPU cores
    python tools/train_fmnist_classifier.py --epochs 2 --out_dir /tmp/fc
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

from ganzoo import data
from ganzoo.files import sha256_of_file
from ganzoo.metrics import fmnist_classifier as fc


def augment(images, seed, max_shift=1):
    """Random shifts (background-filled) and horizontal flips, from a [2] seed."""
    n = tf.shape(images)[0]
    size = images.shape[1]
    padded = tf.pad(images, [[0, 0], [max_shift] * 2, [max_shift] * 2, [0, 0]],
                    constant_values=-1.0)
    crops = tf.image.stateless_random_crop(padded, [n, size, size, 1], seed=seed)
    flip = tf.random.stateless_uniform([n, 1, 1, 1], seed=seed + 1) < 0.5
    return tf.where(flip, tf.reverse(crops, axis=[2]), crops)


def train(epochs=12, batch_size=128, learning_rate=2e-3, seed=0, data_dir=None):
    """Trains the classifier; returns `(model, test_accuracy, confusion, settings)`."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    train_ds, spec = data.load("fashion_mnist", "train", data_dir=data_dir)
    test_ds, _ = data.load("fashion_mnist", "test", data_dir=data_dir)
    steps_per_epoch = spec.num_examples // batch_size
    pipeline = data.batched_stream(train_ds, batch_size, seed).enumerate().map(
        lambda i, xy: (augment(xy[0], tf.stack([tf.constant(seed, tf.int64), i])), xy[1]))
    model = fc.build_fmnist_classifier()
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=epochs * steps_per_epoch)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(pipeline.prefetch(tf.data.AUTOTUNE), epochs=epochs,
              steps_per_epoch=steps_per_epoch, verbose=2)
    x_test, y_test = test_ds.batch(10_000).get_single_element()
    logits = model.predict(x_test, batch_size=1000, verbose=0)
    predicted = np.argmax(logits, axis=1)
    accuracy = float(np.mean(predicted == y_test.numpy()))
    confusion = np.zeros((fc.NUM_CLASSES, fc.NUM_CLASSES), np.int64)
    np.add.at(confusion, (y_test.numpy(), predicted), 1)
    settings = {
        "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
        "schedule": "cosine decay to 0", "optimizer": "adam",
        "augmentation": "shift <= 1 px (background fill), horizontal flip",
        "seed": seed, "image_size": fc.IMAGE_SIZE, "train_split": "train",
        "num_train": int(spec.num_examples), "test_split": "test",
        "num_test": int(len(y_test)), "num_parameters": int(model.count_params()),
    }
    return model, accuracy, confusion, settings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out_dir", default=str(fc.WEIGHTS_DIR))
    args = parser.parse_args()
    start = time.time()
    model, accuracy, confusion, settings = train(epochs=args.epochs, seed=args.seed,
                                                 data_dir=args.data_dir)
    out_dir = pathlib.Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / fc.WEIGHTS_PATH.name
    # A fresh model ships only the inference weights, not the optimizer's slots.
    clean = fc.build_fmnist_classifier()
    clean.set_weights(model.get_weights())
    clean.save_weights(weights)
    metadata = {
        "weights_file": weights.name,
        "sha256": sha256_of_file(weights),
        "test_accuracy": round(accuracy, 5),
        "per_class_test_accuracy": [round(float(r[i] / r.sum()), 4)
                                    for i, r in enumerate(confusion)],
        "confusion_matrix_test": confusion.tolist(),
        "features_dim": int(model.get_layer("features").units),
        "training": settings,
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "train_seconds": round(time.time() - start, 1),
    }
    (out_dir / fc.METADATA_PATH.name).write_text(json.dumps(metadata, indent=2) + "\n")
    print(f"test accuracy {accuracy:.4f}; wrote {weights} ({weights.stat().st_size} bytes), "
          f"sha256 {metadata['sha256']}")


if __name__ == "__main__":
    main()
