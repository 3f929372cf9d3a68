"""Tests for `ganzoo.losses`: hand-computed golden numbers and TF-GAN as an oracle.

Hand arithmetic used below (softplus(x) = log(1 + e^x)):
    softplus(0.5)  = log(1 + 1.648721) = log(2.648721) = 0.974077
    softplus(-0.5) = log(1 + 0.606531) = log(1.606531) = 0.474077
    softplus(1)    = log(1 + 2.718282) = log(3.718282) = 1.313262
    softplus(-1)   = log(1 + 0.367879) = log(1.367879) = 0.313262
    softplus(-2)   = log(1 + 0.135335) = log(1.135335) = 0.126928
    softplus(0)    = log 2                             = 0.693147
and softplus(x) - softplus(-x) = x.
"""

import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow as tf
from tfgan_oracle import load

from ganzoo import losses

REAL = np.array([0.5, -1.0, 2.0], np.float32)
FAKE = np.array([-0.5, 1.0, 0.0], np.float32)
NAMES = ["hinge", "least_squares", "maximum_likelihood", "minimax", "non_saturating", "wasserstein"]
CROSS_ENTROPY = ["minimax", "non_saturating", "maximum_likelihood"]

# Cross-entropy D loss = softplus(-r) + softplus(f):
#   r: softplus(-0.5)=0.474077, softplus(1)=1.313262, softplus(-2)=0.126928
#   f: softplus(-0.5)=0.474077, softplus(1)=1.313262, softplus(0)=0.693147
CE_D = [0.948154, 2.626524, 0.820075]
# One-sided smoothing a=0.2: real term (1-a) softplus(-r) + a softplus(r) = softplus(-r) + a r:
#   0.474077 + 0.1 = 0.574077; 1.313262 - 0.2 = 1.113262; 0.126928 + 0.4 = 0.526928;
#   plus the untouched fake terms above.
CE_D_SMOOTH = [1.048154, 2.426524, 1.220075]

GOLDEN_G = {
    # -softplus(f)
    "minimax": [-0.474077, -1.313262, -0.693147],
    # softplus(-f): softplus(0.5), softplus(-1), softplus(0)
    "non_saturating": [0.974077, 0.313262, 0.693147],
    # -exp(f)/2: -0.606531/2, -2.718282/2, -1/2
    "maximum_likelihood": [-0.303265, -1.359141, -0.5],
    # -f
    "wasserstein": [0.5, -1.0, 0.0],
    "hinge": [0.5, -1.0, 0.0],
    # (f - 1)^2 / 2: (-1.5)^2/2, 0, (-1)^2/2
    "least_squares": [1.125, 0.0, 0.5],
}
GOLDEN_D = {
    "minimax": CE_D,
    "non_saturating": CE_D,
    "maximum_likelihood": CE_D,
    # f - r
    "wasserstein": [-1.0, 2.0, -2.0],
    # relu(1 - r) + relu(1 + f): 0.5 + 0.5, 2 + 2, 0 + 1
    "hinge": [1.0, 4.0, 1.0],
    # (r - 1)^2/2 + f^2/2: 0.125 + 0.125, 2 + 0.5, 0.5 + 0
    "least_squares": [0.25, 2.5, 0.5],
}


@pytest.fixture(scope="module")
def li():
    return load("losses.losses_impl")


def _close(actual, expected, atol=1e-5):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=1e-5, atol=atol)


# --- Golden numbers, shapes, registry ----------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_golden_values_and_shapes(name):
    pair = losses.get_loss(name)
    for shape in [(3,), (3, 1)]:
        g = pair.generator(FAKE.reshape(shape))
        d = pair.discriminator(REAL.reshape(shape), FAKE.reshape(shape))
        assert g.shape == (3,) and d.shape == (3,)
        assert g.dtype == tf.float32 and d.dtype == tf.float32
        _close(g, GOLDEN_G[name])
        _close(d, GOLDEN_D[name])


