"""ganzoo's own exception types and its one way to warn, in a leaf module that
every layer may import.

`ganzoo.config.ConfigError` is the same class (re-exported there, where users
and tests import it).
"""

import sys

from absl import logging


class ConfigError(ValueError):
    """A config key or value is wrong; the message names the key and the fix."""


def warn(message):
    """Tells the user about something that does not stop the command.

    The message goes to stderr as `warning: ...`, so that a command's stdout
    stays what it promises (evaluate prints only its JSON there), and to absl's
    log at INFO: the commands log at WARNING and above unless `--verbosity` is
    given (`ganzoo.cli.run`), so the terminal shows it once, and `--verbosity=0
    --log_dir=DIR` keeps it in the log files too. From Python, the stderr line
    is what shows; `logging` handlers at INFO get the record.
    """
    logging.info("warning: %s", message)
    print(f"warning: {message}", file=sys.stderr, flush=True)
