"""DiffAugment: differentiable augmentation of everything the discriminator sees.

Zhao, Liu, Lin, Zhu & Han, "Differentiable Augmentation for Data-Efficient GAN
Training", NeurIPS 2020, https://arxiv.org/abs/2006.10738. D overfits a small
training set; augmenting real *and* generated images, in D's update and in G's,
with transforms that G's gradient passes through, regularises D without
teaching G to generate augmented images (sec. 3). `train.diffaugment` names the
policies, applied in the order given (the paper's best: `color,translation,cutout`;
`translation,cutout` for small data). The three policies of the authors'
reference code (`DiffAugment_tf.py`), on NHWC images in [-1, 1]:

    color        brightness + U(-0.5, 0.5); saturation: the deviation from each
                 pixel's channel mean x U(0, 2); contrast: the deviation from the
                 image mean x U(0.5, 1.5).
    translation  an integer shift of up to 1/8 of the image size along each
                 axis, with zero padding.
    cutout       a zeroed rectangle of half the image size at a random centre
                 (clipped at the borders).

Every transform is a linear map of the pixels for fixed parameters (adds,
multiplies, gathers), so gradients reach G, and XLA compiles them. Parameters
are drawn statelessly from a seed the model keys on (seed, step, draw), all
seven for the *global* batch at once, each replica taking its slice: a resumed
run augments exactly as the uninterrupted one, and N replicas as one device.
"""

import tensorflow as tf

POLICIES = ("color", "translation", "cutout")
# Fractions of the image size, as in the reference code.
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5
# Columns of the uniform draw used by each policy; all are drawn whichever
# policies are on, so turning one on does not change the others' draws.
_COLUMNS = {"color": (0, 3), "translation": (3, 5), "cutout": (5, 7)}
_NUM_PARAMS = 7


def parse_policy(policy) -> tuple:
    """`"translation,cutout"` -> `("translation", "cutout")`; None or `""` -> `()`.

    Args:
        policy: str (comma-separated names of `POLICIES`), a sequence of names, or None.

    Returns:
        tuple of policy names, in the order given.

    Raises:
        ValueError: an unknown or repeated name, naming the allowed ones.
    """
    if policy is None:
        return ()
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    names = [str(n).strip() for n in names if str(n).strip()]
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown}; allowed: {', '.join(POLICIES)} "
                         "(comma-separated, e.g. 'translation,cutout').")
    if len(set(names)) != len(names):
        raise ValueError(f"DiffAugment policy {names} names a policy twice.")
    return tuple(names)


def diff_augment(images, policy, seed, num_replicas=1, replica_id=0, probability=1.0):
    """Applies the DiffAugment `policy` to a batch (Zhao et al. 2020).

    Args:
        images: float tensor `[B, H, W, C]` in [-1, 1] (this replica's batch), any
            float dtype; H and W must be static.
        policy: str or sequence of names from `POLICIES` (see `parse_policy`).
        seed: int tensor `[2]`. Stateless seed of this batch's parameters.
        num_replicas: int. Replicas in sync; parameters are drawn for the global
            batch of `num_replicas * B` images. Defaults to 1.
        replica_id: int or int tensor. This replica's slice. Defaults to 0.
        probability: float in (0, 1]. Each policy is applied to each image with
            this probability, independently (as ADA, Karras et al. 2020,
            applies its transforms), from a second draw keyed on `seed`, so the
            parameters do not change with it. Defaults to 1 (always: the paper).

    Returns:
        The augmented images: same shape and dtype, differentiable w.r.t. `images`.

    Example:

    >>> seed = tf.constant([0, 7], tf.int64)
    >>> out = diff_augment(images, "color,translation,cutout", seed)
    """
    policy = parse_policy(policy)
    if not policy:
        return images
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"DiffAugment needs NHWC images, got shape {images.shape}.")
    probability = check_probability(probability)
    params = random_parameters(tf.shape(images)[0], seed, num_replicas, replica_id)
    if probability < 1.0:
        keep = tf.random.stateless_uniform(
            [num_replicas, tf.shape(images)[0], len(POLICIES)],
            seed=tf.random.experimental.stateless_fold_in(seed, 1),
            alg="philox")[replica_id] >= probability  # [B, policies]: True = not applied
    for name in policy:
        start, stop = _COLUMNS[name]
        augmented = _RANDOM[name](images, params[:, start:stop])
        if probability < 1.0:
            skip = tf.reshape(keep[:, POLICIES.index(name)], [-1, 1, 1, 1])
            augmented = tf.where(skip, images, augmented)
        images = augmented
    return images


def check_probability(probability):
    """`probability` as a float in (0, 1]; a ValueError naming the range otherwise."""
    value = float(probability)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"DiffAugment probability must be in (0, 1], got {probability!r}.")
    return value


