"""What a run is configured with: `resolve_config`'s layers and checks.

defaults < the family's paper defaults (`default_overrides`) < a YAML file (or
the source run's config.yaml for `--init_from`) < `--set` < flags, then every
check that needs no data: `config_checks.validate`, loss and optimizer names,
the family's model options and its own rules (`check_config`), and its task's
rules across sections. `ganzoo.train_lib` re-exports both functions.
"""

import keras

from ganzoo import config as config_lib
from ganzoo import config_checks, data, finetune, losses, tasks
from ganzoo.models import building
from ganzoo.registry import get_model, list_models


def resolve_config(model=None, config_file=None, overrides=(), init_from=None, **flags):
    """Builds the config: defaults < model's paper defaults < YAML < --set < flags.

    Args:
        model: str or None. Registered model name; None takes the YAML's, else dcgan.
        config_file: str or None. A YAML file, or a shipped config's name (`dcgan_digits`).
        overrides: iterable of `key=value` strings (`--set`).
        init_from: str or None. A preset or run directory to start from
            (`train.init_from`); without `model` and `config_file` its own
            config.yaml is the YAML layer, so the networks match.
        **flags: dotted keys set last, e.g. `{"train.steps": 100}`; None values are skipped.

    Returns:
        A validated `ExperimentConfig`.
    """
    file_values = config_lib.load_yaml(config_file) if config_file else {}
    if init_from:
        source = finetune.source_config(init_from)
        if not (model or config_file) and source:
            file_values = source
            # A fresh run: the source's fine-tuning settings do not carry over, nor
            # op determinism (process-wide and slower; --deterministic turns it on).
            file_values.get("train", {}).update(init_from=None, freeze_d_blocks=0,
                                                learning_rate_scale=1.0, deterministic=False)
            file_values.get("data", {}).pop("classes", None)
        flags = {**flags, "train.init_from": init_from}
    file_model = (file_values.get("model") or {}).get("name")
    if model and file_model and model != file_model and not init_from:
        raise config_lib.ConfigError(
            f"--model={model}, but the config file {config_file} is for {file_model} (its "
            f"model.name); drop --model to train {file_model}, or give a {model} config.")
    name = model or file_model or "dcgan"
    if name not in list_models() and name in config_lib.list_configs():
        raise config_lib.ConfigError(
            f"Unknown model {name!r}: that is a shipped config's name; use --config={name}. "
            f"Known models: {', '.join(list_models())}.")
    cls = get_model(name)
    config = config_lib.ExperimentConfig()
    config.model.name = name
    for key, value in cls.default_overrides.items():
        config_lib.set_value(config, key, value)
    config_lib.from_dict(file_values, config)
    config.model.name = name
    for text in overrides:
        config_lib.set_value(config, *config_lib.parse_override(text))
    for key, value in flags.items():
        if value is not None:
            config_lib.set_value(config, key, value)
    config_checks.validate(config)
    _check_names(config.train)
    building.check_option_types(cls, config.model.options)
    cls.check_config(config.model)  # the family's own rules (wgan_gp: no batch-norm critic)
    tasks.get_task(name).check_config(config)  # rules across sections (ssgan: even batch)
    return config


def _check_names(t):
    """Refuses an unknown loss or optimizer name, naming the key and the choices
    (before a resumed run's config is compared, so a typo is not called a change)."""
    try:
        losses.get_loss(t.loss)
    except ValueError as e:  # names the loss and the known ones
        raise config_lib.ConfigError(f"Config key 'train.loss': {e}") from None
    known = {name.lower(): name for name in dir(keras.optimizers)
             if isinstance(getattr(keras.optimizers, name), type)
             and issubclass(getattr(keras.optimizers, name), keras.optimizers.Optimizer)
             and name not in ("Optimizer", "LossScaleOptimizer", "MultiOptimizer")}
    for key, opt in (("train.g_optimizer", t.g_optimizer), ("train.d_optimizer", t.d_optimizer)):
        # A registered custom optimizer ("package>Name") is left to Keras.
        if ">" not in opt.name and opt.name.lower() not in known:
            raise config_lib.ConfigError(
                f"Config key '{key}.name' is {opt.name!r}; choose one of "
                f"{', '.join(sorted(known))} (any case).")


def set_steps_from_epochs(config, epochs):
    """Sets `train.steps` to cover `epochs` passes over the training split."""
    dataset, spec = data.load(config.data.name, "train", config.data.image_size,
                              config.data.data_dir)
    dataset, spec = data.select_classes(dataset, spec, config.data.classes)
    _, spec = data.select_examples(dataset, spec, config.data.max_examples)
    if not spec.num_examples:
        raise config_lib.ConfigError(
            f"--epochs needs the data set size, unknown for {config.data.name!r}; use --steps."
        )
    per_step = config.train.batch_size * max(1, int(config.train.d_steps))
    config.train.steps = max(1, epochs * spec.num_examples // per_step)
