import pathlib

import pytest
import yaml

import ganzoo
from ganzoo import config as config_lib
from ganzoo import train_lib
from ganzoo.config import ConfigError


def test_precedence_defaults_model_yaml_set_flags(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"train": {"steps": 7, "batch_size": 16}}))
    config = train_lib.resolve_config(
        "dcgan", str(path), ["train.batch_size=32", "train.g_optimizer.learning_rate=1e-4"],
        **{"train.seed": 5},
    )
    assert config.train.steps == 7            # YAML over default
    assert config.train.batch_size == 32      # --set over YAML
    assert config.train.g_optimizer.learning_rate == pytest.approx(1e-4)  # "1e-4" parsed
    assert config.train.seed == 5             # flag last
    assert config.train.g_optimizer.beta_1 == 0.5  # DCGAN's paper default


def test_unknown_key_names_the_key_and_valid_ones():
    with pytest.raises(ConfigError, match=r"train\.stepz.*train\.steps"):
        train_lib.resolve_config("dcgan", overrides=["train.stepz=3"])


@pytest.mark.parametrize("override, match", [
    ("train.steps=abc", "train.steps.*int"),
    ("train.steps=0", "train.steps.*positive"),
    ("train.label_smoothing=1.5", "label_smoothing"),
    ("train.strategy=gpu_magic", "strategy"),
    ("nokey", "key=value"),
])
def test_bad_values_fail_with_the_key(override, match):
    with pytest.raises(ConfigError, match=match):
        train_lib.resolve_config("dcgan", overrides=[override])


def test_unknown_model_option_is_rejected():
    from ganzoo.data import DataSpec
    from ganzoo.registry import get_model

    config = train_lib.resolve_config("dcgan", overrides=["model.options.bogus=1"])
    with pytest.raises(ConfigError, match="bogus"):
        get_model("dcgan").from_data_spec(DataSpec("d", (16, 16, 1), 10), config.model)


def test_yaml_round_trip(tmp_path):
    config = train_lib.resolve_config("dcgan", overrides=["model.width=8"])
    path = tmp_path / "config.yaml"
    path.write_text(config_lib.to_yaml(config))
    again = train_lib.resolve_config(config_file=str(path))
    assert again.to_dict() == config.to_dict()


def test_missing_config_file():
    with pytest.raises(ConfigError, match="does not exist"):
        train_lib.resolve_config("dcgan", "no/such.yaml")


def test_a_shipped_config_loads_by_name_from_any_directory(tmp_path, monkeypatch):
    path = pathlib.Path(__file__).resolve().parents[1] / "configs" / "dcgan_fashion_mnist.yaml"
    by_path = train_lib.resolve_config(config_file=str(path))
    monkeypatch.chdir(tmp_path)  # no configs/ here, as after `pip install ganzoo`
    for name in ("dcgan_fashion_mnist", "dcgan_fashion_mnist.yaml"):
        assert train_lib.resolve_config(config_file=name) == by_path
    assert "dcgan_fashion_mnist" in ganzoo.list_configs()
    # A file that exists wins over a shipped name.
    (tmp_path / "dcgan_fashion_mnist.yaml").write_text("train: {steps: 7}\n")
    assert train_lib.resolve_config(config_file="dcgan_fashion_mnist.yaml").train.steps == 7


def test_unknown_config_name_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match="no shipped config.*dcgan_fashion_mnist, dcgan_mnist"):
        train_lib.resolve_config(config_file="dcgan_fashion")


def test_a_repository_path_outside_the_repository_names_the_shipped_config(tmp_path,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="shipped config of that name is "
                                          "--config=dcgan_fashion_mnist"):
        train_lib.resolve_config(config_file="configs/dcgan_fashion_mnist.yaml")


def test_a_config_name_given_as_the_model_says_to_use_config():
    with pytest.raises(ConfigError, match="shipped config's name; use --config=wgan_gp_digits"):
        train_lib.resolve_config(model="wgan_gp_digits")


def test_shipped_configs_resolve():
    # From this file, not the working directory (pytest may run from tests/).
    paths = sorted((pathlib.Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    families = set()
    for path in paths:
        config = train_lib.resolve_config(config_file=str(path))
        # `<model>_<dataset>.yaml`; the longest matching name (wgan_gp, not wgan).
        named = max((m for m in ganzoo.list_models() if path.stem.startswith(f"{m}_")),
                    key=len, default=None)
        assert config.model.name == named, path
        families.add(config.model.name)
    assert families == set(ganzoo.list_models()), "a registered family ships no config"