@pytest.mark.parametrize("name", CROSS_ENTROPY)
def test_one_sided_label_smoothing_golden(name):
    _close(losses.get_loss(name).discriminator(REAL, FAKE, label_smoothing=0.2), CE_D_SMOOTH)


@pytest.mark.parametrize("name", ["wasserstein", "hinge", "least_squares"])
def test_label_smoothing_rejected_without_targets(name):
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.get_loss(name).discriminator(REAL, FAKE, label_smoothing=0.1)


def test_bad_shapes_and_smoothing_raise():
    with pytest.raises(ValueError, match="same batch size"):
        losses.hinge_discriminator_loss(REAL, FAKE[:2])
    with pytest.raises(ValueError, match=r"\[B\] or \[B, 1\]"):
        losses.non_saturating_generator_loss(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.minimax_discriminator_loss(REAL, FAKE, label_smoothing=1.0)


def test_dynamic_batch_in_tf_function():
    spec = tf.TensorSpec([None, 1], tf.float32)

    @tf.function(input_signature=[spec, spec])
    def d_loss(real, fake):
        return losses.non_saturating_discriminator_loss(real, fake, label_smoothing=0.2)

    assert d_loss.get_concrete_function().structured_outputs.shape.as_list() == [None]
    _close(d_loss(REAL[:, None], FAKE[:, None]), CE_D_SMOOTH)


@pytest.mark.parametrize("name", losses.list_losses())
def test_every_loss_traces_with_a_dynamic_batch_and_matches_eager(name):
    # The family x loss grid in test_models runs eagerly but for one case, so the
    # graph-mode form of every loss is checked here.
    pair = losses.get_loss(name)
    spec = tf.TensorSpec([None], tf.float32)
    d_loss = tf.function(pair.discriminator, input_signature=[spec, spec])
    g_loss = tf.function(pair.generator, input_signature=[spec])
    assert d_loss.get_concrete_function().structured_outputs.shape.as_list() == [None]
    assert g_loss.get_concrete_function().structured_outputs.shape.as_list() == [None]
    _close(d_loss(REAL, FAKE), pair.discriminator(REAL, FAKE))
    _close(g_loss(FAKE), pair.generator(FAKE))


def test_stable_for_extreme_logits():
    big = np.array([-200.0, 200.0], np.float32)
    d = losses.minimax_discriminator_loss(big, big, label_smoothing=0.1)
    # softplus(200) = 200 and softplus(-200) = 0 in float32, with no inf/NaN from log(sigmoid).
    # Real term softplus(-r) + a r, fake term softplus(f):
    #   r = f = -200: 200 - 0.1 * 200 + 0 = 180;  r = f = 200: 0 + 0.1 * 200 + 200 = 220.
    _close(d, [180.0, 220.0], atol=1e-3)
    _close(losses.non_saturating_generator_loss(big), [200.0, 0.0], atol=1e-3)


def test_registry():
    assert losses.list_losses() == NAMES
    assert losses.DEFAULT_LOSS in losses.LOSSES
    with pytest.raises(ValueError) as err:
        losses.get_loss("wgan")
    for name in NAMES:
        assert name in str(err.value)


# --- TF-GAN oracle (it reduces with a mean, so compare means) ----------------------------


def test_cross_entropy_matches_tfgan(li):
    real, fake = tf.constant(REAL), tf.constant(FAKE)
    _close(
        tf.reduce_mean(losses.non_saturating_generator_loss(fake)), li.modified_generator_loss(fake)
    )
    # TF-GAN's minimax G loss is -minimax_discriminator_loss(ones_like(f), f): its "real" term
    # on constant logits 1 adds -softplus(-1) = -0.313262, a constant without gradient.
    _close(
        tf.reduce_mean(losses.minimax_generator_loss(fake)),
        li.minimax_generator_loss(fake) + np.log1p(np.exp(-1.0)),
    )
    # TF-GAN smooths through tf.compat.v1.losses.sigmoid_cross_entropy, which maps a target y
    # to y (1 - s) + 0.5 s: real targets become 1 - s/2, fake ones are not smoothed. So our
    # one-sided alpha (real target 1 - alpha) is TF-GAN's label_smoothing = 2 alpha.
    for alpha in [0.0, 0.1, 0.2]:
        ours = tf.reduce_mean(losses.minimax_discriminator_loss(real, fake, alpha))
        _close(ours, li.minimax_discriminator_loss(real, fake, label_smoothing=2 * alpha))
        _close(ours, li.modified_discriminator_loss(real, fake, label_smoothing=2 * alpha))


def test_other_losses_match_tfgan(li):
    real, fake = tf.constant(REAL), tf.constant(FAKE)
    pairs = [
        ("wasserstein", li.wasserstein_generator_loss, li.wasserstein_discriminator_loss),
        ("hinge", li.wasserstein_hinge_generator_loss, li.wasserstein_hinge_discriminator_loss),
        ("least_squares", li.least_squares_generator_loss, li.least_squares_discriminator_loss),
    ]
    for name, oracle_g, oracle_d in pairs:
        pair = losses.get_loss(name)
        _close(tf.reduce_mean(pair.generator(fake)), oracle_g(fake))
        _close(tf.reduce_mean(pair.discriminator(real, fake)), oracle_d(real, fake))


# --- Gradient penalty --------------------------------------------------------------------

W = np.array([[0.5, -0.5, 0.1], [0.2, 0.3, -0.4]], np.float32)  # ||W||^2 = 0.8


def _linear_critic(w):
    return lambda x: tf.reduce_sum(x * w, axis=[1, 2])


def _data(batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, 2, 3)).astype(np.float32) for _ in range(2)]


