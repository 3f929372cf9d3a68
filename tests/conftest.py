"""Shared test set-up.

- Puts this folder on `sys.path` so tests can import helpers (`tfgan_oracle`,
  `gan_test_utils`).
- Splits the CPU into 2 logical devices before TensorFlow starts, so
  `MirroredStrategy` tests run here; single-device code uses `/cpu:0` as usual.
- Under `CI=true` (set by `.ci/run`) a skipped test is a failure: a check that
  cannot run there (no gcc, no tensorflow-probability) must not vanish unseen.
"""

import os
import pathlib
import sys

# As `import ganzoo` does, but before TensorFlow is imported: TensorFlow reads the
# oneDNN switch once, at import, so importing it first left oneDNN off in the
# tests (IsMklEnabled() False) while `python -m ganzoo.train` had it on.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import ganzoo  # noqa: E402,F401

_CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_CPU, [tf.config.LogicalDeviceConfiguration()] * 2)


def pytest_collection_modifyitems(items):
    """Runs the minutes-long `e2e` tests first, so that two xdist workers
    (`-n 2 --dist worksteal`) do not end the suite on one long test."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


def _fail_skips_in_ci(report):
    if (os.environ.get("CI", "").lower() == "true" and report.skipped
            and not hasattr(report, "wasxfail")):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (skips fail in CI): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skips_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skips_in_ci(outcome.get_result())


@pytest.fixture(scope="session")
def mirrored_strategy():
    """One 2-replica MirroredStrategy per test process (a second instance in the
    same process can collide on collective-op keys)."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
