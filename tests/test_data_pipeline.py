"""The training pipeline: i.i.d. batches from class-sorted data, constant-time resume.

A class-sorted source larger than any shuffle buffer once gave batches of only
a few classes (a DCGAN on a class-per-folder Fashion-MNIST learned 6 of 10
classes). Data with random access is now permuted completely every epoch.
"""

import time

import numpy as np
import pytest
import tensorflow as tf

from ganzoo import data

N, CLASSES, BATCH = 30_000, 10, 64


def sorted_source(kind, n=N):
    """`n` examples sorted by class (30,000: 3x the default buffer); the value of
    each example is its index."""
    labels = np.repeat(np.arange(CLASSES, dtype=np.int32), n // CLASSES)
    images = np.arange(n, dtype=np.float32).reshape(n, 1)
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if kind == "per-example source":  # as a folder of files decoded one by one
        images_t, labels_t = tf.constant(images), tf.constant(labels)
        ds = data.with_source(ds, data.Source(
            n, lambda i: (tf.gather(images_t, i), tf.gather(labels_t, i)), batched=False))
    return ds


@pytest.mark.parametrize("kind", ["in-memory copy", "per-example source"])
def test_class_sorted_source_gives_iid_batches(kind):
    ds = sorted_source(kind)
    batches = list(data.train_pipeline(ds, BATCH, seed=0).take(200).as_numpy_iterator())
    for x, y in batches:
        # An i.i.d. batch of 64 from 10 balanced classes holds all but a rare one
        # or two (P(<= 6 classes) ~ 1e-4); a buffer of 10,000 over sorted data
        # gives 1-4 classes per batch.
        assert len(set(y.tolist())) >= 7
        np.testing.assert_array_equal(y, x[:, 0].astype(np.int64) // (N // CLASSES))
    counts = np.bincount(np.concatenate([y for _, y in batches]), minlength=CLASSES)
    expected = 200 * BATCH / CLASSES
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert chi2 < 27.9, counts  # p = 0.001 for 9 degrees of freedom


def test_each_epoch_is_a_permutation_and_epochs_differ():
    ds = sorted_source("in-memory copy")
    per_epoch = N // 100
    xs = np.concatenate([x[:, 0] for x, _ in
                         data.train_pipeline(ds, 100, seed=3).take(2 * per_epoch)
                         .as_numpy_iterator()])
    first, second = xs[:N], xs[N:]
    assert sorted(first.tolist()) == list(range(N)) == sorted(second.tolist())
    assert not np.array_equal(first, second)
    other = next(iter(data.train_pipeline(ds, 100, seed=4)))[0][:, 0].numpy()
    assert not np.array_equal(other, first[:100])


def test_the_order_is_as_random_as_a_permutation():
    """One round of the index shuffle keyed by (seed, epoch, 0), the order before,
    measured 0.89 (epoch to epoch), 0.09 (neighbours) and 0.17 (neighbours'
    parity) here; a random permutation gives |r| ~ 0.004 on 60,000."""
    size = 60_000
    order = data.example_order(np.arange(2 * size), size, seed=0).numpy()
    first, second = order[:size], order[size:]
    assert sorted(first.tolist()) == list(range(size)) == sorted(second.tolist())
    for x, y in ((first, second), (first[:-1], first[1:]), (first[:-1] % 2, first[1:] % 2)):
        assert abs(np.corrcoef(x, y)[0, 1]) < 0.03


@pytest.mark.parametrize("kind", ["in-memory copy", "per-example source", "buffer"])
def test_resume_continues_the_same_order_across_epochs(kind, monkeypatch):
    small = 1000
    ds = sorted_source(kind, small)
    if kind == "buffer":
        # Known size, no random access: epochs shuffled by (seed, epoch) with a buffer.
        monkeypatch.setattr(data, "_MAX_IN_MEMORY_BYTES", 0)
        assert data.source_of(ds) is None
    full = [x for x, _ in data.train_pipeline(ds, 64, seed=7).take(40).as_numpy_iterator()]
    for skip in (1, 15, 16, 31):  # 1000 / 64: the second epoch starts inside batch 15
        resumed = [x for x, _ in data.train_pipeline(ds, 64, seed=7, skip_batches=skip)
                   .take(40 - skip).as_numpy_iterator()]
        for a, b in zip(full[skip:], resumed, strict=True):
            np.testing.assert_array_equal(a, b)
    assert sorted(np.concatenate(full)[:small, 0].tolist()) == list(range(small))


def test_buffer_path_with_the_default_global_seed(monkeypatch):
    """train_lib.run sets the global seed to train.seed (0 by default); the
    per-epoch shuffle of data without random access must work under it."""
    import keras

    monkeypatch.setattr(data, "_MAX_IN_MEMORY_BYTES", 0)
    keras.utils.set_random_seed(0)
    ds = sorted_source("in-memory copy", 1000)
    first = [x for x, _ in data.train_pipeline(ds, 100, seed=0).take(20).as_numpy_iterator()]
    epoch0, epoch1 = np.concatenate(first[:10])[:, 0], np.concatenate(first[10:])[:, 0]
    assert sorted(epoch0.tolist()) == list(range(1000)) == sorted(epoch1.tolist())
    assert not np.array_equal(epoch0, epoch1) and not np.array_equal(epoch0, np.arange(1000))


def test_resume_seeks_in_constant_time():
    ds = sorted_source("in-memory copy")

    def first_batch_seconds(skip):
        start = time.perf_counter()
        next(iter(data.train_pipeline(ds, BATCH, seed=0, skip_batches=skip)))
        return time.perf_counter() - start

    first_batch_seconds(0)  # warm up: the in-memory copy, tracing
    near, far = first_batch_seconds(1_000), first_batch_seconds(10_000_000)
    # A replay of 10 million batches would take hours; seeking takes milliseconds.
    assert far < max(2 * near, 0.5), (near, far)


def test_unknown_size_falls_back_to_a_buffer():
    ds = tf.data.Dataset.range(100).map(lambda i: (tf.cast(i, tf.float32), tf.constant(0)))
    ds = ds.filter(lambda x, y: True)  # unknown cardinality
    assert data.source_of(ds) is None
    x, _ = next(iter(data.train_pipeline(ds, 100, seed=0)))
    assert sorted(x.numpy().tolist()) == list(range(100))


@pytest.mark.parametrize("kind", ["in-memory copy", "per-example source"])
def test_max_examples_keeps_a_fixed_nested_random_subset(kind):
    from ganzoo.config import ConfigError

    ds = sorted_source(kind, n=1000)
    spec = data.DataSpec("sorted", (1,), CLASSES, 1000)

    def values(n):
        subset, sub_spec = data.select_examples(ds, spec, n)
        assert sub_spec.num_examples == n and int(subset.cardinality()) == n
        return [int(x[0]) for x, _ in subset.as_numpy_iterator()]

    small, large = values(100), values(300)
    assert small == sorted(set(small)) and len(small) == 100  # distinct, in data order
    assert set(small) <= set(large) and small == values(100)  # nested, fixed
    assert 30 < sum(v < 500 for v in large) < 270  # spread over the sorted data
    x, _ = next(iter(data.train_pipeline(data.select_examples(ds, spec, 100)[0], 100, 0)))
    assert sorted(x[:, 0].numpy().astype(int).tolist()) == small  # one epoch: the subset
    assert data.select_examples(ds, spec, None) == (ds, spec)
    with pytest.raises(ConfigError, match="data.max_examples.*1000"):
        data.select_examples(ds, spec, 1001)


def test_max_examples_is_validated_and_applied_by_the_run():
    from ganzoo import train_lib
    from ganzoo.config import ConfigError

    with pytest.raises(ConfigError, match="data.max_examples"):
        train_lib.resolve_config("dcgan", overrides=["data.max_examples=0"])
    config = train_lib.resolve_config("dcgan", overrides=["data.max_examples=320"])
    train_lib.set_steps_from_epochs(config, 2)
    assert config.train.steps == 2 * 320 // config.train.batch_size
