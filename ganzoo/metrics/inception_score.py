"""Inception Score (IS) from classifier logits.

Salimans et al. 2016, "Improved Techniques for Training GANs",
https://arxiv.org/abs/1606.03498:  IS = exp(E_x KL(p(y|x) || p(y))).
"""

import numpy as np
from scipy.special import log_softmax, logsumexp


def inception_score_from_logits(logits, num_splits=10):
    """Inception Score: mean and std over `num_splits` splits.

    Salimans et al. 2016, https://arxiv.org/abs/1606.03498. As in the authors'
    code, the samples are cut into `num_splits` contiguous chunks, the score
    `exp(mean_x KL(p(y|x) || p(y)))` is computed per chunk with that chunk's
    marginal p(y), and the mean and (population) std of the chunk scores are
    returned. Softmax is taken in float64 from logits, so no probability ever
    underflows to a `log(0)`. With `num_splits=1` this equals TF-GAN's
    `classifier_score_from_logits`.

    Args:
        logits: array `[N, num_classes]`. Pre-softmax classifier outputs. For
            probabilities, pass `np.log(probs)`.
        num_splits: int. Number of chunks. Defaults to 10.

    Returns:
        `(mean, std)` floats. The score lies in [1, num_classes].

    Example:

    >>> import numpy as np
    >>> mean, std = inception_score_from_logits(20.0 * np.eye(10), num_splits=1)
    >>> round(mean, 3)
    10.0
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"`logits` must be [N, num_classes], got shape {logits.shape}.")
    if not 1 <= num_splits <= logits.shape[0]:
        raise ValueError(f"`num_splits` must be in [1, N={logits.shape[0]}], got {num_splits}.")
    scores = []
    for chunk in np.array_split(logits, num_splits):
        log_p = log_softmax(chunk, axis=1)
        p = np.exp(log_p)
        # log p(y) by logsumexp stays finite even for a class no sample predicts.
        log_marginal = logsumexp(log_p, axis=0) - np.log(chunk.shape[0])
        kl = (p * (log_p - log_marginal)).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
