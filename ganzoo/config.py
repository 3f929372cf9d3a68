"""Typed experiment configs: dataclass defaults < model defaults < YAML < --set.

The resolved config is written into every run directory (`config.yaml`) so a
run can be repeated exactly with `--config RUN/config.yaml`. Rules that types
alone cannot check (ranges, keys that depend on each other) are in
`ganzoo.config_checks`.
"""

import dataclasses
import difflib
import importlib.resources
import typing

import yaml

from ganzoo import files, precision
from ganzoo.errors import ConfigError  # a leaf, so precision/data need not import config

# `train.strategy` values (`ganzoo.distribute.get_strategy` builds them).
STRATEGIES = ("default", "one_device", "mirrored", "multi_worker", "parameter_server", "tpu")


@dataclasses.dataclass
class OptimizerConfig:
    """An optimizer. `name` is a Keras optimizer name (`adam`, `rmsprop`, `sgd`).

    Args:
        name: str. Keras optimizer name. Defaults to "adam".
        learning_rate: float. Defaults to 2e-4 (DCGAN, Radford et al. 2015).
        beta_1: float. Adam's first-moment decay. Defaults to 0.5 (DCGAN).
        beta_2: float. Adam's second-moment decay. Defaults to 0.999.
        options: dict. Any other keyword argument of the Keras optimizer.
    """

    name: str = "adam"
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    options: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ModelConfig:
    """Which GAN and networks to build.

    Args:
        name: str. A registered model name (`ganzoo.list_models()`).
        architecture: str. Network builder family (`ganzoo.models.networks`).
        latent_dim: int. Dimension of the noise vector z.
        width: int. Base number of filters (conv) or units (MLP) in G and D.
        generator: dict. Extra keyword arguments for the generator builder.
        discriminator: dict. Extra keyword arguments for the discriminator builder.
        options: dict. Extra keyword arguments for the model class (e.g. WGAN's
            `clip_value`); unknown keys are rejected with the list of valid ones.
    """

    name: str = "dcgan"
    architecture: str = "dcgan"
    latent_dim: int = 100
    width: int = 64
    generator: dict = dataclasses.field(default_factory=dict)
    discriminator: dict = dataclasses.field(default_factory=dict)
    options: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class DataConfig:
    """Where training images come from.

    Args:
        name: str. `digits` (embedded, offline), a TFDS name, or `folder:PATH`.
        image_size: int or None. Square size to resize to; None keeps the data's own.
        data_dir: str or None. Prepared TFDS data directory.
        shuffle_buffer: int. Shuffle buffer size.
        classes: list of int or None. Train on these labels only (e.g. `[0, 1, 2,
            3, 4]` to fine-tune on half the digits); None keeps every example.
            The label space is unchanged, so a conditional model keeps its size.
        max_examples: int or None. Train on a fixed random subset of this many
            training examples (`ganzoo.data.select_examples`: the same subset for
            every `train.seed`; after `classes`), e.g. 6000 for 10% of
            Fashion-MNIST in a data-efficiency study; None keeps every example.
    """

    name: str = "digits"
    image_size: int | None = None
    data_dir: str | None = None
    shuffle_buffer: int = 10_000
    classes: list[int] | None = None
    max_examples: int | None = None


@dataclasses.dataclass
class GuardConfig:
    """The divergence guard (`ganzoo.guard.DivergenceGuard`).

    It watches every step's losses and, optionally, a discriminator that has won
    outright (D(x) ~ 1 and D(G(z)) ~ 0 for `collapse_steps` steps in a row).

    Args:
        mode: str. `rollback` reloads the last good checkpoint, scales both
            learning rates by `lr_factor` and continues; `stop` ends the run
            with an error naming the step; `off` disables the guard.
            Defaults to "rollback".
        collapse_steps: int. Consecutive steps of a collapsed discriminator that
            trip the guard; 0 (the default) checks only for non-finite losses.
            Only applies to losses whose D output is a probability
            (`non_saturating`, `minimax`, `maximum_likelihood`).
        real_above: float. D(x) above this counts as collapsed. Defaults to 0.99.
        fake_below: float. D(G(z)) below this counts as collapsed. Defaults to 0.01.
        lr_factor: float. Learning-rate multiplier per rollback, in (0, 1).
            Defaults to 0.5.
        max_rollbacks: int. Rollbacks allowed in one run before it stops with
            an error. Defaults to 3.
    """

    # bool too: YAML 1.1 reads a bare `off` as false.
    mode: str | bool = "rollback"
    collapse_steps: int = 0
    real_above: float = 0.99
    fake_below: float = 0.01
    lr_factor: float = 0.5
    max_rollbacks: int = 3


