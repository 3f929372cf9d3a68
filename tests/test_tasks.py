"""A GAN is a Keras model, a run is a task (`ganzoo.tasks`).

- Every registered family gets a `Task`, a new one per run; cgan and acgan
  share theirs through inheritance, families that name none get the plain one.
- No model class keeps a run-level hook, and `ganzoo.models.base` (with its
  sampling half, `ganzoo.models.sampling`) imports neither the tasks nor the
  data, metrics or callbacks they use.
- A family's config rule that spans sections (ssgan: an even batch) is its
  task's `check_config`, run by `train_lib.resolve_config`.
"""

import ast

import pytest

import ganzoo.models.base
import ganzoo.models.sampling
from ganzoo import tasks, train_lib
from ganzoo.config import ConfigError
from ganzoo.models.conditional import ConditionalTask
from ganzoo.models.dcgan import DCGANTask
from ganzoo.models.infogan import InfoGANTask
from ganzoo.models.semi_supervised import SemiSupervisedTask
from ganzoo.models.vanilla import VanillaTask
from ganzoo.models.wgan import CriticTask
from ganzoo.registry import get_model, list_models

RUN_HOOKS = {"make_pipeline", "extra_callbacks", "run_report", "data_requirements",
             "report_requirements", "callbacks", "report"}


def test_every_family_runs_as_a_task_and_no_model_keeps_run_hooks():
    for name in list_models():
        task = tasks.get_task(name)
        assert isinstance(task, tasks.Task)
        assert task is not tasks.get_task(name)  # one per run: callbacks keep run state
        assert not RUN_HOOKS & set(dir(get_model(name))), name
    expected = {"vanilla": VanillaTask, "cgan": ConditionalTask, "acgan": ConditionalTask,
                "infogan": InfoGANTask, "ssgan": SemiSupervisedTask, "dcgan": DCGANTask,
                "wgan_gp": CriticTask, "wgan": CriticTask}
    assert {name: type(tasks.get_task(name)) for name in expected} == expected


def test_unknown_model_name_lists_every_name():
    with pytest.raises(ValueError, match="Known models: .*dcgan"):
        tasks.get_task("nope")


def _imports_of(module):
    with open(module.__file__) as f:
        tree = ast.parse(f.read())
    imported = set()
    for node in ast.walk(tree):  # in-function imports too
        if isinstance(node, ast.ImportFrom) and node.module:
            imported |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    return imported


def test_the_model_base_imports_no_run_modules():
    # The base class and its sampling half (`ganzoo.models.sampling`).
    base, sampling = _imports_of(ganzoo.models.base), _imports_of(ganzoo.models.sampling)
    run_modules = ("ganzoo.data", "ganzoo.metrics", "ganzoo.callbacks", "ganzoo.tasks")
    assert {m for m in base | sampling if m.startswith(run_modules)} == set()
    assert "ganzoo.models.sampling" in base  # the walk sees base.py's imports
    assert "ganzoo.validation" in sampling


def test_a_family_rule_across_sections_lives_in_its_task():
    # ssgan's batch is half unlabeled, half labeled: an odd batch is refused by its
    # task (not by ganzoo.config), before any run directory exists.
    odd = train_lib.resolve_config("dcgan", **{"train.batch_size": 15})
    tasks.get_task("dcgan").check_config(odd)  # the plain task accepts any batch
    with pytest.raises(ConfigError, match="'train.batch_size' is 15.*must be even"):
        train_lib.resolve_config("ssgan", **{"train.batch_size": 15})
    assert train_lib.resolve_config("ssgan", **{"train.batch_size": 16}).train.batch_size == 16
