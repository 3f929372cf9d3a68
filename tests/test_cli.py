"""`ganzoo.cli`: every command refuses bad flags with `error: ...` and exit status 2,
and the commands' flags do not collide in one process."""

import subprocess
import sys

import pytest
from absl import flags

from ganzoo import cli, evaluate, export, generate
from ganzoo import train as train_cli


@pytest.mark.parametrize("args, fragment", [
    (["--steps=abc"], "flag --steps=abc"),
    (["--bogus=1"], "Unknown command line flag 'bogus'"),
    (["train.steps=3"], "Unexpected arguments: ['train.steps=3']"),
])
def test_bad_flags_exit_2_with_error(args, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_flags(["ganzoo.train", *args])
    assert exit_info.value.code == cli.EXIT_BAD_INPUT == 2
    message = capsys.readouterr().err
    assert message.startswith("error: ") and fragment in message, message


def test_good_flags_parse():
    assert cli.parse_flags(["ganzoo.train", "--steps", "7", "--model=wgan"]) == ["ganzoo.train"]
    assert (flags.FLAGS.steps, flags.FLAGS.model) == (7, "wgan")


def test_commands_import_together_and_define_their_flags_only_as_the_program():
    # Importing all four (above) raised no DuplicateFlagError and defined train's flags
    # only: evaluate's, export's and generate's `--model_dir`/`--seed` differ from train's.
    assert "steps" in flags.FLAGS and train_cli.FLAGS is flags.FLAGS
    assert not {"export_dir", "metrics", "output"} & set(flags.FLAGS)
    assert all(callable(m.define_flags) for m in (evaluate, export, generate))


@pytest.mark.parametrize("command, args, fragment", [
    ("ganzoo.evaluate", [], "--model_dir"),
    ("ganzoo.export", ["--model_dir=x"], "--export_dir"),
    ("ganzoo.generate", ["--model_dir=x"], "--output"),
])
def test_evaluate_export_and_generate_require_their_flags(command, args, fragment):
    proc = subprocess.run([sys.executable, "-m", command, *args], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2 and "error: " in proc.stderr and fragment in proc.stderr, \
        proc.stderr[-2000:]