def _alpha(batch, seed):
    """Interpolation weights, uniform on [0, 1], one per example (as WGANGP draws them)."""
    return np.random.default_rng(seed).uniform(size=batch).astype(np.float32)


def test_gradient_penalty_linear_critic_golden():
    real, fake = _data()
    alpha = _alpha(4, seed=1)
    # grad of sum(w * x_hat) is w for every example: ||g|| = ||w|| whatever alpha is.
    gp = losses.gradient_penalty(_linear_critic(W), real, fake, alpha)
    assert gp.shape == (4,)
    _close(gp, [(np.sqrt(0.8) - 1.0) ** 2] * 4)  # (0.894427 - 1)^2 = 0.011146
    one_sided = losses.gradient_penalty(_linear_critic(W), real, fake, alpha, one_sided=True)
    _close(one_sided, [0.0] * 4)  # ||w|| < 1 is not penalised
    # ||2w|| = sqrt(3.2) = 1.788854 > 1: both variants give 0.788854^2 = 0.622291.
    for one_sided in [False, True]:
        gp = losses.gradient_penalty(_linear_critic(2 * W), real, fake, alpha, one_sided)
        _close(gp, [0.622291] * 4)


def test_gradient_penalty_interpolates_per_example():
    # critic sum(x^2)/2 has gradient x_hat, so ||g|| = ||alpha real + (1 - alpha) fake||:
    #   ex. 0: 0.2 [3, 4] + 0.8 [0, 0] = [0.6, 0.8]; norm 1; (1 - 1)^2 = 0
    #   ex. 1: 0.25 [1, 0] + 0.75 [0, 2] = [0.25, 1.5]; norm sqrt(2.3125) = 1.520691;
    #          (1.520691 - 1)^2 = 0.271119
    real = np.array([[3.0, 4.0], [1.0, 0.0]], np.float32)
    fake = np.array([[0.0, 0.0], [0.0, 2.0]], np.float32)
    critic = lambda x: 0.5 * tf.reduce_sum(tf.square(x), axis=1)  # noqa: E731
    _close(losses.gradient_penalty(critic, real, fake, [0.2, 0.25]), [0.0, 0.271119])


