"""Shared test set-up.

- Puts this folder on `sys.path` so tests can import helpers (`tfgan_oracle`,
  `gan_test_utils`).
- Splits the CPU into 2 logical devices before TensorFlow starts, so
  `MirroredStrategy` tests run here; single-device code uses `/cpu:0` as usual.
- Under `CI=true` (set by `.ci/run`) a skipped test is a failure: a check that
  cannot run there (no gcc, no tensorflow-probability) must not vanish unseen.
- Every test starts with absl's FLAGS unparsed: they are process-global, and a
  test that parsed `--set train.steps=-5` left that value to whichever test ran
  next on the same xdist worker (CI failed on such an order).
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
from absl import flags  # noqa: E402

import ganzoo  # noqa: E402,F401

_CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_CPU, [tf.config.LogicalDeviceConfiguration()] * 2)


# Seconds measured in a full two-worker run (pytest --durations), for the order
# below; a test not listed counts 0 (e2e: 30).
_MEASURED_SECONDS = {
    "test_dcgan_e2e.py::test_default_train_command_draws_all_ten_digits": 110,  # 1,000 steps
    "test_fashion_mnist_e2e.py::test_readme_lines_train_evaluate_export_a_fashion_mnist_dcgan":
        141,
    "test_ssgan_e2e.py::test_ssgan_beats_the_supervised_baseline_on_one_label_subset": 133,
    "test_wgan_e2e.py::test_wgan_gp_draws_all_ten_digits": 125,  # at 400 steps
    "test_control_e2e.py::test_infogan_categorical_code_finds_the_digits_without_labels": 85,
    "test_multi_worker.py::test_killed_worker_is_restarted_and_the_run_resumes": 73,
    "test_control_e2e.py::test_conditional_samples_are_the_requested_class[acgan]": 60,
    "test_control_e2e.py::test_conditional_samples_are_the_requested_class[cgan]": 50,
    "test_mode_collapse_e2e.py::test_best_combination_recovers_all_ring8_modes": 51,
    "test_determinism.py::test_deterministic_reruns_and_resume_are_bit_identical": 46,
    "test_reliability_crash.py::test_sigkill_during_save_and_during_a_step_then_resume": 41,
    "test_metrics_fmnist.py::test_fmnist_fid_orders_real_blur_and_noise": 38,
    "test_preemption.py::test_sigterm_saves_the_last_step_and_the_rerun_matches_an_uninterrupted_run":
        37,
    "test_multi_worker.py::test_two_workers_equal_one_process_and_only_the_chief_writes": 33,
    "test_preemption.py::test_sigterm_to_one_worker_stops_both_after_the_same_step": 33,
    "test_adding_a_model.py::test_the_readme_family_file_trains_exports_and_reloads": 20,
    # Subprocesses (a TensorFlow start-up each) and multi-step models, ~8-11 s each.
    "test_augment.py::test_train_step_with_diffaugment_changes_the_discriminator_update[cgan]": 11,
    "test_augment.py::test_train_step_with_diffaugment_changes_the_discriminator_update[dcgan]":
        10,
    "test_augment.py::test_diffaugment_survives_a_keras_round_trip": 10,
    "test_ema.py::test_resume_continues_the_average_exactly": 10,
    "test_registry.py::test_the_registry_is_a_leaf_and_import_ganzoo_registers_every_family": 8,
    **{f"test_cli.py::test_evaluate_and_export_require_their_flags[{case}]": 8
       for case in ("ganzoo.evaluate-args0---model_dir", "ganzoo.export-args1---export_dir")},
}


def _expected_seconds(item):
    name = item.nodeid.rsplit("/", 1)[-1]
    default = 30 if item.get_closest_marker("e2e") is not None else 0
    return _MEASURED_SECONDS.get(name, default)


def pytest_collection_modifyitems(items):
    """Runs the longest tests first (the `e2e` ones, then the rest in file order).

    With `-n 2 --dist load --maxschedchunk 1` (the README's command) each xdist
    worker takes the next test when it is free, so longest-first is the classic
    longest-processing-time schedule: the two workers end close together. (Under
    `--dist worksteal` the first half of this order went to one worker: every
    long test ran there, one after another.)
    """
    items.sort(key=lambda item: -_expected_seconds(item))


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


# A 4-step dcgan on digits with checkpoints at steps 2 and 4 (`tiny_dcgan_run`).
TINY_DCGAN_RUN = ["model.width=8", "model.latent_dim=8", "train.batch_size=16",
                  "train.steps=4", "train.steps_per_epoch=2", "train.checkpoint_every=2",
                  "train.sample_every=1000", "train.jit_compile=false"]


@pytest.fixture(scope="session")
def tiny_dcgan_run(tmp_path_factory):
    """One tiny trained run directory per test process, for tests that load,
    evaluate or copy a run (write to it only what such tests expect there)."""
    from ganzoo import train_lib

    path = str(tmp_path_factory.mktemp("tiny_dcgan") / "run")
    train_lib.run(train_lib.resolve_config("dcgan", overrides=TINY_DCGAN_RUN), path, verbose=0)
    return path


@pytest.fixture(autouse=True)
def _unparsed_flags():
    """Each test sees absl's FLAGS at their defaults and leaves them so."""
    if flags.FLAGS.is_parsed():
        flags.FLAGS.unparse_flags()
    yield
    if flags.FLAGS.is_parsed():
        flags.FLAGS.unparse_flags()
