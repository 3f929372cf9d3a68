"""FreezeD fine-tuning: frozen D blocks keep bit-identical weights, the rest trains."""

import numpy as np
import pytest
from gan_test_utils import build_tiny, compile_tiny, fit_steps

from ganzoo import finetune


def test_frozen_blocks_stay_bit_identical():
    gan, spec = build_tiny("dcgan")
    compile_tiny(gan)
    finetune.prepare(gan, freeze_d_blocks=1, learning_rate_scale=0.5)
    assert np.isclose(float(gan.d_optimizer.learning_rate), 1e-4)
    frozen = [w for layer in finetune.discriminator_blocks(gan.discriminator)[0]
              for w in layer.weights]
    before = [w.numpy().copy() for w in frozen]
    rest = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    fit_steps(gan, spec, steps=2)
    for old, w in zip(before, frozen):
        np.testing.assert_array_equal(old, w.numpy())
    assert any(not np.array_equal(o, w.numpy())
               for o, w in zip(rest, gan.discriminator.trainable_weights))
    with pytest.raises(ValueError, match="freeze_d_blocks"):
        finetune.prepare(gan, freeze_d_blocks=99)
