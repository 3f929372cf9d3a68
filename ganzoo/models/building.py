"""From a `ModelConfig` to a family's networks and constructor options.

`GAN.from_data_spec` builds G and D with the architecture's builders
(`ganzoo.models.networks`), for the family's input width and heads, packed
shape (`ganzoo.models.packing`) and wrapping; every `model.generator.*`,
`model.discriminator.*` and `model.options.*` key is checked against what the
builders and the family's constructors take, so a misspelt key fails naming the
valid ones, and every value against the type its default or annotation declares
(mappings passed on to a layer, `networks.NESTED_ARGUMENTS`, sub-key by sub-key).
"""

import inspect
from collections.abc import Mapping

from ganzoo.config import ConfigError
from ganzoo.models import networks, packing

# Builder arguments that ganzoo passes itself (not config keys).
_BUILDER_ARGS = {"shape", "input_dim", "width", "heads", "name"}
# Value types a config key can declare through its default or annotation; others are not checked.
_CHECKED_TYPES = (bool, int, float, str)
_TYPE_NAMES = {bool: "a boolean (true or false)", int: "an integer", float: "a number",
               str: "a string"}


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
    # Before any option is read (`packing` below, the family's hooks); `from_data_spec`
    # checks again with the training config's arguments.
    check_options(cls, config.options, spec, root=_root(cls))
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
        ConfigError: naming the unknown keys and the valid ones, or a value of
            another type than the option's default or annotation declares.
    """
    valid = set(constructor_args(cls, root))
    unknown = set(options) - valid
    if unknown:
        raise ConfigError(
            f"Unknown model.options key(s) {sorted(unknown)} for {cls.__name__}; "
            f"valid: {sorted(valid - {'generator', 'discriminator', 'latent_dim', 'seed'})}."
        )
    check_option_types(cls, options, root)
    if options.get("diffaugment") and not spec.is_image:
        raise ConfigError(f"train.diffaugment augments images; data set {spec.name!r} "
                          f"holds vectors of shape {spec.shape}. Set it to ''.")


def check_option_types(cls, options, root=None):
    """Refuses `model.options` values of another type than the constructors declare.

    The type half of `check_options`, which needs no data: `train_lib.resolve_config`
    calls it, so a family's task reading an option (`int(...)`) sees a checked value.
    """
    declared = constructor_types(cls, root or _root(cls))
    for name, value in options.items():
        if name in declared:
            check_type(f"model.options.{name}", value, *declared[name])


def check_builder_keys(builder, keys, section, architecture):
    """Refuses `model.<section>.*` keys that the architecture's builder does not take,
    and mappings for a layer (`networks.NESTED_ARGUMENTS`) that the layer would refuse."""
    params = inspect.signature(builder).parameters
    # A builder that forwards its keywords leaves their names to the builder it calls.
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        valid = set(params) - _BUILDER_ARGS
        unknown = set(keys) - valid
        if unknown:
            raise ConfigError(
                f"Unknown model.{section} key(s) {sorted(unknown)} for architecture "
                f"{architecture!r}; valid: {sorted(valid)}.")
    for name, value in keys.items():
        if name in networks.NESTED_ARGUMENTS:
            check_nested(f"model.{section}.{name}", value, *networks.NESTED_ARGUMENTS[name])


def check_nested(key, value, target, example):
    """Refuses a config mapping of `target`'s arguments that `target` could not take.

    Args:
        key: str. The dotted config key, for the message.
        value: the mapping; None, false or `{}` leaves the feature off.
        target: the callable the mapping is passed to (a layer class).
        example: dict. A valid mapping; its values give the types of `target`'s
            required arguments, and its positive integers must stay positive.

    Raises:
        ConfigError: naming `key`, what is wrong and `example`.
    """
    if value is None or value is False or (isinstance(value, Mapping) and not value):
        return
    params = {name: p for name, p in inspect.signature(target).parameters.items()
              if name not in ("self", "name") and p.kind not in (
                  inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)}
    required = [name for name, p in params.items() if p.default is inspect.Parameter.empty]
    shown = _flow(example)
    if not isinstance(value, Mapping):
        raise ConfigError(f"Config key {key!r} takes a mapping of {target.__name__} arguments, "
                          f"e.g. {shown}, or null to leave it off; got {value!r}.")
    unknown = sorted(set(value) - set(params))
    if unknown:
        raise ConfigError(f"Config key {key!r} has unknown sub-key(s) {unknown}; "
                          f"{target.__name__} takes {sorted(params)}, e.g. {shown}.")
    if any(name not in value for name in required):
        raise ConfigError(f"Config key {key!r} needs {' and '.join(required)}, e.g. {shown}.")
    for name, sub in value.items():
        declared = (type(example[name]),) if name in example else _declared(params[name])
        if declared:
            check_type(f"{key}.{name}", sub, *declared, example=shown)
        if (isinstance(example.get(name), int) and not isinstance(example[name], bool)
                and example[name] > 0 and sub < 1):
            raise ConfigError(f"Config key '{key}.{name}' must be at least 1, got {sub}; "
                              f"e.g. {shown}.")


def check_type(key, value, expected, default=None, example=None):
    """Refuses `value` for `key` unless it is of type `expected` (int counts as float).

    A bool must be a real boolean (YAML true/false): the string "false" is truthy
    in Python and would turn the option on. An integer accepts a whole float
    (`1e3`, which `--set` reads as a float).
    """
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        ok = ((isinstance(value, int) or (isinstance(value, float) and value.is_integer()))
              and not isinstance(value, bool))
    elif expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, expected)
    if not ok:
        hint = f"e.g. {example}" if example else f"the default is {_yaml(default)}"
        raise ConfigError(f"Config key {key!r} must be {_TYPE_NAMES[expected]}, got {value!r} "
                          f"({type(value).__name__}); {hint}.")


def constructor_types(cls, root):
    """Declared type and default of each constructor argument of `cls` (see `constructor_args`).

    Returns:
        dict. Name -> `(type, default)` for arguments whose annotation or non-None
        default is a bool, int, float or str; the most derived class's declaration wins.
    """
    types = {}
    for klass in reversed(cls.__mro__):
        if isinstance(klass, type) and issubclass(klass, root) and "__init__" in vars(klass):
            for name, param in inspect.signature(klass.__init__).parameters.items():
                declared = _declared(param)
                if declared:
                    types[name] = declared
                else:
                    types.pop(name, None)
    return types


def _declared(param):
    """`(type, default)` that `param` declares, or () if none that config values can have."""
    default = None if param.default is inspect.Parameter.empty else param.default
    if param.annotation in _CHECKED_TYPES:
        return (param.annotation, default)
    if type(default) in _CHECKED_TYPES:
        return (type(default), default)
    return ()


def _yaml(value):
    """`value` as YAML writes it: true/false, quoted strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else value


def _flow(mapping):
    """A mapping as YAML flow text, as `--set` takes it: `{num_kernels: 5, kernel_dim: 3}`."""
    return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in mapping.items()) + "}"


def _root(cls):
    """The GAN base class (imported by base, so not importable here): the most basic
    class in `cls`'s hierarchy that defines `from_data_spec`."""
    return [klass for klass in cls.__mro__ if "from_data_spec" in vars(klass)][-1]


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
