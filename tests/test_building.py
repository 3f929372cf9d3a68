"""ganzoo.models.building: config keys and values checked before anything is built."""

import os

import pytest
from absl import flags
from gan_test_utils import IMAGE_SPEC, VECTOR_SPEC

from ganzoo import config as config_lib
from ganzoo import get_model, train_lib
from ganzoo import train as cli
from ganzoo.config import ConfigError, ModelConfig
from ganzoo.data import DataSpec
from ganzoo.models import GAN, building, networks

MD = "model.discriminator.minibatch_discrimination"


def build(name="dcgan", spec=IMAGE_SPEC, discriminator=None, **options):
    config = ModelConfig(name=name, width=8, latent_dim=4,
                         discriminator=dict(discriminator or {}), options=options)
    return get_model(name).from_data_spec(spec, config, seed=0)


@pytest.mark.parametrize("value, fragments", [
    ({"num_kernels": 5}, [f"Config key '{MD}' needs num_kernels and kernel_dim",
                          "e.g. {num_kernels: 5, kernel_dim: 3}"]),
    ({"num_kernels": 5, "kernel_dim": 3, "kernels": 2}, ["unknown sub-key(s) ['kernels']",
                                                         "'use_bias'"]),
    ({"num_kernels": "abc", "kernel_dim": 3}, [f"'{MD}.num_kernels' must be an integer",
                                               "'abc'"]),
    ({"num_kernels": 5, "kernel_dim": 3, "use_bias": "no"}, [f"'{MD}.use_bias' must be a boolean"]),
    ({"num_kernels": 0, "kernel_dim": 3}, [f"'{MD}.num_kernels' must be at least 1"]),
    (True, [f"'{MD}' takes a mapping of MinibatchDiscrimination arguments"]),
    ({"num_kernels": 5, "kernel_dim": 3, "name": "x"}, ["unknown sub-key(s) ['name']"]),
])
@pytest.mark.parametrize("name, spec", [("dcgan", IMAGE_SPEC), ("vanilla", VECTOR_SPEC)])
def test_bad_minibatch_discrimination_mapping_is_a_config_error(name, spec, value, fragments):
    with pytest.raises(ConfigError) as info:
        build(name, spec, discriminator={"minibatch_discrimination": value})
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_mapping_for_a_builder_without_the_switch_is_an_unknown_key():
    config = ModelConfig(name="dcgan", architecture="resnet", width=8, latent_dim=4,
                         discriminator={"minibatch_discrimination": {"num_kernels": 5}})
    with pytest.raises(ConfigError, match=r"Unknown model.discriminator key.*'resnet'"):
        get_model("dcgan").from_data_spec(IMAGE_SPEC, config, seed=0)


@pytest.mark.parametrize("value", [None, False, {}])
def test_minibatch_discrimination_off_values_build_without_the_layer(value):
    gan = build(discriminator={"minibatch_discrimination": value})
    assert "minibatch_discrimination" not in [layer.name for layer in gan.discriminator.layers]


def test_every_nested_argument_example_is_accepted_and_builds():
    for name, (target, example) in networks.NESTED_ARGUMENTS.items():
        building.check_nested(f"model.discriminator.{name}", example, target, example)
        target(**example)  # the example is a valid call


@pytest.mark.parametrize("option, value, fragments", [
    ("packing", "abc", ["'model.options.packing' must be an integer", "'abc'", "default is 1"]),
    ("packing", None, ["'model.options.packing' must be an integer", "None"]),
    ("unrolled_steps", 1.5, ["'model.options.unrolled_steps' must be an integer", "1.5"]),
    ("feature_matching", "yes please", ["'model.options.feature_matching' must be a boolean",
                                        "'yes please'", "default is false"]),
    ("feature_matching", "false", ["'model.options.feature_matching' must be a boolean",
                                   "'false' (str)"]),
    ("feature_matching", 1, ["'model.options.feature_matching' must be a boolean"]),
    ("ema_decay", "0.9", ["'model.options.ema_decay' must be a number"]),
    ("feature_matching_layer", 3, ["'model.options.feature_matching_layer' must be a string"]),
])
def test_model_option_of_the_wrong_type_is_a_config_error(option, value, fragments):
    with pytest.raises(ConfigError) as info:
        build(**{option: value})
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_family_option_types_come_from_the_family_constructor():
    with pytest.raises(ConfigError, match="'model.options.clip_value' must be a number"):
        build("wgan", clip_value="small")
    types = building.constructor_types(get_model("wgan"), GAN)
    assert types["clip_value"] == (float, 0.01) and types["packing"] == (int, 1)
    assert "generator" not in types and "diffaugment" not in types


@pytest.mark.parametrize("options", [
    {"feature_matching": True, "packing": 2},
    {"feature_matching": False, "ema_decay": 0, "unrolled_steps": 1e0},
])
def test_well_typed_options_are_accepted(options):
    gan = build(**options)
    assert gan.feature_matching is options["feature_matching"]


def test_every_shipped_config_passes_the_option_and_network_checks():
    names = config_lib.list_configs()
    assert names
    for name in names:
        config = train_lib.resolve_config(config_file=name)
        cls = get_model(config.model.name)
        spec = DataSpec(config.data.name, (32, 32, 3))
        building.check_options(cls, config.model.options, spec, root=GAN)
        arch = networks.get_architecture(config.model.architecture)
        for section in ("generator", "discriminator"):
            building.check_builder_keys(getattr(arch, section), getattr(config.model, section),
                                        section, config.model.architecture)


TINY = ["--steps=2", "--set", "model.width=8", "--set", "model.latent_dim=8",
        "--set", "train.batch_size=16", "--mixed_precision=off"]


@pytest.mark.parametrize("override, fragment", [
    (f"{MD}={{num_kernels: 5}}", f"Config key '{MD}' needs num_kernels and kernel_dim"),
    ("model.options.packing=abc", "Config key 'model.options.packing' must be an integer"),
    ("model.options.feature_matching=yes please",
     "Config key 'model.options.feature_matching' must be a boolean"),
])
def test_cli_refuses_bad_values_and_writes_nothing(override, fragment, tmp_path, capsys):
    model_dir = str(tmp_path / "run")
    flags.FLAGS.unparse_flags()
    argv = flags.FLAGS(["ganzoo.train", *TINY, "--set", override, f"--model_dir={model_dir}"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    message = capsys.readouterr().err
    assert exit_info.value.code == 2, message
    assert message.startswith("error: ") and fragment in message, message
    assert "Traceback" not in message
    assert not os.path.exists(model_dir)