@dataclasses.dataclass
class TrainConfig:
    """How to train.

    Args:
        steps: int. Generator updates in the whole run.
        batch_size: int. Global batch size of each discriminator/generator update.
        d_steps: int. Discriminator updates per generator update (k in
            Goodfellow et al. 2014, n_critic in WGAN).
        loss: str. Adversarial loss name (`ganzoo.losses.list_losses()`).
        label_smoothing: float. One-sided label smoothing of real targets
            (Salimans et al. 2016); 0 disables it.
        diffaugment: str or None. DiffAugment (Zhao et al. 2020,
            https://arxiv.org/abs/2006.10738, `ganzoo.augment`): comma-separated
            policies among `color`, `translation`, `cutout` (e.g.
            `translation,cutout`), applied to every real and generated image the
            discriminator sees in training, never at inference. For small data
            sets. None or "" (the default) is off.
        diffaugment_probability: float in (0, 1]. Each DiffAugment policy is
            applied to each image with this probability (ADA's p, Karras et al.
            2020, https://arxiv.org/abs/2006.06676), so D still sees some clean
            images; 1 (the default) always applies it, as Zhao et al. do.
        g_optimizer: OptimizerConfig. The generator's optimizer.
        d_optimizer: OptimizerConfig. The discriminator's optimizer.
        seed: int. Seed for weights, noise and data order.
        jit_compile: bool or None. XLA-compile the train step; None picks the
            measured fast path (`hardware.fast_path`): on for GPUs and for
            CPUs without AVX-512, off on AVX-512 CPUs with oneDNN, which is
            faster than XLA there.
        mixed_precision: str. `off` (float32), `bf16` or `fp16`: layers compute in
            16 bits, weights stay float32, fp16 with dynamic loss scaling
            (`ganzoo.precision`). Defaults to "auto": the measured choice for
            the family on this device (`hardware.default_precision`: bf16 where
            the CPU has bf16 instructions and the family's Fashion-MNIST config
            was measured as fast and as good in bf16, float32 elsewhere).
        strategy: str. `default`, `one_device`, `mirrored`, `multi_worker`, `tpu`.
        num_cpu_devices: int. With `mirrored` on a machine without GPUs, split
            the CPU into this many logical devices (for testing distribution).
        steps_per_epoch: int. Steps between progress-bar lines, TensorBoard
            scalars and callbacks.
        sample_every: int. Steps between sample grids.
        checkpoint_every: int. Steps between checkpoints.
        keep_checkpoints: int. Checkpoints kept on disk.
        deterministic: bool. Enable TF op determinism (bit-identical reruns).
        best_metric: str or None. A logged metric (e.g. `g_loss`) whose best
            value's checkpoint is kept as `checkpoints/best.keras`; None keeps
            no best checkpoint.
        best_mode: str. `min` or `max`: which value of `best_metric` is best.
        guard: GuardConfig. Divergence guard (non-finite losses, collapsed D).
        init_from: str or None. Start a new run from the G and D weights of a
            preset name, a run directory or a `.keras` file (`--init_from`);
            the model family and every weight shape must match.
        freeze_d_blocks: int. Keep the first n discriminator blocks fixed
            (FreezeD, Mo et al. 2020; `ganzoo.finetune`). Defaults to 0.
        learning_rate_scale: float. Multiplies both learning rates (fine-tuning
            usually wants a lower one). Defaults to 1.
        ema_decay: float. Samples, evaluation and export use an exponential
            moving average of G's weights with this decay per step (`GAN`'s
            `ema_decay`); 0 keeps none. Defaults to 0.
        ema_start: int. Generator steps before the average starts (a copy of G
            until then). Defaults to 0.
    """

    steps: int = 3000
    batch_size: int = 64
    d_steps: int = 1
    loss: str = "non_saturating"
    label_smoothing: float = 0.0
    diffaugment: str | None = None
    diffaugment_probability: float = 1.0
    g_optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    d_optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    seed: int = 0
    jit_compile: bool | None = None
    # bool too: YAML 1.1 reads a bare `off` as false.
    mixed_precision: str | bool = precision.AUTO
    strategy: str = "default"
    num_cpu_devices: int = 0
    steps_per_epoch: int = 100
    sample_every: int = 500
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    deterministic: bool = False
    best_metric: str | None = None
    best_mode: str = "min"
    guard: GuardConfig = dataclasses.field(default_factory=GuardConfig)
    init_from: str | None = None
    freeze_d_blocks: int = 0
    learning_rate_scale: float = 1.0
    ema_decay: float = 0.0
    ema_start: int = 0


@dataclasses.dataclass
class ExperimentConfig:
    """A whole run: model, data and training."""

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def from_dict(values: dict, base: ExperimentConfig | None = None) -> ExperimentConfig:
    """Applies a nested dict of overrides to `base` (a fresh default if None).

    Raises:
        ConfigError: naming the dotted key, for an unknown key or a wrong type.
    """
    config = base if base is not None else ExperimentConfig()
    for key, value in flatten(values).items():
        set_value(config, key, value)
    return config