def test_gradient_penalty_matches_tfgan(li):
    real, fake = (tf.constant(x) for x in _data())
    w = tf.constant(W)

    # TF-GAN's penalty is graph-only (tf.gradients) and draws its own alphas, which the
    # linear critic makes irrelevant.
    @tf.function
    def oracle(target, one_sided):
        return li.wasserstein_gradient_penalty(
            real,
            fake,
            None,
            lambda x, _: _linear_critic(w)(x),
            "critic",
            epsilon=1e-10,
            target=target,
            one_sided=one_sided,
        )

    alpha = _alpha(4, seed=2)
    for target, one_sided in [(1.0, False), (0.5, True), (2.0, False)]:
        ours = losses.gradient_penalty(
            _linear_critic(w), real, fake, alpha, one_sided, target, epsilon=1e-10
        )
        # TF-GAN returns (||g|| / target - 1)^2 = (||g|| - target)^2 / target^2.
        _close(tf.reduce_mean(ours), oracle(target, one_sided) * target**2)


@pytest.mark.parametrize("compiled", [False, True])
def test_gradient_penalty_differentiable_wrt_critic(compiled):
    real, fake = _data()
    alpha = _alpha(4, seed=3)
    w = tf.Variable(W)

    def grad():
        with tf.GradientTape() as tape:
            gp = tf.reduce_mean(losses.gradient_penalty(_linear_critic(w), real, fake, alpha))
        return tape.gradient(gp, w)

    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    norm = np.sqrt(0.8)
    _close((tf.function(grad) if compiled else grad)(), 2 * (norm - 1) * W / norm)


def test_gradient_penalty_second_order_finite_at_zero_gradient():
    real, fake = _data()
    alpha = _alpha(4, seed=4)
    w = tf.Variable(tf.zeros_like(W))  # critic gradient is exactly 0
    with tf.GradientTape() as tape:
        gp = tf.reduce_mean(losses.gradient_penalty(_linear_critic(w), real, fake, alpha))
    _close(gp, 1.0, atol=1e-5)  # (sqrt(0 + eps) - 1)^2
    grad = tape.gradient(gp, w)
    assert np.all(np.isfinite(grad)), grad
    # The test can fail: a plain sqrt(sum(g^2)) gives inf * 0 = NaN here.
    with tf.GradientTape() as tape:
        with tf.GradientTape() as inner:
            x = tf.constant(real)
            inner.watch(x)
            out = tf.reduce_sum(_linear_critic(w)(x))
        naive = tf.sqrt(tf.reduce_sum(tf.square(inner.gradient(out, x)), axis=[1, 2]))
        naive = tf.reduce_mean(tf.square(naive - 1.0))
    assert np.isnan(tape.gradient(naive, w)).any()


# --- Mutual information penalty ----------------------------------------------------------

# logits [1, 2, 3], code 2: -log softmax = log(e + e^2 + e^3) - 3
#   = log(2.718282 + 7.389056 + 20.085537) - 3 = log(30.192875) - 3 = 0.407606
# unit std, mean 0.5, code 1: 0.5 (0.5)^2 + 0.5 log(2 pi) = 0.125 + 0.918939 = 1.043939
# log std = log 2, mean 0, code 1: 0.5 (1/2)^2 + log 2 + 0.918939 = 0.125 + 0.693147 + 0.918939
#   = 1.737086
CAT_LOGITS = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], np.float32)
CAT_CODES = np.array([2, 1])  # ex. 1: uniform logits, -log(1/3) = 1.098612
CAT_NLL = [0.407606, 1.098612]


def test_mutual_information_categorical_golden():
    one_hot = np.eye(3, dtype=np.float32)[CAT_CODES]
    for codes in [CAT_CODES, one_hot]:
        mi = losses.mutual_information_penalty(CAT_LOGITS, codes)
        assert mi.shape == (2,)
        _close(mi, CAT_NLL)


