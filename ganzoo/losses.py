"""Adversarial losses and penalties, chosen by name.

Every adversarial loss takes discriminator **logits** of shape `[B]` or `[B, 1]`
and returns **per-example** float32 losses of shape `[B]`. Callers reduce with
`tf.nn.compute_average_loss`, which stays correct under `tf.distribute`.
Naming follows TF-GAN (`<name>_generator_loss(fake_logits)`,
`<name>_discriminator_loss(real_logits, fake_logits, label_smoothing=0.0)`);
the uniform signatures follow compare_gan, so a loss is picked from config with
`get_loss(name)`.

Label smoothing is **one-sided** (Salimans et al. 2016, https://arxiv.org/abs/1606.03498):
real targets become `1 - label_smoothing`, fake targets stay 0. Only the
cross-entropy losses (`minimax`, `non_saturating`, `maximum_likelihood`) have
targets to smooth; the others raise `ValueError` for `label_smoothing > 0`.
TF-GAN's `label_smoothing=a` maps real targets to `1 - a/2`
(`tf.compat.v1.losses.sigmoid_cross_entropy`): our `a` is its `2 * a`.
"""

import dataclasses
import math
from collections.abc import Callable

import tensorflow as tf

_LOG_2PI = math.log(2.0 * math.pi)


def _logits(x, name: str) -> tf.Tensor:
    """Casts to float32 and flattens `[B]` or `[B, 1]` logits to `[B]`."""
    x = tf.cast(tf.convert_to_tensor(x), tf.float32)
    rank = x.shape.rank
    if rank is not None and not (rank == 1 or (rank == 2 and x.shape[1] == 1)):
        raise ValueError(f"`{name}` must have shape [B] or [B, 1], got {x.shape}.")
    return tf.reshape(x, [-1])


def _pair(real_logits, fake_logits):
    real = _logits(real_logits, "real_logits")
    fake = _logits(fake_logits, "fake_logits")
    if real.shape[0] is not None and fake.shape[0] is not None and real.shape[0] != fake.shape[0]:
        raise ValueError(
            "`real_logits` and `fake_logits` must have the same batch size, got "
            f"{real.shape[0]} and {fake.shape[0]}."
        )
    return real, fake


def _no_smoothing(label_smoothing: float, loss: str) -> None:
    if label_smoothing:
        raise ValueError(
            f"label_smoothing={label_smoothing} is not supported by the {loss!r} loss: it has "
            "no real/fake targets to smooth. Use 'minimax', 'non_saturating' or "
            "'maximum_likelihood', or set label_smoothing=0."
        )


# --- Cross-entropy family (Goodfellow et al. 2014) -----------------------------------------


