"""scikit-learn's handwritten digits: the real data set that ships offline.

1,797 8x8 grey images of the digits 0-9 (UCI "Optical Recognition of
Handwritten Digits", bundled with scikit-learn). A fixed, stratified split
holds out 360 images as `test`; it never depends on the run's seed, so no run
ever trains on the test images.
"""

import functools

import numpy as np
import tensorflow as tf

from ganzoo.data.base import DataSpec, refuse_data_dir, register_dataset

DEFAULT_SIZE = 16
NUM_TEST = 360
_SPLIT_SEED = 0


@functools.lru_cache(maxsize=None)
def _arrays():
    # scikit-learn takes over a second to import; only the first load pays for it.
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = bunch.images.astype(np.float32) / 16.0  # pixel values are 0..16
    labels = bunch.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=NUM_TEST, stratify=labels, random_state=_SPLIT_SEED
    )
    return {"train": (x_train, y_train), "test": (x_test, y_test)}


def digits_arrays(split="train", image_size=DEFAULT_SIZE):
    """Returns `(images, labels)` numpy arrays: images `[N, S, S, 1]` in [-1, 1]."""
    if split not in ("train", "test"):
        raise ValueError(f"digits has splits 'train' and 'test', not {split!r}.")
    images, labels = _arrays()[split]
    images = images[..., None]
    if image_size != 8:
        # Antialiased bilinear up-sampling keeps strokes smooth at 16/28/32/64 px.
        images = tf.image.resize(images, (image_size, image_size), "bilinear", antialias=True)
        images = np.clip(images.numpy(), 0.0, 1.0)
    return (images * 2.0 - 1.0).astype(np.float32), labels


@register_dataset("digits")
def load_digits(split="train", image_size=None, data_dir=None):
    """Loads the embedded digits as `(image [S, S, 1], label)` pairs in [-1, 1]."""
    refuse_data_dir("digits", data_dir)  # embedded: it ships with scikit-learn
    size = image_size or DEFAULT_SIZE
    images, labels = digits_arrays(split, size)
    spec = DataSpec("digits", (size, size, 1), num_classes=10, num_examples=len(labels))
    return tf.data.Dataset.from_tensor_slices((images, labels)), spec
