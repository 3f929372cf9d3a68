"""Tests for `ganzoo.data.semi_supervised`: seeded labeled subsets and the mixed pipeline."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from ganzoo import data
from ganzoo.data import digits
from ganzoo.data import semi_supervised as ssl


def _digits():
    ds, spec = data.load("digits", "train")
    return ds, spec


def test_labeled_subset_is_seeded_and_balanced():
    ds, spec = _digits()
    x1, y1, i1 = ssl.labeled_subset(ds, 10, spec.num_classes, seed=3)
    x2, y2, i2 = ssl.labeled_subset(ds, 10, spec.num_classes, seed=3)
    _, _, other = ssl.labeled_subset(ds, 10, spec.num_classes, seed=4)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(x1, x2)
    assert not np.array_equal(i1, other)
    assert x1.shape == (100, 16, 16, 1)
    np.testing.assert_array_equal(np.bincount(y1, minlength=10), [10] * 10)
    # The examples are the training split's rows at those indices, with their labels.
    train_x, train_y = digits.digits_arrays("train", 16)
    np.testing.assert_array_equal(x1, train_x[i1])
    np.testing.assert_array_equal(y1, train_y[i1])


def test_labeled_subset_is_disjoint_from_the_test_split():
    ds, spec = _digits()
    x, _, idx = ssl.labeled_subset(ds, 20, spec.num_classes, seed=0)
    test_x, _ = digits.digits_arrays("test", 16)
    assert idx.max() < spec.num_examples
    flat_test = {row.tobytes() for row in test_x.reshape(len(test_x), -1)}
    assert not any(row.tobytes() in flat_test for row in x.reshape(len(x), -1))


def test_too_few_examples_of_a_class_raises():
    with pytest.raises(ValueError, match="labels_per_class"):
        ssl.select_labeled(np.array([0, 0, 1]), 2, 2)


@pytest.mark.parametrize("d_steps", [1, 2])
def test_pipeline_gives_each_d_step_half_labeled_rows(d_steps):
    ds, spec = _digits()
    x_lab, y_lab, _ = ssl.labeled_subset(ds, 2, spec.num_classes, seed=0)
    pipe = ssl.semi_supervised_pipeline(ds, x_lab, y_lab, batch_size=8, seed=0, d_steps=d_steps)
    images, labels = next(iter(pipe))
    assert images.shape == (8 * d_steps, 16, 16, 1) and labels.shape == (8 * d_steps,)
    labels = labels.numpy()
    for i in range(d_steps):  # the base class's strided split: rows i, i + k, ...
        chunk = labels[i::d_steps]
        assert np.sum(chunk == ssl.UNLABELED) == 4
        for half in (chunk[:4], chunk[4:]):  # each replica's contiguous share is mixed
            assert np.sum(half == ssl.UNLABELED) == 2
    # Labeled rows are labeled-set images with their labels; unlabeled rows come
    # from the training split.
    lab_rows = {x.tobytes(): y for x, y in zip(x_lab, y_lab)}
    train_rows = {x.tobytes() for x in digits.digits_arrays("train", 16)[0]}
    for image, label in zip(images.numpy(), labels):
        assert image.tobytes() in train_rows
        if label != ssl.UNLABELED:
            assert lab_rows[image.tobytes()] == label


def test_pipeline_rejects_odd_batch():
    ds, spec = _digits()
    x, y, _ = ssl.labeled_subset(ds, 1, spec.num_classes)
    with pytest.raises(ValueError, match="even"):
        ssl.semi_supervised_pipeline(ds, x, y, batch_size=7, seed=0)


@pytest.mark.parametrize("name, shape", [("mnist", (28, 28, 1)), ("svhn_cropped", (32, 32, 3))])
def test_tfds_sets_through_ganzoo_data_load(name, shape):
    with tfds.testing.mock_data(num_examples=60):
        ds, spec = data.load(name, "train")
        labels = ssl.dataset_labels(ds)
        per_class = int(np.bincount(labels, minlength=10).min())
        assert per_class >= 1, "mock data should hold every class"
        x, y, idx = ssl.labeled_subset(ds, per_class, spec.num_classes, seed=1)
        pipe = ssl.semi_supervised_pipeline(ds, x, y, batch_size=4, seed=0)
        images, batch_labels = next(iter(pipe))
    assert x.shape == (10 * per_class, *shape)
    np.testing.assert_array_equal(y, labels[idx])
    assert images.shape == (4, *shape) and images.dtype == tf.float32
    assert sorted(batch_labels.numpy() == ssl.UNLABELED) == [False, False, True, True]