def minimax_discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """Cross-entropy discriminator loss with one-sided label smoothing.

    Shared by `minimax`, `non_saturating` and `maximum_likelihood`: they differ
    only in the generator loss. Per example,
    `-(1 - a) log D(x) - a log(1 - D(x)) - log(1 - D(G(z)))` with `D = sigmoid`,
    written as `(1 - a) softplus(-r) + a softplus(r) + softplus(f)` on logits.
    Reference: Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661; smoothing
    from Salimans et al. 2016, https://arxiv.org/abs/1606.03498.

    Args:
        real_logits: float tensor `[B]` or `[B, 1]`. Discriminator logits on real data.
        fake_logits: float tensor `[B]` or `[B, 1]`. Discriminator logits on generated data.
        label_smoothing: float in `[0, 1)`. One-sided smoothing `a`: real targets
            become `1 - a`, fake targets stay 0. Defaults to `0.0`.

    Returns:
        float32 tensor `[B]`: the per-example sum of the real and fake terms.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}.")
    real, fake = _pair(real_logits, fake_logits)
    a = float(label_smoothing)
    real_term = (1.0 - a) * tf.nn.softplus(-real) + a * tf.nn.softplus(real)
    return real_term + tf.nn.softplus(fake)


non_saturating_discriminator_loss = minimax_discriminator_loss
maximum_likelihood_discriminator_loss = minimax_discriminator_loss


def minimax_generator_loss(fake_logits):
    """Minimax generator loss `log(1 - D(G(z))) = -softplus(f)` (J(G) = -J(D)).

    Saturates when the discriminator wins; kept for completeness.
    Reference: Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661.

    Args:
        fake_logits: float tensor `[B]` or `[B, 1]`. Discriminator logits on generated data.

    Returns:
        float32 tensor `[B]` of per-example losses.
    """
    return -tf.nn.softplus(_logits(fake_logits, "fake_logits"))


def non_saturating_generator_loss(fake_logits):
    """Non-saturating generator loss `-log D(G(z)) = softplus(-f)`, the default.

    Reference: Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661 (Sec. 3).

    Args:
        fake_logits: float tensor `[B]` or `[B, 1]`. Discriminator logits on generated data.

    Returns:
        float32 tensor `[B]` of per-example losses.

    Example:
    ```python
    non_saturating_generator_loss([0.0, 2.0])  # [log 2, log(1 + e^-2)]
    ```
    """
    return tf.nn.softplus(-_logits(fake_logits, "fake_logits"))


def maximum_likelihood_generator_loss(fake_logits):
    """Maximum-likelihood generator loss `-1/2 exp(sigma^-1(D(G(z)))) = -exp(f) / 2`.

    With an optimal discriminator its expected gradient equals that of
    `KL(p_data || p_g)`. Unbounded below for large logits, like the paper's.
    References: Goodfellow 2014, "On distinguishability criteria for estimating
    generative models", https://arxiv.org/abs/1412.6515; Goodfellow 2016, NIPS
    tutorial, https://arxiv.org/abs/1701.00160 (Sec. 3.2.3).

    Args:
        fake_logits: float tensor `[B]` or `[B, 1]`. Discriminator logits on generated data.

    Returns:
        float32 tensor `[B]` of per-example losses.
    """
    return -0.5 * tf.exp(_logits(fake_logits, "fake_logits"))


# --- Critic losses -------------------------------------------------------------------------


def wasserstein_discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """Wasserstein critic loss `D(G(z)) - D(x)`.

    Needs a Lipschitz constraint (weight clipping or `gradient_penalty`).
    Reference: Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875.

    Args:
        real_logits: float tensor `[B]` or `[B, 1]`. Critic outputs on real data.
        fake_logits: float tensor `[B]` or `[B, 1]`. Critic outputs on generated data.
        label_smoothing: must be `0.0`; any other value raises `ValueError`.

    Returns:
        float32 tensor `[B]` of per-example losses.
    """
    _no_smoothing(label_smoothing, "wasserstein")
    real, fake = _pair(real_logits, fake_logits)
    return fake - real


def wasserstein_generator_loss(fake_logits):
    """Wasserstein (and hinge) generator loss `-D(G(z))`.

    References: Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875;
    Lim & Ye 2017, https://arxiv.org/abs/1705.02894.

    Args:
        fake_logits: float tensor `[B]` or `[B, 1]`. Critic outputs on generated data.

    Returns:
        float32 tensor `[B]` of per-example losses.
    """
    return -_logits(fake_logits, "fake_logits")


hinge_generator_loss = wasserstein_generator_loss


def hinge_discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """Hinge discriminator loss `relu(1 - D(x)) + relu(1 + D(G(z)))`.

    Equals TF-GAN's `wasserstein_hinge_discriminator_loss` with unit hinges.
    References: Lim & Ye 2017, https://arxiv.org/abs/1705.02894; Miyato et al.
    2018, https://arxiv.org/abs/1802.05957.

    Args:
        real_logits: float tensor `[B]` or `[B, 1]`. Discriminator outputs on real data.
        fake_logits: float tensor `[B]` or `[B, 1]`. Discriminator outputs on generated data.
        label_smoothing: must be `0.0`; any other value raises `ValueError`.

    Returns:
        float32 tensor `[B]` of per-example losses.
    """
    _no_smoothing(label_smoothing, "hinge")
    real, fake = _pair(real_logits, fake_logits)
    return tf.nn.relu(1.0 - real) + tf.nn.relu(1.0 + fake)


def least_squares_discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """Least-squares discriminator loss `(D(x) - 1)^2 / 2 + D(G(z))^2 / 2` (a=0, b=1).

    Reference: Mao et al. 2017, https://arxiv.org/abs/1611.04076 (Eq. 9, a=0, b=c=1).

    Args:
        real_logits: float tensor `[B]` or `[B, 1]`. Raw discriminator outputs on real data.
        fake_logits: float tensor `[B]` or `[B, 1]`. Raw outputs on generated data.
        label_smoothing: must be `0.0`; any other value raises `ValueError`.

    Returns:
        float32 tensor `[B]` of per-example losses.
    """
    _no_smoothing(label_smoothing, "least_squares")
    real, fake = _pair(real_logits, fake_logits)
    return 0.5 * tf.square(real - 1.0) + 0.5 * tf.square(fake)


def least_squares_generator_loss(fake_logits):
    """Least-squares generator loss `(D(G(z)) - 1)^2 / 2` (c=1).

    Reference: Mao et al. 2017, https://arxiv.org/abs/1611.04076 (Eq. 9).

    Args:
        fake_logits: float tensor `[B]` or `[B, 1]`. Raw outputs on generated data.

    Returns:
        float32 tensor `[B]` of per-example losses.
    """
    return 0.5 * tf.square(_logits(fake_logits, "fake_logits") - 1.0)


# --- Registry ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LossPair:
    """A generator loss and the discriminator loss it is trained against."""

    generator: Callable[..., tf.Tensor]
    discriminator: Callable[..., tf.Tensor]


LOSSES: dict[str, LossPair] = {
    "minimax": LossPair(minimax_generator_loss, minimax_discriminator_loss),
    "non_saturating": LossPair(non_saturating_generator_loss, non_saturating_discriminator_loss),
    "maximum_likelihood": LossPair(
        maximum_likelihood_generator_loss, maximum_likelihood_discriminator_loss
    ),
    "wasserstein": LossPair(wasserstein_generator_loss, wasserstein_discriminator_loss),
    "hinge": LossPair(hinge_generator_loss, hinge_discriminator_loss),
    "least_squares": LossPair(least_squares_generator_loss, least_squares_discriminator_loss),
}
DEFAULT_LOSS = "non_saturating"
# Losses whose discriminator output is the logit of P(real): only there is D(x)
# a probability (logged as one, and "D(x) ~ 1" a sign of a collapsed D).
PROBABILITY_LOSSES = ("minimax", "non_saturating", "maximum_likelihood")


def list_losses() -> list[str]:
    """Returns the sorted names accepted by `get_loss`."""
    return sorted(LOSSES)


def get_loss(name: str) -> LossPair:
    """Returns the `LossPair` registered under `name`.

    Args:
        name: str. One of `list_losses()`, e.g. `"non_saturating"`.

    Returns:
        A `LossPair(generator, discriminator)`.

    Example:
    ```python
    pair = get_loss("hinge")
    d_loss = tf.nn.compute_average_loss(pair.discriminator(real_logits, fake_logits))
    ```
    """
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(
            f"Unknown loss {name!r}. Known losses: {', '.join(list_losses())}."
        ) from None


# --- Penalties -----------------------------------------------------------------------------


def gradient_penalty(
    critic_fn: Callable[[tf.Tensor], tf.Tensor],
    real,
    fake,
    alpha,
    one_sided: bool = False,
    target: float = 1.0,
    epsilon: float = 1e-12,
) -> tf.Tensor:
    """Per-example gradient penalty on interpolates between real and fake data.

    `x_hat = alpha * real + (1 - alpha) * fake`; penalty `(||grad D(x_hat)|| - target)^2`,
    or `max(0, ||grad D(x_hat)|| - target)^2` when `one_sided`. The norm is
    `sqrt(sum(g^2) + epsilon)`, so the penalty's gradient stays finite when `g = 0`.
    Differentiable w.r.t. the critic's variables: call it under the outer tape.
    Unlike TF-GAN, which returns `(||g|| / target - 1)^2`, this does not divide
    by `target^2`; the two agree for `target=1`.
    References: Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028;
    one-sided: Petzka et al. 2018, https://arxiv.org/abs/1709.08894.

    Args:
        critic_fn: callable mapping a batch `[B, ...]` to outputs `[B]` or `[B, 1]`
            (if it returns a tuple/list, the first element is used).
        real: float tensor `[B, ...]`. Real data.
        fake: float tensor `[B, ...]`, same shape. Generated data.
        alpha: float tensor `[B]`. Interpolation weights, uniform on [0, 1], one per
            example (the paper's Algorithm 1; `WGANGP` draws them in its train step).
        one_sided: bool. Penalise only norms above `target`. Defaults to `False`.
        target: float. Target gradient norm. Defaults to `1.0`.
        epsilon: float. Added under the square root for stability. Defaults to `1e-12`.

    Returns:
        float32 tensor `[B]` of per-example penalties.

    Example:
    ```python
    alpha = keras.random.uniform((batch_size,), seed=seed_generator)  # a SeedGenerator
    gp = gradient_penalty(discriminator, real, fake, alpha)
    ```
    """
    real = tf.convert_to_tensor(real)
    fake = tf.cast(tf.convert_to_tensor(fake), real.dtype)
    alpha = tf.cast(tf.reshape(alpha, [-1] + [1] * (real.shape.rank - 1)), real.dtype)
    x_hat = alpha * real + (1.0 - alpha) * fake
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        out = critic_fn(x_hat)
        if isinstance(out, (tuple, list)):
            out = out[0]
        total = tf.reduce_sum(tf.cast(out, tf.float32))
    grads = tape.gradient(total, x_hat, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    grads = tf.cast(grads, tf.float32)
    squares = tf.reduce_sum(tf.square(tf.reshape(grads, [tf.shape(grads)[0], -1])), axis=1)
    excess = tf.sqrt(squares + epsilon) - target
    if one_sided:
        excess = tf.nn.relu(excess)
    return tf.square(excess)


def mutual_information_penalty(
    categorical_logits=None,
    categorical_codes=None,
    continuous_mean=None,
    continuous_codes=None,
    continuous_log_std=None,
    categorical_weight: float = 1.0,
    continuous_weight: float = 1.0,
) -> tf.Tensor:
    """Per-example InfoGAN penalty: the negative variational bound `-log Q(c | G(z, c))`.

    Categorical part: softmax cross-entropy of the codes under `categorical_logits`
    `[B, ..., K]`; codes are int indices `[B, ...]` or one-hot `[B, ..., K]`.
    Continuous part: Gaussian negative log-likelihood
    `0.5 ((c - mu) / sigma)^2 + log sigma + 0.5 log(2 pi)`, with `sigma = 1` when
    `continuous_log_std` is None. The `0.5 log(2 pi)` constant is kept so values
    equal true NLLs (as TF-GAN's `-log_prob`); it has no gradient. The code entropy
    `H(c)` of the paper's bound is a constant and is omitted. Both parts sum over
    all non-batch axes (the joint likelihood of the code vector).
    Reference: Chen et al. 2016, https://arxiv.org/abs/1606.03657 (Eq. 5-6).

    Args:
        categorical_logits: float tensor `[B, ..., K]` or None. Q's categorical logits.
        categorical_codes: int `[B, ...]` or one-hot float `[B, ..., K]`, or None.
        continuous_mean: float tensor `[B, ...]` or None. Q's predicted means.
        continuous_codes: float tensor like `continuous_mean`, or None. The true codes.
        continuous_log_std: float tensor broadcastable to the codes, or None (unit std).
        categorical_weight: float. The paper's lambda for discrete codes. Defaults to 1.
        continuous_weight: float. The lambda for continuous codes. Defaults to 1.

    Returns:
        float32 tensor `[B]`: the weighted sum of both parts.
    """
    if (categorical_logits is None) != (categorical_codes is None):
        raise ValueError("Pass both `categorical_logits` and `categorical_codes`, or neither.")
    if (continuous_mean is None) != (continuous_codes is None):
        raise ValueError("Pass both `continuous_mean` and `continuous_codes`, or neither.")
    if continuous_mean is None and continuous_log_std is not None:
        raise ValueError("`continuous_log_std` needs `continuous_mean` and `continuous_codes`.")
    if categorical_logits is None and continuous_mean is None:
        raise ValueError("Pass categorical and/or continuous predictions and codes.")

    def per_example(x):
        return tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)

    terms = []
    if categorical_logits is not None:
        logits = tf.cast(tf.convert_to_tensor(categorical_logits), tf.float32)
        codes = tf.convert_to_tensor(categorical_codes)
        if codes.shape.rank == logits.shape.rank:
            ce = tf.nn.softmax_cross_entropy_with_logits(tf.cast(codes, tf.float32), logits)
        elif codes.shape.rank == logits.shape.rank - 1:
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(codes, tf.int32), logits)
        else:
            raise ValueError(
                "`categorical_codes` must be indices of shape logits.shape[:-1] or one-hot of "
                f"the logits' shape; got {codes.shape} for logits {logits.shape}."
            )
        terms.append(categorical_weight * per_example(ce))
    if continuous_mean is not None:
        mean = tf.cast(tf.convert_to_tensor(continuous_mean), tf.float32)
        z = tf.cast(tf.convert_to_tensor(continuous_codes), tf.float32) - mean
        nll = 0.5 * tf.square(z) + 0.5 * _LOG_2PI
        if continuous_log_std is not None:
            log_std = tf.cast(tf.convert_to_tensor(continuous_log_std), tf.float32)
            nll = 0.5 * tf.square(z * tf.exp(-log_std)) + log_std + 0.5 * _LOG_2PI
        terms.append(continuous_weight * per_example(nll))
    return tf.add_n(terms)


def feature_matching_loss(
    real_features=None, fake_features=None, *, real_mean=None, fake_mean=None
) -> tf.Tensor:
    """Feature matching `|| E f(x) - E f(G(z)) ||_2^2`, a scalar batch statistic.

    Give features `[B, ...]` (averaged here over the batch) or precomputed means
    `[...]`. Under `tf.distribute` per-replica means are wrong: pass global means,
    e.g. `ctx.all_reduce("sum", tf.reduce_sum(f, 0)) / global_batch_size`, and
    scale the result with `tf.nn.scale_regularization_loss`, not
    `compute_average_loss`, since it is not per-example.
    Reference: Salimans et al. 2016, https://arxiv.org/abs/1606.03498 (Sec. 3.1).

    Args:
        real_features: float tensor `[B, ...]` or None. Intermediate D features on real data.
        fake_features: float tensor `[B, ...]` or None. The same features on generated data.
        real_mean: float tensor `[...]` or None. Precomputed batch mean of real features.
        fake_mean: float tensor `[...]` or None. Precomputed batch mean of fake features.

    Returns:
        float32 scalar tensor.
    """

    def mean_of(features, mean, name):
        if (features is None) == (mean is None):
            raise ValueError(f"Pass exactly one of `{name}_features` and `{name}_mean`.")
        if mean is None:
            mean = tf.reduce_mean(tf.cast(tf.convert_to_tensor(features), tf.float32), axis=0)
        return tf.cast(tf.convert_to_tensor(mean), tf.float32)

    real = mean_of(real_features, real_mean, "real")
    fake = mean_of(fake_features, fake_mean, "fake")
    return tf.reduce_sum(tf.square(real - fake))