def test_mutual_information_continuous_golden():
    mean = np.array([[0.5], [0.0]], np.float32)
    codes = np.array([[1.0], [1.0]], np.float32)
    _close(
        losses.mutual_information_penalty(continuous_mean=mean, continuous_codes=codes),
        [1.043939, 0.5 + 0.918939],
    )
    log_std = np.full((2, 1), np.log(2.0), np.float32)
    mi = losses.mutual_information_penalty(
        continuous_mean=mean[1:], continuous_codes=codes[1:], continuous_log_std=log_std[1:]
    )
    _close(mi, [1.737086])
    _close(mi, -scipy.stats.norm.logpdf(1.0, loc=0.0, scale=2.0))


def test_mutual_information_weights_and_errors():
    mean = np.array([[0.5], [0.0]], np.float32)
    codes = np.array([[1.0], [1.0]], np.float32)
    mi = losses.mutual_information_penalty(
        CAT_LOGITS, CAT_CODES, mean, codes, categorical_weight=2.0, continuous_weight=0.1
    )
    _close(mi, [2 * 0.407606 + 0.1 * 1.043939, 2 * 1.098612 + 0.1 * 1.418939])
    with pytest.raises(ValueError, match="both"):
        losses.mutual_information_penalty(categorical_logits=CAT_LOGITS)
    with pytest.raises(ValueError):
        losses.mutual_information_penalty()


class _ScipyCategorical:
    """Duck-typed distribution for TF-GAN (it only calls `log_prob`), backed by scipy."""

    def __init__(self, logits):
        self.logits = logits

    def log_prob(self, codes):
        log_p = scipy.special.log_softmax(self.logits, axis=-1)
        return tf.constant(log_p[np.arange(len(codes)), codes], tf.float32)


class _ScipyDiagNormal:
    """Like tfp's MultivariateNormalDiag: log-density summed over the last axis."""

    def __init__(self, loc, scale):
        self.loc, self.scale = loc, scale

    def log_prob(self, x):
        return tf.constant(scipy.stats.norm.logpdf(x, self.loc, self.scale).sum(-1), tf.float32)


def test_mutual_information_matches_tfgan(li):
    # tensorflow_probability is not importable here (the oracle stubs it), so the predicted
    # distributions are duck-typed with scipy; TF-GAN supplies the -sum(weight * mean log_prob).
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 4)).astype(np.float32)
    cat = rng.integers(0, 4, size=5)
    mean, log_std = rng.normal(size=(2, 5, 2)).astype(np.float32)
    cont = rng.normal(size=(5, 2)).astype(np.float32)
    ours = losses.mutual_information_penalty(
        logits, cat, mean, cont, log_std, categorical_weight=1.0, continuous_weight=0.5
    )
    oracle = li.mutual_information_penalty(
        [cat, cont],
        [_ScipyCategorical(logits), _ScipyDiagNormal(mean, np.exp(log_std))],
        weights=[1.0, 0.5],
        reduction=tf.compat.v1.losses.Reduction.SUM,
    )
    _close(tf.reduce_mean(ours), oracle)


# --- Feature matching --------------------------------------------------------------------


def test_feature_matching_golden():
    real = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)  # mean [2, 3]
    fake = np.array([[0.0, 0.0], [2.0, 2.0]], np.float32)  # mean [1, 1]
    # ||[2, 3] - [1, 1]||^2 = 1 + 4 = 5
    _close(losses.feature_matching_loss(real, fake), 5.0)
    _close(losses.feature_matching_loss(real, real_mean=None, fake_mean=[1.0, 1.0]), 5.0)
    with pytest.raises(ValueError, match="exactly one"):
        losses.feature_matching_loss(real, fake, real_mean=[2.0, 3.0])
