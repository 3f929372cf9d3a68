"""A measurement tool's smoke or partial run never replaces the results file the README quotes."""

import argparse

from gan_test_utils import load_tool


def test_changed_settings_name_their_own_results_file():
    results_name = load_tool("results_name").results_name
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", nargs="+", default=["configs/a_digits.yaml", "configs/b.yaml"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--old", action=argparse.BooleanOptionalAction, default=True)
    keys = ["configs", "repeats", "old"]
    assert results_name(parser, parser.parse_args([]), "preemption", keys) == "preemption"
    partial = parser.parse_args(["--configs", "configs/a_digits.yaml", "--repeats", "1",
                                 "--no-old"])
    assert results_name(parser, partial, "preemption", keys) == (
        "preemption_configsa_digits_repeats1_oldFalse")
