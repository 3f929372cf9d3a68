"""What the `python -m ganzoo.<verb>` commands share: `app.run`, and how bad input is refused.

A bad flag value, an unknown or missing required flag, a positional argument,
or an error the library raises for bad input (a wrong config key, a missing run
directory) is reported as `error: <what is wrong>` on stderr with exit status 2
(`EXIT_BAD_INPUT`), before anything is written. absl's own parser would exit 1
with "FATAL Flags parsing error"; the README promises 2 for a bad flag, as
argparse gave.

`ganzoo.evaluate` and `ganzoo.export` define their flags in a `define_flags()`
that `run` calls when the module *is* the program, not at import (TF Model
Garden's `if __name__ == "__main__": define_flags()`). absl's FLAGS are global to
the process and `--model_dir` and `--seed` mean different things there than in
`ganzoo.train` (required or not, defaults `None` and `0`), so flags defined at
import would collide with `DuplicateFlagError` wherever the modules are imported
together (the tests import all of them).
"""

import importlib
import sys
from collections.abc import Callable
from typing import NoReturn

from absl import app, flags, logging

EXIT_BAD_INPUT = 2
# Training stopped on its own with the run directory intact (the divergence guard
# gave up, or the disk filled); the message says how to go on.
EXIT_STOPPED = 3


def fail(message, status=EXIT_BAD_INPUT) -> NoReturn:
    """Prints `error: <message>` on stderr and exits with `status` (2, `EXIT_BAD_INPUT`)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def parse_flags(argv: list) -> list:
    """absl's flag parsing for `app.run(flags_parser=...)`, refusing bad input with `fail`.

    Args:
        argv: list of str. The command line, program name first.

    Returns:
        list of str: `[program]` (no positional arguments are accepted).
    """
    try:
        rest = flags.FLAGS(argv)
    except flags.Error as e:
        fail(f"{e} (--helpfull lists the flags)")
    if len(rest) > 1:
        fail(f"Unexpected arguments: {rest[1:]} (flags need --name=value).")
    return rest


def run(main: Callable[[list], None], define_flags: Callable[[], None] | None = None):
    """Runs a command: defines its flags (if it defines them late), then `app.run(main)`.

    Every command also takes `--import_module=NAME` (repeatable): modules imported
    before `main`, e.g. one that registers your own model family (README, "Adding
    a model"), so `--model` and saved `.keras` files know it.

    Args:
        main: callable. absl main, called with the program name as its only argument.
        define_flags: callable or None. Defines the command's flags in absl's FLAGS.
    """
    if define_flags is not None:
        define_flags()
    flags.DEFINE_multi_string("import_module", [],
                              "Python module to import first, e.g. one that registers your "
                              "own model family (repeatable).")

    def main_after_imports(argv):
        if not flags.FLAGS["verbosity"].present:
            # The console keeps to progress, results and `warning:`/`error:` lines
            # (`ganzoo.errors.warn` logs at INFO: --verbosity=0 shows it twice).
            logging.set_verbosity(logging.WARNING)
        import_modules(flags.FLAGS.import_module)
        main(argv)

    app.run(main_after_imports, flags_parser=parse_flags)


def parse_ints(text: str | None, name: str) -> list | None:
    """A flag's `"3"` or `"0,1,2"` -> `[3]` / `[0, 1, 2]`; None or `""` -> None.

    Raises:
        ValueError: anything but whole numbers separated by commas, naming `--name`.
    """
    if text is None or not str(text).strip():
        return None
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise ValueError(f"--{name}={text!r} must be whole numbers separated by commas, e.g. "
                         f"--{name}=3 or --{name}=0,1,2.")
    return values


def import_modules(names):
    """Imports each module of `names`; one that cannot be imported is bad input."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as e:
            fail(f"--import_module={name} cannot be imported ({e}); put it in the working "
                 "directory or on PYTHONPATH.")