def set_value(config, dotted_key: str, value):
    """Sets `config.<dotted_key>` with type checking; `dotted_key` like `train.steps`."""
    parts = dotted_key.split(".")
    target = config
    for i, part in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(target)}
        if part not in fields:
            prefix = ".".join(parts[:i])
            valid = ", ".join(f"{prefix + '.' if prefix else ''}{name}" for name in fields)
            close = difflib.get_close_matches(part, list(fields), n=1, cutoff=0.75)
            maybe = (f" Did you mean {'.'.join([*parts[:i], close[0]])!r}?" if close else "")
            raise ConfigError(f"Unknown config key {dotted_key!r}.{maybe} Valid keys here: "
                              f"{valid}.")
        field = fields[part]
        hint = typing.get_type_hints(type(target))[part]
        if dataclasses.is_dataclass(hint):
            if i == len(parts) - 1:
                if not isinstance(value, dict):
                    raise ConfigError(f"Config key {dotted_key!r} needs a mapping, got {value!r}.")
                for k, v in flatten(value).items():
                    set_value(getattr(target, part), k, v)
                return
            target = getattr(target, part)
            continue
        if hint is dict or typing.get_origin(hint) is dict:
            if i == len(parts) - 1:
                if not isinstance(value, dict):
                    raise ConfigError(f"Config key {dotted_key!r} needs a mapping, got {value!r}.")
                getattr(target, part).update(value)
            else:
                # Free-form dicts (builder/model kwargs) accept any sub-key.
                getattr(target, part)[".".join(parts[i + 1:])] = value
            return
        setattr(target, field.name, _coerce(dotted_key, value, hint))
        return


def _coerce(key, value, hint):
    allowed = typing.get_args(hint) or (hint,)
    if value is None:
        if type(None) in allowed:
            return None
        raise ConfigError(f"Config key {key!r} cannot be null.")
    for t in allowed:
        if t is type(None):
            continue
        if t is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            continue
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if t is str and isinstance(value, str):
            return value
        if typing.get_origin(t) is list and isinstance(value, (list, tuple)):
            (item,) = typing.get_args(t) or (object,)
            if all(isinstance(v, item) and not isinstance(v, bool) for v in value):
                return list(value)
    names = " or ".join(getattr(t, "__name__", str(t)) for t in allowed)
    raise ConfigError(
        f"Config key {key!r} must be {names}, got {value!r} ({type(value).__name__})."
    )


def flatten(values, prefix=""):
    """`{"train": {"steps": 1}}` -> `{"train.steps": 1}`; free-form sections
    (`generator`, `discriminator`, `options`) stay whole values."""
    out = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and not _is_free_form(dotted):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _is_free_form(dotted):
    return dotted.split(".")[-1] in ("generator", "discriminator", "options")


def parse_override(text: str):
    """Parses one `--set key=value`; the value is read as YAML (`1e-4`, `true`, `[1, 2]`)."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got {text!r} (e.g. --set train.steps=100).")
    key, raw = text.split("=", 1)
    value = yaml.safe_load(raw) if raw.strip() else None
    if isinstance(value, str) and _looks_numeric(value):
        value = float(value)  # YAML 1.1 reads "1e-4" as a string.
    return key.strip(), value


def _looks_numeric(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


_CONFIGS = importlib.resources.files("ganzoo").joinpath("configs")


def list_configs() -> list:
    """Names of the configs inside the package (`ganzoo/configs/<name>.yaml`, sorted).

    A repository checkout also sees them as `configs/`; an installed wheel has only these.
    """
    return sorted(p.name[:-5] for p in _CONFIGS.iterdir() if p.name.endswith(".yaml"))


def config_file(name_or_path: str) -> str:
    """`name_or_path` itself if it is a file, else the shipped config of that name.

    `--config=dcgan_fashion_mnist` (or `dcgan_fashion_mnist.yaml`) finds the packaged
    file from any working directory; a path that exists always wins.

    Raises:
        ConfigError: neither a file nor a shipped config; the message lists the names.
    """
    if files.isfile(name_or_path):
        return name_or_path
    name = name_or_path[:-5] if name_or_path.endswith(".yaml") else name_or_path
    shipped = list_configs()
    if name in shipped:
        return str(_CONFIGS.joinpath(f"{name}.yaml"))
    stem = name.replace("\\", "/").rsplit("/", 1)[-1]
    if stem in shipped:  # e.g. configs/<name>.yaml outside a repository checkout
        raise ConfigError(f"Config file {name_or_path!r} does not exist; the shipped config "
                          f"of that name is --config={stem}.")
    raise ConfigError(
        f"Config file {name_or_path!r} does not exist, and no shipped config has that name. "
        f"Pass a YAML file, or one of: {', '.join(shipped)}.")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key twice in one mapping (PyYAML keeps the last
    silently, so a second `model:` block would drop the first)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice in one mapping (the later one "
                    "would silently replace the earlier); merge them", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str) -> dict:
    """Reads a YAML config file (any TensorFlow file system) or a shipped config by
    name (`config_file`) into a dict, with a clear error if it is missing or bad
    (a key given twice in one mapping included)."""
    path = config_file(path)
    try:
        # A SafeLoader subclass: as safe as yaml.safe_load.
        values = yaml.load(files.read_text(path), Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"Config file {path!r} is not valid YAML: {e}") from e
    if not isinstance(values, dict):
        raise ConfigError(f"Config file {path!r} must hold a mapping at the top level.")
    return values


def to_yaml(config: ExperimentConfig) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
