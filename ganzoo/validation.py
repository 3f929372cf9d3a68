"""Input checks that fail before any work is done, naming the field, the value and the fix.

- `check_dataset`: the training data agrees with its `DataSpec` (one shape,
  finite values, images in [-1, 1], labels in [0, num_classes)), checked when the run
  starts, before the run directory is touched.
- `Requirements`, `check_requirements`: what a family's run needs from its data
  (labels, classes, images, examples per class, extra splits), declared by the
  family's task (`ganzoo.tasks.Task.data_requirements`) and checked before the run
  directory is touched; its optional end-of-run measurements (`Task.report_requirements`)
  only warn, and the report skips them.
- `check_best_metric`: `train.best_metric` is a metric the model logs.
- `check_num_images`, `check_latent`: arguments of `GAN.generate` /
  `generator_inputs` (labels: `ganzoo.models.conditional.check_labels`).
- `validated_serving_fn`: wraps an exported serving function so an empty,
  non-finite or mis-shaped request fails with a message naming the input.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from ganzoo.config import ConfigError

# Enough to catch a bad loader or label column without decoding a whole large set.
DEFAULT_SCAN = 50_000
_TOLERANCE = 1e-3


class DataError(ValueError):
    """The training data does not match its description; the message says how to fix it."""


def check_dataset(dataset, spec, max_examples=DEFAULT_SCAN):
    """Checks up to `max_examples` `(example, label)` pairs against `spec`.

    Args:
        dataset: unbatched `tf.data.Dataset` from `ganzoo.data.load`.
        spec: its `ganzoo.data.DataSpec`.
        max_examples: int. How many examples to scan (the whole set when smaller).

    Raises:
        DataError: no examples, an example of another shape or channel count,
            non-finite values, values outside [-1, 1], or a label outside
            [0, num_classes). The message names the example index and the fix.
    """
    name = spec.name
    image, label = dataset.element_spec[:2] if isinstance(dataset.element_spec, tuple) else (
        dataset.element_spec, None)
    if not image.dtype.is_floating:
        raise DataError(
            f"Data set {name!r} yields {image.dtype.name} examples; ganzoo loaders must yield "
            "float32 scaled to [-1, 1] (x / 127.5 - 1 for uint8 images).")
    expected = tuple(spec.shape)

    def summary(x, y=None):
        shape = tf.shape(x)
        padded = tf.concat([shape, tf.fill([4 - tf.size(shape)], -1)], 0)[:4]
        finite = tf.reduce_all(tf.math.is_finite(x))
        lo, hi = tf.reduce_min(x), tf.reduce_max(x)
        y = tf.cast(tf.reshape(y, [-1])[0], tf.int64) if y is not None else tf.constant(0, tf.int64)
        return padded, finite, lo, hi, y

    def batch_summary(x, y=None):
        # Every example has the static shape: one vectorized pass per 4,096 rows
        # (60,000 Fashion-MNIST images: 0.3 s instead of 3 s per example).
        rows, axes = tf.shape(x)[0], list(range(1, x.shape.rank))
        shape = list(x.shape[1:]) + [-1] * (4 - len(x.shape[1:]))
        y = (tf.cast(tf.reshape(y, [rows, -1])[:, 0], tf.int64) if y is not None
             else tf.zeros([rows], tf.int64))
        return (tf.tile(tf.constant([shape[:4]]), [rows, 1]),
                tf.reduce_all(tf.math.is_finite(x), axis=axes),
                tf.reduce_min(x, axis=axes), tf.reduce_max(x, axis=axes), y)

    static = image.shape.is_fully_defined() and (label is None or label.shape.is_fully_defined())
    if static:
        stats = dataset.take(max_examples).batch(4096).map(
            lambda *e: batch_summary(e[0], e[1] if len(e) > 1 else None))
    else:
        stats = dataset.take(max_examples).map(
            lambda *e: summary(e[0], e[1] if len(e) > 1 else None)).batch(4096)
    padded = np.array([*expected, *[-1] * (4 - len(expected))][:4])
    seen = 0
    for shapes, finite, lo, hi, labels in stats.as_numpy_iterator():
        bad = (shapes != padded).any(axis=1) | ~finite
        if spec.is_image:
            bad |= (lo < -1 - _TOLERANCE) | (hi > 1 + _TOLERANCE)
        if spec.num_classes and label is not None:
            bad |= (labels < 0) | (labels >= spec.num_classes)
        # Only the first bad row gets its message (the checks below, in order).
        for i in np.flatnonzero(bad)[:1]:
            shape = tuple(int(d) for d in shapes[i] if d >= 0)
            where = f"example {seen + i} of {name!r}"
            if shape != expected:
                raise DataError(_shape_message(where, shape, expected))
            if not finite[i]:
                raise DataError(f"{where} contains NaN or Inf values; fix or remove it.")
            if spec.is_image and (lo[i] < -1 - _TOLERANCE or hi[i] > 1 + _TOLERANCE):
                raise DataError(
                    f"{where} has values in [{lo[i]:g}, {hi[i]:g}], outside [-1, 1]; the loader "
                    "must scale images to [-1, 1] (x / 127.5 - 1 for uint8).")
            if spec.num_classes and label is not None and not 0 <= labels[i] < spec.num_classes:
                raise DataError(
                    f"{where} has label {labels[i]}, outside [0, {spec.num_classes}) for a data "
                    f"set with num_classes={spec.num_classes}. Relabel it to "
                    f"0..{spec.num_classes - 1} or declare more classes in its DataSpec.")
        seen += len(shapes)
    if seen == 0:
        raise DataError(f"Data set {name!r} has no examples; check its path or split.")


def _shape_message(where, shape, expected):
    if len(shape) == 3 and len(expected) == 3 and shape[:2] == expected[:2]:
        return (f"{where} has {shape[2]} channels but the data set has {expected[2]} "
                f"(shape {shape} vs {expected}). Convert every image to the same channel count "
                "(all greyscale or all RGB).")
    if len(shape) == 3 and len(expected) == 3:
        return (f"{where} is {shape[1]}x{shape[0]} but the data set is {expected[1]}x{expected[0]} "
                f"(shape {shape} vs {expected}). Resize them all with --set data.image_size=N.")
    return f"{where} has shape {shape}; the data set's shape is {expected}."


@dataclasses.dataclass(frozen=True)
class Requirements:
    """What a run (or one end-of-run measurement) needs from its data.

    Args:
        labels: bool. Class labels (`DataSpec.num_classes > 0`). Defaults to False.
        min_classes: int. At least this many classes. Defaults to 0.
        images: bool. Images `(H, W, C)`, not vectors. Defaults to False.
        examples_per_class: int. Training examples of every class, at least
            (counted by one pass over the labels). Defaults to 0.
        splits: tuple of str. Splits besides `train` that must load, e.g.
            `("test",)`. Defaults to ().
    """

    labels: bool = False
    min_classes: int = 0
    images: bool = False
    examples_per_class: int = 0
    splits: tuple = ()


def unmet_requirement(requirements, spec, config, dataset=None):
    """Why the data cannot meet `requirements`, as a phrase naming the fix; None if it can.

    Args:
        requirements: `Requirements`.
        spec: `ganzoo.data.DataSpec` of the training split.
        config: `ExperimentConfig` (its `data` section loads other splits).
        dataset: the unbatched training `tf.data.Dataset`, needed for
            `examples_per_class`.

    Returns:
        str or None, e.g. "class labels, and data set 'folder:x' has none (...)".
    """
    from ganzoo import data  # lazily: models import this module

    name, r = spec.name, requirements
    if (r.labels or r.min_classes or r.examples_per_class) and not spec.num_classes:
        how = ("give it one sub-folder of images per class"
               if name.startswith("folder:") else "use digits, mnist, cifar10 ...")
        return f"class labels, and data set {name!r} has none ({how})"
    if spec.num_classes < r.min_classes:
        return (f"at least {r.min_classes} classes, and data set {name!r} has "
                f"{spec.num_classes}")
    if r.images and not spec.is_image:
        return f"images (H, W, C), and data set {name!r} holds vectors of shape {spec.shape}"
    if r.examples_per_class and dataset is not None:
        labels = np.concatenate([np.asarray(b) for b in dataset.map(lambda x, y: y).batch(8192)]
                                or [np.zeros(0, np.int64)])
        counts = np.bincount(labels.astype(np.int64), minlength=spec.num_classes)
        if counts.min() < r.examples_per_class:
            k = int(np.argmin(counts))
            return (f"{r.examples_per_class} training examples of every class, and class {k} "
                    f"of {name!r} has {counts[k]}")
    for split in r.splits:
        d = config.data
        try:
            data.load(d.name, split, d.image_size, d.data_dir)
        except (FileNotFoundError, ValueError) as e:
            return f"a {split!r} split: {str(e).rstrip('.')}"
    return None


def check_requirements(task, config, spec, dataset=None):
    """Refuses a run whose data cannot give the family's `task` what it needs.

    Called by `train_lib.run` before the run directory is touched, so a
    mismatch costs seconds and changes nothing. Optional end-of-run
    measurements (`task.report_requirements`) that cannot be made are
    only announced: the run trains, and its report skips them.

    Args:
        task: `ganzoo.tasks.Task` of the model family (`tasks.get_task`).
        config: `ExperimentConfig`.
        spec: `DataSpec` of the training split.
        dataset: the unbatched training data (for per-class counts).

    Returns:
        dict: measurement name -> why it will be skipped (`skipped_warnings`
        words them for the user; said once every other check has passed).

    Raises:
        ConfigError: a requirement of `task.data_requirements(config)` is
            not met; the message names the model, the need and the fix.
    """
    model = config.model.name
    reason = unmet_requirement(task.data_requirements(config), spec, config, dataset)
    if reason:
        raise ConfigError(f"{model} needs {reason}.")
    skipped = {}
    for measurement, needs in task.report_requirements(config).items():
        reason = unmet_requirement(needs, spec, config, dataset)
        if reason:
            skipped[measurement] = f"needs {reason}"
    return skipped


def skipped_warnings(model, skipped):
    """The user's warnings for `check_requirements`' skipped measurements."""
    return [f"{model}'s end-of-run measurement {measurement!r} will be skipped: it "
            f"{why}. Training is not affected." for measurement, why in skipped.items()]


def check_best_metric(metric, gan):
    """Raises ConfigError unless `train.best_metric` is None or a metric `gan` logs."""
    names = gan.metric_names()
    if metric is not None and metric not in names:
        raise ConfigError(
            f"Config key 'train.best_metric' is {metric!r}, which {type(gan).__name__} does not "
            f"log; choose one of {', '.join(names)} (with train.best_mode min or max), or null.")


def check_num_images(num_images):
    """Returns `num_images` as an int >= 1, else raises ValueError naming it."""
    if isinstance(num_images, bool) or not isinstance(num_images, (int, np.integer)):
        raise ValueError(f"num_images must be an int >= 1, got {num_images!r} "
                         f"({type(num_images).__name__}).")
    if num_images < 1:
        raise ValueError(f"num_images must be >= 1, got {num_images}: ask for at least one image.")
    return int(num_images)


def check_latent(latent, latent_dim):
    """Checks a latent batch; returns it as a float32 tensor `[batch, latent_dim]`.

    Raises:
        ValueError: non-numeric, wrong rank or width, empty batch or non-finite values.
    """
    hint = f"pass a float array [batch, {latent_dim}], e.g. gan.sample_latent(16)"
    if isinstance(latent, tf.Tensor):
        dtype, shape = latent.dtype, tuple(latent.shape)
        ok_dtype = dtype.is_floating or dtype.is_integer
    else:
        array = np.asarray(latent)
        dtype, shape = array.dtype, array.shape
        ok_dtype = np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)
    if not ok_dtype:
        raise ValueError(f"latent has dtype {getattr(dtype, 'name', dtype)}; {hint}.")
    if len(shape) != 2 or shape[1] != latent_dim:
        raise ValueError(f"latent has shape {shape}, expected [batch, {latent_dim}]; {hint}.")
    if shape[0] == 0:
        raise ValueError(f"latent has a batch of 0 rows; {hint} with batch >= 1.")
    latent = tf.cast(latent, tf.float32)
    if not bool(tf.reduce_all(tf.math.is_finite(latent))):
        raise ValueError(f"latent contains NaN or Inf values; {hint}.")
    return latent


def validated_serving_fn(fn, input_signature):
    """Wraps a serving function with in-graph checks of every input.

    Each input must have the signature's shape (a loaded signature lets
    `[2, 7]` through to a MatMul error), a non-empty
    batch, and finite values if floating; a failing request gets
    `INVALID_ARGUMENT` naming the input and the expected shape. (A wrong dtype
    is already refused by the signature: "expected to be a float tensor".)
    """

    def serving_fn(*inputs):
        return fn(*[_checked(spec, value) for spec, value in zip(input_signature, inputs)])

    serving_fn.__name__ = getattr(fn, "__name__", "serving_fn")
    return serving_fn


def _checked(spec, value):
    """`value` behind runtime checks of `spec`'s shape, a batch > 0 and finite values."""
    name = spec.name or "input"
    # EnsureShape checks at run time ("Shape of tensor latent [2,7] is not compatible
    # with expected shape [?,8]"); assertions on tf.rank would be folded away, since
    # the traced graph already assumes the signature's shape.
    value = tf.ensure_shape(value, spec.shape)
    check = tf.debugging.assert_positive(
        tf.shape(value)[0], message=f"{name} has a batch of 0 rows; send at least one row "
                                    f"of shape {spec.shape.as_list()[1:]}")
    if spec.dtype.is_floating:
        with tf.control_dependencies([check]):
            check = tf.debugging.assert_all_finite(
                value, message=f"{name} contains NaN or Inf; send finite values")
    with tf.control_dependencies([check]):
        return tf.identity(value)
