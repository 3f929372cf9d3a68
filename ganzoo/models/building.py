"""From a `ModelConfig` to a family's networks and constructor options.

`GAN.from_data_spec` builds G and D with the architecture's builders
(`ganzoo.models.networks`), for the family's input width and heads, packed
shape (`ganzoo.models.packing`) and wrapping; every `model.generator.*`,
`model.discriminator.*` and `model.options.*` key is checked against what the
builders and the family's constructors take, so a misspelt key fails naming the
valid ones.
"""

import inspect

from ganzoo.config import ConfigError
from ganzoo.models import networks, packing

# Builder arguments that ganzoo passes itself (not config keys).
_BUILDER_ARGS = {"shape", "input_dim", "width", "heads", "name"}


def build_networks(cls, spec, config):
    """G and D of family `cls` for data `spec`, built as `config` says.

    Args:
        cls: the `GAN` subclass (its `discriminator_heads`,
            `generator_input_dim`, `wrap_networks` and `supports_packing`).
        spec: `ganzoo.data.DataSpec`.
        config: `ganzoo.config.ModelConfig`.

    Returns:
        `(generator, discriminator)`, wrapped by the family.
    """
    arch = networks.get_architecture(config.architecture)
    packs = int(config.options.get("packing", 1))
    heads = cls.discriminator_heads(config, spec)
    packing.check_supported(cls, packs, heads)
    for section, builder in (("generator", arch.generator),
                             ("discriminator", arch.discriminator)):
        check_builder_keys(builder, getattr(config, section), section, config.architecture)
    generator = arch.generator(
        spec.shape, cls.generator_input_dim(config, spec), width=config.width,
        **config.generator,
    )
    discriminator = arch.discriminator(
        packing.packed_shape(spec.shape, packs), width=config.width, heads=heads,
        **config.discriminator,
    )
    return cls.wrap_networks(generator, discriminator, config, spec)


def check_options(cls, options, spec, root):
    """Refuses constructor options `cls` does not take, or that do not fit the data.

    Args:
        cls: the `GAN` subclass.
        options: dict. `model.options` and the training config's arguments.
        spec: `ganzoo.data.DataSpec`.
        root: the `GAN` base class (see `constructor_args`).

    Raises:
        ConfigError: naming the unknown keys and the valid ones.
    """
    valid = set(constructor_args(cls, root))
    unknown = set(options) - valid
    if unknown:
        raise ConfigError(
            f"Unknown model.options key(s) {sorted(unknown)} for {cls.__name__}; "
            f"valid: {sorted(valid - {'generator', 'discriminator', 'latent_dim', 'seed'})}."
        )
    if options.get("diffaugment") and not spec.is_image:
        raise ConfigError(f"train.diffaugment augments images; data set {spec.name!r} "
                          f"holds vectors of shape {spec.shape}. Set it to ''.")


def check_builder_keys(builder, keys, section, architecture):
    """Refuses `model.<section>.*` keys that the architecture's builder does not take."""
    params = inspect.signature(builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # forwards its keywords; the builder it calls checks them
    valid = set(params) - _BUILDER_ARGS
    unknown = set(keys) - valid
    if unknown:
        raise ConfigError(
            f"Unknown model.{section} key(s) {sorted(unknown)} for architecture "
            f"{architecture!r}; valid: {sorted(valid)}.")


def constructor_args(cls, root):
    """Constructor argument names of `cls` and of every class it extends up to `root`.

    Families repeat only the base arguments they change and forward the rest
    through `**kwargs`, so the base class's options (e.g. `unrolled_steps`) are
    valid config keys and saved by `get_config` for every family.
    """
    names = {}
    for klass in reversed(cls.__mro__):
        if isinstance(klass, type) and issubclass(klass, root) and "__init__" in vars(klass):
            for name in inspect.signature(klass.__init__).parameters:
                if name not in ("self", "kwargs", "args"):
                    names[name] = None
    return list(names)
