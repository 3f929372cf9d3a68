"""Trains a GAN: `python -m ganzoo.train --model=dcgan`.

Flags only; all logic is in `ganzoo.train_lib` so tests can call it.

Examples:
    python -m ganzoo.train                                  # DCGAN on embedded digits
    python -m ganzoo.train --model=dcgan --steps=500 --model_dir=runs/try
    python -m ganzoo.train --config=configs/dcgan_digits.yaml --set train.batch_size=128
    python -m ganzoo.train --init_from=dcgan_digits --freeze_d_blocks=1 \
        --learning_rate_scale=0.5 --steps=300 --set data.classes=[0,1,2,3,4]

Exit status: 0 when the run finished; 2 for a bad flag, config or data (nothing
was trained or changed); 3 when training stopped with its run directory intact
(the divergence guard gave up, or the disk filled: the message says how to go
on); 75 (`ganzoo.preemption.EXIT_PREEMPTED`) after SIGTERM or
SIGINT: the run stopped after the current step and saved a checkpoint there, and
the same command resumes it; 143 / 130 when a second signal killed it at once.
"""

import errno
import sys

from absl import app, flags

from ganzoo import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Registered model name (default: dcgan).")
flags.DEFINE_string("dataset", None, "digits (embedded), fashion_mnist or mnist (IDX files), "
                    "grid25 or ring8 (2-D mixtures), folder:PATH, or a prepared TFDS name.")
flags.DEFINE_string("config", None, "YAML config file, or the name of a shipped one "
                    "(e.g. dcgan_fashion_mnist; see ganzoo/configs/).")
flags.DEFINE_multi_string("set", [], "Config override key=value, e.g. train.steps=100.")
flags.DEFINE_integer("steps", None, "Generator updates in the run, in all (a resumed run "
                     "trains up to this step).")
flags.DEFINE_integer("epochs", None, "Passes over the data set (alternative to --steps).")
flags.DEFINE_integer("batch_size", None, "Global batch size.")
flags.DEFINE_string("model_dir", None, "Run directory (default runs/<model>_<dataset>).")
flags.DEFINE_string("data_dir", None, "Folder with the data set's IDX files (fashion_mnist, "
                    "mnist) or prepared TFDS data.")
flags.DEFINE_integer("image_size", None, "Resize images to this square size.")
flags.DEFINE_integer("seed", None, "Random seed.")
flags.DEFINE_string("strategy", None, "default, one_device, mirrored, multi_worker or tpu.")
flags.DEFINE_integer("num_cpu_devices", None, "Logical CPU devices for --strategy=mirrored.")
flags.DEFINE_bool("jit_compile", None,
                  "XLA-compile the train step (default: the measured fast path).")
flags.DEFINE_string("mixed_precision", None,
                    "off, bf16, fp16 (with dynamic loss scaling) or auto (default: the "
                    "measured choice for the model and device, recorded in run.json).")
flags.DEFINE_bool("deterministic", None, "TF op determinism: bit-identical reruns.")
flags.DEFINE_string("init_from", None,
                    "Start a new run from a preset (ganzoo.list_presets()) or run directory: "
                    "its config and G/D weights (fine-tuning).")
flags.DEFINE_integer("freeze_d_blocks", None, "FreezeD: keep the first n D blocks fixed.")
flags.DEFINE_float("learning_rate_scale", None, "Multiply both learning rates (fine-tuning).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]} (flags need --name=value).")
    from ganzoo import guard as guard_lib
    from ganzoo import preemption, train_lib
    from ganzoo.config import ConfigError

    try:
        _check_flags()
        config = train_lib.resolve_config(
            FLAGS.model, FLAGS.config, FLAGS.set, init_from=FLAGS.init_from,
            **{
                "data.name": FLAGS.dataset, "train.steps": FLAGS.steps,
                "train.batch_size": FLAGS.batch_size, "data.data_dir": FLAGS.data_dir,
                "data.image_size": FLAGS.image_size, "train.seed": FLAGS.seed,
                "train.strategy": FLAGS.strategy, "train.num_cpu_devices": FLAGS.num_cpu_devices,
                "train.jit_compile": FLAGS.jit_compile, "train.deterministic": FLAGS.deterministic,
                "train.mixed_precision": FLAGS.mixed_precision,
                "train.freeze_d_blocks": FLAGS.freeze_d_blocks,
                "train.learning_rate_scale": FLAGS.learning_rate_scale,
            },
        )
        if FLAGS.epochs is not None:
            train_lib.set_steps_from_epochs(config, FLAGS.epochs)
        model_dir = FLAGS.model_dir or f"runs/{config.model.name}_{_slug(config.data.name)}"
        if FLAGS.init_from and not FLAGS.model_dir:
            model_dir += "_from_" + _slug(FLAGS.init_from.rstrip("/").rsplit("/", 1)[-1])
        result = train_lib.run(config, model_dir)
    except preemption.Preempted as e:
        print(str(e), file=sys.stderr, flush=True)
        preemption.exit_preempted(teardown=config.train.strategy == "multi_worker")
    except guard_lib.DivergenceError as e:
        cli.fail(e, cli.EXIT_STOPPED)
    except (ConfigError, ValueError, FileNotFoundError, RuntimeError) as e:
        if type(e).__module__.startswith(("tensorflow", "keras")):
            raise
        cli.fail(e)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # Checkpoints are written to a temporary name and renamed, so the last one is whole.
        cli.fail(f"No space left on the device while writing {e.filename or model_dir} "
                 f"({e.strerror}). The run's last checkpoint is intact: free some space and "
                 "rerun the same command to resume from it.", cli.EXIT_STOPPED)
    if not result.get("chief", True):  # a multi-worker run's other workers write nothing
        print(f"Trained {result['steps']} steps in {result['seconds']:.0f}s (not the chief "
              f"worker: the chief writes {model_dir})")
        return
    resumed, steps = result.get("resumed_from", 0), result["steps"]
    if resumed and resumed == steps:
        print(f"Nothing to train: {model_dir} was already at step {resumed} (train.steps); "
              "wrote its model.keras, SavedModel, samples and report again")
    elif resumed:
        done = steps - resumed
        print(f"Trained to step {steps} ({done} step{'s' * (done != 1)}, resumed at step "
              f"{resumed}) in {result['seconds']:.0f}s -> {model_dir}")
    else:
        print(f"Trained {steps} steps in {result['seconds']:.0f}s -> {model_dir}")
    print(f"  samples: {model_dir}/samples.png   model: {model_dir}/model.keras   "
          f"SavedModel: {model_dir}/saved_model/1")


def _check_flags():
    """Flags that contradict each other or are empty, before anything is read."""
    from ganzoo.config import ConfigError

    if FLAGS.steps is not None and FLAGS.epochs is not None:
        raise ConfigError("--steps and --epochs both set the run's length; give one of them.")
    if FLAGS.epochs is not None and FLAGS.epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {FLAGS.epochs}.")
    for name in ("model_dir", "init_from", "config", "data_dir"):
        if FLAGS[name].value is not None and not FLAGS[name].value.strip():
            raise ConfigError(f"--{name} is empty (an unset shell variable?); give a path or "
                              "leave the flag out.")


def _slug(name):
    return name.replace("folder:", "folder_").replace("/", "_").strip("_")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
