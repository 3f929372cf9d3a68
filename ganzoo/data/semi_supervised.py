"""Labeled / unlabeled training data for semi-supervised GANs.

Salimans et al. 2016 ("Improved Techniques for Training GANs",
https://arxiv.org/abs/1606.03498, sec. 5) train on a few labeled examples per
class plus *all* training images as unlabeled data; the test split is held out.
As in the authors' code (openai/improved-gan, mnist_svhn_cifar10), the labeled
set is a seeded choice of N images per class from the training split.

A training element is one `(images, labels)` pair like every other ganzoo
pipeline, so the base `train_step` and its k-way strided split still apply:
unlabeled rows carry the label `UNLABELED` (-1); their true labels are dropped
here and never reach the model. Rows are laid out so that every discriminator
step, and every replica's contiguous share under `tf.distribute`, gets half
unlabeled and half labeled examples.
"""

import numpy as np
import tensorflow as tf

from ganzoo.data import batched_stream

# Label of the rows that come from the unlabeled set.
UNLABELED = -1


def dataset_labels(dataset, batch_size=4096):
    """All labels of an unbatched `(image, label)` data set, as an int32 numpy array."""
    labels = dataset.map(lambda x, y: y).batch(batch_size)
    return np.concatenate([np.asarray(b) for b in labels] or [np.zeros(0)]).astype(np.int32)


def select_labeled(labels, labels_per_class, num_classes, seed=0):
    """Indices of a seeded choice of `labels_per_class` examples of every class.

    Args:
        labels: int array `[N]`. Labels of the training split.
        labels_per_class: int. Examples kept per class (10 for 100 MNIST labels).
        num_classes: int. Number of classes K.
        seed: int. The same seed gives the same subset.

    Returns:
        Sorted int64 array of `labels_per_class * num_classes` indices into `labels`.

    Raises:
        ValueError: a class has fewer than `labels_per_class` examples.
    """
    if labels_per_class < 1:
        raise ValueError(f"labels_per_class must be >= 1, got {labels_per_class}.")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for k in range(num_classes):
        members = np.flatnonzero(labels == k)
        if len(members) < labels_per_class:
            raise ValueError(
                f"Class {k} has {len(members)} training examples, fewer than "
                f"labels_per_class={labels_per_class}; lower model.options.labels_per_class."
            )
        chosen.append(rng.choice(members, labels_per_class, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def labeled_subset(dataset, labels_per_class, num_classes, seed=0):
    """The labeled examples of a semi-supervised run, as numpy arrays.

    Args:
        dataset: unbatched `(image, label)` training data from `ganzoo.data.load`.
        labels_per_class: int. Examples per class.
        num_classes: int. Number of classes K.
        seed: int. Seed of the choice.

    Returns:
        `(images [N*K, ...] float32, labels [N*K] int32, indices [N*K] int64)`.

    Example:

    >>> ds, spec = ganzoo.data.load("digits", "train")
    >>> x, y, idx = labeled_subset(ds, 10, spec.num_classes, seed=0)
    >>> x.shape, np.bincount(y)
    ((100, 16, 16, 1), array([10, 10, 10, 10, 10, 10, 10, 10, 10, 10]))
    """
    indices = select_labeled(dataset_labels(dataset), labels_per_class, num_classes, seed)
    wanted = tf.constant(indices)
    picked = dataset.enumerate().filter(lambda i, xy: tf.reduce_any(tf.equal(i, wanted)))
    images, labels = picked.map(lambda i, xy: xy).batch(len(indices)).get_single_element()
    return images.numpy(), labels.numpy().astype(np.int32), indices


def semi_supervised_pipeline(dataset, labeled_images, labeled_labels, batch_size, seed,
                             d_steps=1, shuffle_buffer=10_000, skip_batches=0):
    """Infinite pipeline of `(images, labels)`, half unlabeled (label -1), half labeled.

    Args:
        dataset: unbatched `(image, label)` training data; every image is used as
            unlabeled data and its label is discarded.
        labeled_images: float array `[M, ...]`. The labeled examples.
        labeled_labels: int array `[M]`.
        batch_size: int. Examples per discriminator step (even): `batch_size / 2`
            unlabeled and `batch_size / 2` labeled (the paper: 100 + 100).
        seed: int. Shuffle seed.
        d_steps: int. Discriminator steps per element (k): an element holds
            `k * batch_size` rows, ordered so the base class's strided split
            gives each step its own half/half minibatch.
        shuffle_buffer: int. Shuffle buffer of the unlabeled stream.
        skip_batches: int. Elements to skip when a run resumes.

    Returns:
        A `tf.data.Dataset` of `(images [k*B, ...], labels [k*B])`.
    """
    if batch_size % 2:
        raise ValueError(f"A semi-supervised batch is half labeled: train.batch_size must "
                         f"be even, got {batch_size}.")
    half, k = batch_size // 2, int(d_steps)
    unlabeled = batched_stream(dataset, half * k, seed, shuffle_buffer, skip_batches)
    unlabeled = unlabeled.map(lambda x, y: x)
    labeled = tf.data.Dataset.from_tensor_slices(
        (np.asarray(labeled_images, np.float32), np.asarray(labeled_labels, np.int32)))
    # The small labeled set is reshuffled on every pass, as in the authors' code.
    labeled = batched_stream(labeled, half * k, seed + 1, skip_batches=skip_batches)

    def interleave(x_unl, labeled_batch):
        x_lab, y_lab = labeled_batch
        # Rows [b, j, i]: example b of stream j (0 unlabeled, 1 labeled) for D step i.
        # Flattened, row % k == i (the base split) and any contiguous block of
        # whole b holds both streams equally (replica shares).
        x = tf.stack([tf.reshape(x_unl, [half, k, *x_unl.shape[1:]]),
                      tf.reshape(x_lab, [half, k, *x_lab.shape[1:]])], axis=1)
        y = tf.stack([tf.fill([half, k], UNLABELED), tf.reshape(y_lab, [half, k])], axis=1)
        return tf.reshape(x, [2 * half * k, *x_unl.shape[1:]]), tf.reshape(y, [-1])

    ds = tf.data.Dataset.zip((unlabeled, labeled)).map(interleave)
    return ds.prefetch(tf.data.AUTOTUNE)
