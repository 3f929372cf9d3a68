"""What a training run needs from a model family, apart from the model itself.

A `keras.Model` (`ganzoo.models.base.GAN`) knows its networks, losses,
`train_step` and sampling. A `Task` knows the run around it: the input
pipeline, the family's callbacks (visuals, control metrics), its end-of-run
report and what the data must offer for both (TF Model Garden's `Task` vs
`Model`, official/core/base_task.py). `train_lib`, `validation` and `presets`
use the task; `ganzoo.models.base` imports neither this module nor
`ganzoo.data`, `metrics` or `callbacks`.

A family that needs more subclasses `Task` in its own file, next to its model
class, and names it there with the class attribute `task = XTask` (inherited,
so cgan and acgan share theirs); a family that names none gets `Task`.
"""

from ganzoo import data, validation
from ganzoo.registry import get_model


class Task:
    """The run-level hooks of a model family, with the defaults of a plain GAN.

    One instance serves one run: `callbacks` may keep the callbacks it makes on
    the task, and `report` reads their history at the end.

    Example:

    >>> task = ganzoo.tasks.get_task("vanilla")
    >>> pipeline = task.make_pipeline(dataset, spec, config)
    >>> gan.fit(pipeline, callbacks=task.callbacks(gan, config, spec, model_dir, writer))
    >>> report = task.report(gan, config, spec)
    """

    def make_pipeline(self, dataset, spec, config, skip_batches=0):
        """The training `tf.data` pipeline; each element feeds one `train_step`.

        The default draws `batch_size * d_steps` shuffled examples per step.

        Args:
            dataset: the unbatched training `tf.data.Dataset`.
            spec: `ganzoo.data.DataSpec` of that data.
            config: `ExperimentConfig`.
            skip_batches: int. Batches already trained on (a resumed run). Defaults to 0.

        Returns:
            A batched, repeating `tf.data.Dataset`.
        """
        t = config.train
        return data.train_pipeline(
            dataset, t.batch_size * t.d_steps, seed=t.seed,
            shuffle_buffer=config.data.shuffle_buffer, skip_batches=skip_batches,
        )

    def callbacks(self, gan, config, spec, model_dir, writer):
        """Family-specific Keras callbacks (visuals, control metrics) for a run.

        Args:
            gan: the model being trained.
            config: `ExperimentConfig`.
            spec: `DataSpec` of the training data.
            model_dir: str. The run directory (this worker's).
            writer: `tf.summary` writer of the run's `logs/`.

        Returns:
            A list of `keras.callbacks.Callback`, after the run's own ones.
        """
        return []

    def check_config(self, config):
        """Refuses an `ExperimentConfig` this family cannot run (`ConfigError` naming the key).

        For rules that span sections (the model's own rules are
        `GAN.check_config`); `train_lib.resolve_config` calls it before any
        run directory is written. The default accepts any.
        """

    def xla_on_avx2_cpu(self, config):
        """Whether XLA is this family's default step on a CPU without AVX-512.

        `hardware.fast_path` picks XLA on such CPUs because it ran most
        families' steps 1.24-1.94x faster than graph mode there
        (tools/results/step_rate.md); a family whose step was not faster under
        XLA returns False and keeps graph mode. Defaults to True.
        """
        return True

    def bf16_on_cpu(self, config):
        """Whether bf16 is this family's default (`train.mixed_precision: auto`) on a
        CPU with bf16 instructions.

        `hardware.default_precision` asks it. Return True only for a family
        whose Fashion-MNIST config was measured both faster in bf16 and as good
        (fmnist-FID over 3 seeds at the config's full steps,
        tools/results/precision.md). Defaults to False (float32).
        """
        return False

    def data_requirements(self, config):
        """What a run of this family needs from its data (`validation.Requirements`).

        `train_lib.run` checks it before touching the run directory and refuses
        the run, naming the need, when the data cannot meet it.
        """
        return validation.Requirements()

    def report_requirements(self, config):
        """Optional end-of-run measurements: name -> `validation.Requirements`.

        One the data cannot meet is announced when the run starts and skipped
        by `report` (listed under `skipped` in `report.json`); never an error.
        """
        return {}

    def report(self, gan, config, spec):
        """Metrics measured at the end of a run, written to `report.json`.

        A measurement that cannot be made goes under `"skipped"`: name -> reason.

        Returns:
            dict, empty when the family measures nothing.
        """
        return {}


def get_task(name: str) -> Task:
    """A new task for one run of the model registered as `name`.

    Returns:
        An instance of the model class's `task` (`Task` when it names none).

    Raises:
        ValueError: for an unknown model name (lists every known name).
    """
    return (get_model(name).task or Task)()
