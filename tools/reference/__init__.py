"""PyTorch twins of ganzoo's DCGAN, WGAN and WGAN-GP, for side-by-side tables.

The twin of a run is built from the run's own resolved ganzoo config, so the
networks (`dcgan` and `resnet` architectures, any size ganzoo builds: 16, 28,
32, 64 px), initialisers, optimizers, loss, batch, `d_steps` and seeds are
the ones ganzoo uses. `check_parity.py` builds both and checks them layer by
layer (parameter shapes), output by output (Keras weights copied in) and
update by update (one full train step from the same weights, data and noise).

PyTorch is an optional extra, never a ganzoo dependency:
`pip install -e .[reference]`. Nothing under `ganzoo/` or `tests/` imports it.

API (import from a script in `tools/`: `from reference import train, Twin`):

    train(images, config, steps=None, batch_size=None, seed=None, threads=None,
          channels_last=False, log_every=0) -> TrainResult
        images: float32 numpy [N, H, W, C] in [-1, 1] (what ganzoo.data yields,
            stacked); config: an ExperimentConfig, its to_dict(), or a model name
            ("dcgan", "wgan_gp", "wgan"; resolved by ganzoo.train_lib.resolve_config).
            steps/batch_size/seed override train.steps/batch_size/seed.
            threads: torch.set_num_threads (pass TF's, e.g. 2, for a fair table).
        TrainResult fields: twin, steps, seconds (training loop wall time),
            images_per_second (real examples consumed: steps * batch * d_steps /
            seconds), metrics (mean losses); .generator (torch G);
            .generate(n, seed) -> float32 numpy [n, H, W, C] in [-1, 1].

    Twin(config_dict, shape, channels_last=False)
        .train_step(real_nchw) -> dict of loss tensors; .generate(n, seed).

Threads on a shared machine: PyTorch's CPU wheels run intra-op work on GNU
OpenMP, whose threads spin-wait at barriers. On an idle machine that is the
fast choice; when other jobs keep the cores busy it collapses (28 px DCGAN
step, 2 cores, 1-min load ~7: 21 img/s at 2 threads, 94 img/s at 2 threads
with `OMP_WAIT_POLICY=PASSIVE`, 136 img/s at 1 thread). Time side-by-side
tables on a quiet machine, or say which setting was used.

Example:

>>> from ganzoo import data, train_lib
>>> config = train_lib.resolve_config("dcgan", **{"train.batch_size": 64})
>>> ds, spec = data.load("fashion_mnist", "train")
>>> x = np.stack([im for im, _ in ds.as_numpy_iterator()])
>>> result = train(x, config, steps=2000, seed=0, threads=2)
>>> result.images_per_second, result.seconds
>>> samples = result.generate(10_000, seed=0)   # score with ganzoo's evaluation
"""

from .networks import build_networks, weight_layers
from .twin import TrainResult, Twin, train

__all__ = ["TrainResult", "Twin", "build_networks", "train", "weight_layers"]
