"""The rules of an `ExperimentConfig` that its types alone cannot check.

Ranges and keys that depend on each other, checked by `validate` once a config
is resolved (`ganzoo.train_lib.resolve_config`), before any work: each failure
is a `ConfigError` that names the key and the fix. A family's rules that span
sections are its task's `check_config` (`ganzoo.tasks`).
"""

from ganzoo import augment, precision
from ganzoo.config import STRATEGIES, ExperimentConfig
from ganzoo.errors import ConfigError


def validate(config: ExperimentConfig):
    """Checks values that types alone cannot; raises ConfigError naming the key."""
    t = config.train
    positive = {
        "train.steps": t.steps, "train.batch_size": t.batch_size, "train.d_steps": t.d_steps,
        "train.steps_per_epoch": t.steps_per_epoch, "train.sample_every": t.sample_every,
        "train.checkpoint_every": t.checkpoint_every, "train.keep_checkpoints": t.keep_checkpoints,
        "model.latent_dim": config.model.latent_dim, "model.width": config.model.width,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"Config key {key!r} must be positive, got {value}.")
    if t.batch_size * t.d_steps > 2**31 - 1:  # TF shapes are int32 in the pipeline
        raise ConfigError(f"Config key 'train.batch_size' is {t.batch_size}: a step must draw "
                          "fewer than 2**31 examples; batches of 16-256 are usual.")
    if not 0.0 <= t.label_smoothing < 1.0:
        raise ConfigError(
            f"Config key 'train.label_smoothing' must be in [0, 1), got {t.label_smoothing} "
            "(Salimans et al. 2016 use 0.1 to 0.3)."
        )
    for key, opt in (("train.g_optimizer", t.g_optimizer), ("train.d_optimizer", t.d_optimizer)):
        if opt.learning_rate <= 0:
            raise ConfigError(f"Config key '{key}.learning_rate' must be positive.")
    if t.strategy not in STRATEGIES:
        raise ConfigError(
            f"Config key 'train.strategy' is {t.strategy!r}; choose one of {', '.join(STRATEGIES)}."
        )
    if t.num_cpu_devices < 0 or (t.num_cpu_devices and t.strategy != "mirrored"):
        raise ConfigError(
            f"Config key 'train.num_cpu_devices' is {t.num_cpu_devices}: it splits the CPU for "
            f"train.strategy 'mirrored' (here {t.strategy!r}); give a positive count with "
            "--strategy=mirrored, or leave it out.")
    _validate_guard(t)
    try:
        augment.parse_policy(t.diffaugment)
    except ValueError as e:
        raise ConfigError(f"Config key 'train.diffaugment' is {t.diffaugment!r}: {e}") from e
    try:
        augment.check_probability(t.diffaugment_probability)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"Config key 'train.diffaugment_probability': {e} "
                          "(1 applies every policy to every image).") from e
    if t.mixed_precision is False:
        t.mixed_precision = "off"
    precision.check_mode(t.mixed_precision, allow_auto=True)
    if t.freeze_d_blocks < 0:
        raise ConfigError(
            f"Config key 'train.freeze_d_blocks' must be >= 0, got {t.freeze_d_blocks}.")
    if t.freeze_d_blocks and not t.init_from:
        raise ConfigError(
            f"Config key 'train.freeze_d_blocks' is {t.freeze_d_blocks} but train.init_from is "
            "not set: FreezeD keeps D's first blocks at the weights a fine-tuning run starts "
            "from, so it needs --init_from=PRESET_OR_RUN; leave --freeze_d_blocks out to train "
            "from scratch.")
    if t.learning_rate_scale <= 0:
        raise ConfigError("Config key 'train.learning_rate_scale' must be positive, got "
                          f"{t.learning_rate_scale} (e.g. 0.5 halves both learning rates).")
    if not 0 <= t.ema_decay < 1:
        raise ConfigError(f"Config key 'train.ema_decay' must be in [0, 1), got {t.ema_decay} "
                          "(0.999 is usual; 0 turns the moving average off).")
    if t.ema_start < 0:
        raise ConfigError(f"Config key 'train.ema_start' must be >= 0, got {t.ema_start}.")
    classes = config.data.classes
    if classes is not None and (not classes or len(set(classes)) != len(classes)
                                or min(classes) < 0):
        raise ConfigError(f"Config key 'data.classes' must be a non-empty list of distinct "
                          f"labels >= 0 (e.g. [0, 1, 2, 3, 4]), got {classes}.")
    if config.data.max_examples is not None and config.data.max_examples <= 0:
        raise ConfigError("Config key 'data.max_examples' must be positive or null, got "
                          f"{config.data.max_examples}.")
    if config.data.image_size is not None and config.data.image_size <= 0:
        raise ConfigError("Config key 'data.image_size' must be positive or null.")


def _validate_guard(t):
    g = t.guard
    if g.mode is False:  # `mode: off` in YAML, `--set train.guard.mode=off`
        g.mode = "off"
    if g.mode not in ("rollback", "stop", "off"):
        yaml_note = " (YAML reads a bare on/yes/true as True)" if g.mode is True else ""
        raise ConfigError(
            f"Config key 'train.guard.mode' is {g.mode!r}{yaml_note}; choose rollback (reload "
            "the last good checkpoint with lower learning rates), stop, or off."
        )
    if not 0.0 < g.lr_factor < 1.0:
        raise ConfigError(
            f"Config key 'train.guard.lr_factor' must be in (0, 1), got {g.lr_factor} "
            "(it multiplies both learning rates at each rollback; e.g. 0.5)."
        )
    for key, value in (("collapse_steps", g.collapse_steps), ("max_rollbacks", g.max_rollbacks)):
        if value < 0:
            raise ConfigError(f"Config key 'train.guard.{key}' must be >= 0, got {value}.")
    if not 0.0 <= g.fake_below < g.real_above <= 1.0:
        raise ConfigError(
            f"Config keys 'train.guard.fake_below' ({g.fake_below}) and 'train.guard.real_above' "
            f"({g.real_above}) must satisfy 0 <= fake_below < real_above <= 1 (e.g. 0.01, 0.99)."
        )
    if t.best_mode not in ("min", "max"):
        raise ConfigError(f"Config key 'train.best_mode' is {t.best_mode!r}; choose min or max.")
