"""ganzoo's own exception types, in a leaf module that every layer may import.

`ganzoo.config.ConfigError` is the same class (re-exported there, where users
and tests import it).
"""


class ConfigError(ValueError):
    """A config key or value is wrong; the message names the key and the fix."""
