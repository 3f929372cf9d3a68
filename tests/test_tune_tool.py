"""tools/tune_fashion_mnist.py: its variants are parsed or refused, and its table renders.

Training is what tools/fashion_mnist_table.py does (tested by the Fashion-MNIST
e2e test); here only what this tool adds, without TensorFlow work.
"""

import pytest
from gan_test_utils import load_tool


def test_variants_parse_into_a_name_and_overrides():
    tool = load_tool("tune_fashion_mnist")
    assert tool.parse_variant("lr2e-4=train.g_optimizer.learning_rate=2e-4;"
                              "train.d_optimizer.learning_rate=2e-4") == (
        "lr2e-4", ["train.g_optimizer.learning_rate=2e-4",
                   "train.d_optimizer.learning_rate=2e-4"])
    assert tool.parse_variant("config") == ("config", [])


@pytest.mark.parametrize("argv, message", [
    (["--variant", "lr2e-4"], "expected NAME=KEY=VALUE"),
    (["--variant", "=train.steps=5"], "expected NAME=KEY=VALUE"),
    ([], "at least one --variant"),
    (["--family", "ssgan", "--variant", "config"], "tools/ssgan_table.py"),
])
def test_bad_variants_are_refused_before_any_training(argv, message):
    with pytest.raises(SystemExit, match=message):
        load_tool("tune_fashion_mnist").main(argv)


def test_the_table_lists_variants_beside_the_configs_own_rows(monkeypatch):
    tool = load_tool("tune_fashion_mnist")

    def run(row, seed, fid, overrides):
        return {"job": {"framework": "ganzoo", "family": "wgan", "row": row, "seed": seed,
                        "overrides": overrides},
                "steps": 1000, "fid": fid, "kid": 900.0, "precision": 0.7, "recall": 0.1,
                "classes_covered": 8, "train_seconds": 389.0,
                "machine": {"cpu": "test CPU", "cores": 2, "note": "idle"}}

    shipped = [run("wgan", 0, 1187.1, []), run("wgan", 1, 1198.9, []),
               dict(run("wgan", 0, 1059.4, []), steps=2000),
               dict(run("wgan_gp", 0, 877.8, []), job={"framework": "ganzoo",
                                                      "family": "wgan_gp", "row": "wgan_gp",
                                                      "seed": 0, "overrides": []})]
    monkeypatch.setattr(tool.table, "read_results", lambda path: shipped)
    text = tool.render([run("wgan:lr2e-4", 0, 997.3, ["train.d_optimizer.learning_rate=2e-4"])])
    lines = text.splitlines()
    variant = next(line for line in lines if line.startswith("| wgan:lr2e-4 |"))
    assert "| train.d_optimizer.learning_rate=2e-4 | 1000 | 0 | 997.3 (997.3) |" in variant
    shown = next(line for line in lines if line.startswith("| wgan:wgan (fashion_mnist.json) |"))
    # The family's runs at the step counts tuned only: neither the 2,000-step run nor
    # another family's run is shown.
    assert "| 1000 | 0,1 | 1193.0 ± 8.3 (1187.1 / 1198.9) |" in shown
    assert not any("1059.4" in line or "877.8" in line for line in lines)
    assert "Machine: test CPU, 2 cores; idle" in lines