def random_parameters(batch_size, seed, num_replicas=1, replica_id=0):
    """U[0, 1) float32 `[batch_size, 7]`: this replica's rows of one global Philox draw."""
    u = tf.random.stateless_uniform([num_replicas, batch_size, _NUM_PARAMS], seed=seed,
                                    alg="philox")
    return u[replica_id]


# ----------------------------------------------------------- the transforms
def adjust_color(images, brightness, saturation, contrast):
    """Brightness, then saturation, then contrast, one factor per image.

    Args:
        images: float `[B, H, W, C]`.
        brightness: `[B]`, added. saturation: `[B]`, scales the deviation from
            each pixel's channel mean. contrast: `[B]`, scales the deviation from
            the image mean.

    Returns:
        Images of the same shape and dtype.
    """
    dtype = images.dtype

    def per_image(v):
        return tf.reshape(tf.cast(v, dtype), [-1, 1, 1, 1])

    x = images + per_image(brightness)
    mean = _mean(x, axis=[3])
    x = (x - mean) * per_image(saturation) + mean
    mean = _mean(x, axis=[1, 2, 3])
    return (x - mean) * per_image(contrast) + mean


def translate(images, shift_y, shift_x):
    """Moves each image by whole pixels (`out[i, j] = in[i - dy, j - dx]`), zero padded.

    Args:
        images: float `[B, H, W, C]`.
        shift_y, shift_x: int `[B]`. Positive moves the content down / right.

    Returns:
        Images of the same shape and dtype.
    """
    for axis, shift in ((1, shift_y), (2, shift_x)):
        size = images.shape[axis]
        source = tf.range(size)[None, :] - tf.cast(shift, tf.int32)[:, None]  # [B, size]
        inside = tf.cast((source >= 0) & (source < size), images.dtype)
        moved = tf.gather(images, tf.clip_by_value(source, 0, size - 1), axis=axis, batch_dims=1)
        shape = [-1, size, 1, 1] if axis == 1 else [-1, 1, size, 1]
        images = moved * tf.reshape(inside, shape)
    return images


def cut_out(images, center_y, center_x, size):
    """Zeroes rows `[cy - h // 2, cy - h // 2 + h)` x the same for columns, per image.

    Args:
        images: float `[B, H, W, C]`.
        center_y, center_x: int `[B]`. Centre of the rectangle (it may extend
            past the border, where it is clipped).
        size: (int, int). Its height and width.

    Returns:
        Images of the same shape and dtype.
    """
    masks = []
    for axis, center, length in ((1, center_y, size[0]), (2, center_x, size[1])):
        start = tf.cast(center, tf.int32)[:, None] - length // 2
        index = tf.range(images.shape[axis])[None, :]
        masks.append((index >= start) & (index < start + length))  # [B, H] or [B, W]
    inside = masks[0][:, :, None] & masks[1][:, None, :]
    return images * tf.cast(~inside, images.dtype)[..., None]


# --------------------------------------- parameters from uniform draws u in [0, 1)
def _random_color(images, u):
    # Brightness U(-0.5, 0.5), saturation U(0, 2), contrast U(0.5, 1.5).
    return adjust_color(images, u[:, 0] - 0.5, u[:, 1] * 2.0, u[:, 2] + 0.5)


def _random_translation(images, u):
    shifts = []
    for column, axis in ((0, 1), (1, 2)):
        limit = int(images.shape[axis] * TRANSLATION_RATIO + 0.5)
        shifts.append(_uniform_int(u[:, column], -limit, limit))
    return translate(images, *shifts)


def _random_cutout(images, u):
    size = tuple(int(images.shape[axis] * CUTOUT_RATIO + 0.5) for axis in (1, 2))
    # As the reference: centres 0 ... H for an even size, 0 ... H - 1 for an odd one.
    centers = [_uniform_int(u[:, column], 0, images.shape[axis] - length % 2)
               for column, axis, length in ((0, 1, size[0]), (1, 2, size[1]))]
    return cut_out(images, *centers, size)


def _uniform_int(u, low, high):
    """Integers uniform on [low, high] from u ~ U[0, 1)."""
    value = tf.cast(tf.floor(u * (high - low + 1)), tf.int32) + low
    return tf.minimum(value, high)  # u rounded up to 1.0 in float32


def _mean(x, axis):
    # Summed in float32: a 16-bit sum over a whole image loses the small deviations.
    return tf.cast(tf.reduce_mean(tf.cast(x, tf.float32), axis=axis, keepdims=True), x.dtype)


_RANDOM = {"color": _random_color, "translation": _random_translation,
           "cutout": _random_cutout}
