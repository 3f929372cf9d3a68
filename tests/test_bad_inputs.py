"""Bad inputs fail fast, name the problem, and never touch the user's run directory.

Each CLI case runs `ganzoo.train.main` in-process (the same code path as
`python -m ganzoo.train`, without paying for a new TensorFlow process per case)
against an existing run directory, and checks the exit code, the message and
that the directory's files, bytes and mtimes are unchanged.
"""

import hashlib
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from absl import app, flags

import ganzoo
from ganzoo import train as cli
from ganzoo import train_lib
from ganzoo.data import DataSpec

TINY = ["model.width=8", "model.latent_dim=8", "train.batch_size=16", "train.steps_per_epoch=2",
        "train.sample_every=1000", "train.checkpoint_every=2", "train.jit_compile=false"]
SETS = [a for s in TINY for a in ("--set", s)]


def snapshot(root):
    """Every file's bytes and mtime and every directory's mtime under `root`."""
    state = {}
    for dirpath, _, filenames in os.walk(root):
        state[os.path.relpath(dirpath, root)] = os.stat(dirpath).st_mtime_ns
        for name in filenames:
            path = os.path.join(dirpath, name)
            digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
            state[os.path.relpath(path, root)] = (os.stat(path).st_mtime_ns, digest)
    return state


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_inputs")
    path = str(root / "run")
    train_lib.run(train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=2"]), path,
                  verbose=0)
    images = root / "images"
    from PIL import Image

    for name, files in {
        "empty": {},
        "corrupt": {"a.png": b"not a png", "b.jpg": b"\xff\xd8 truncated"},
        "sizes": {"a.png": (8, 8), "b.png": (12, 10)},
    }.items():
        folder = images / name
        folder.mkdir(parents=True)
        for file, content in files.items():
            if isinstance(content, bytes):
                (folder / file).write_bytes(content)
            else:
                Image.new("L", content).save(folder / file)
    # Same-size images with and without class sub-folders (no test split).
    for name in ("unlabeled/a.png", "unlabeled/b.png", "labeled/0/a.png", "labeled/1/b.png"):
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (16, 16)).save(images / name)
    (images / "plain.txt").write_text("not a folder")
    (root / "bad.yaml").write_text("train: [unclosed\n")
    (root / "dup.yaml").write_text("model:\n  name: dcgan\ntrain:\n  steps: 5\n"
                                   "model:\n  width: 8\n")
    (root / "tfds").mkdir()
    return {"run": path, "root": str(root), "images": str(images)}


def _dataset(images, labels, num_classes=10, shape=(16, 16, 1)):
    def load(name, split="train", image_size=None, data_dir=None):
        signature = (tf.TensorSpec([16, 16, None], tf.float32), tf.TensorSpec([], tf.int32))
        ds = tf.data.Dataset.from_generator(lambda: zip(images, labels),
                                            output_signature=signature)
        return ds, DataSpec("digits", shape, num_classes=num_classes, num_examples=len(labels))

    return load


_OK = np.zeros((16, 16, 1), np.float32)
# (id, CLI arguments (the run directory is appended), expected message fragments, loader)
CLI_CASES = [
    ("unknown key", ["--set", "train.stepz=3"], ["train.stepz", "Valid keys"]),
    ("negative steps", ["--set", "train.steps=-5"], ["train.steps", "positive"]),
    ("wrong type", ["--set", "train.batch_size=abc"], ["train.batch_size", "must be int"]),
    ("smoothing range", ["--set", "train.label_smoothing=1.5"], ["label_smoothing", "[0, 1)"]),
    ("zero learning rate", ["--set", "train.d_optimizer.learning_rate=0"],
     ["train.d_optimizer.learning_rate", "positive"]),
    ("guard mode", ["--set", "train.guard.mode=maybe"], ["train.guard.mode", "rollback"]),
    ("guard factor", ["--set", "train.guard.lr_factor=2"], ["train.guard.lr_factor", "(0, 1)"]),
    ("guard thresholds", ["--set", "train.guard.real_above=0.001"], ["train.guard.real_above"]),
    ("best metric", ["--set", "train.best_metric=fid", *SETS],
     ["train.best_metric", "'fid'", "g_loss"]),
    ("best mode", ["--set", "train.best_mode=lowest"], ["train.best_mode", "min or max"]),
    ("strategy", ["--set", "train.strategy=warp"], ["train.strategy", "mirrored"]),
    ("parameter server", ["--strategy=parameter_server"], ["parameter_server", "multi_worker"]),
    ("unknown model", ["--model=nope"], ["Unknown model 'nope'", "dcgan"]),
    ("missing config file", ["--config=/nonexistent/x.yaml"], ["/nonexistent/x.yaml", "exist"]),
    ("bad yaml", ["--config={root}/bad.yaml"], ["bad.yaml", "not valid YAML"]),
    ("key twice in a yaml file", ["--config={root}/dup.yaml"],
     ["dup.yaml", "'model' appears twice", "line 5"]),
    ("set without =", ["--set", "train.steps"], ["key=value"]),
    ("image size", ["--set", "data.image_size=0"], ["data.image_size", "positive"]),
    ("batch norm in a GP critic", ["--model=wgan_gp", "--set", "model.discriminator.norm=batch"],
     ["model.discriminator.norm", "wgan_gp"]),
    ("odd ssgan batch", ["--model=ssgan", "--batch_size=15"],
     ["Config key 'train.batch_size' is 15", "must be even"]),
    ("incompatible resume", ["--set", "model.width=16"], ["model.width: 8 -> 16", "--model_dir"]),
    ("resume with another data set", ["--dataset=folder:{images}/sizes", "--image_size=16"],
     ["data.name", "different config"]),
    ("missing folder", ["--dataset=folder:/nonexistent/imgs"], ["/nonexistent/imgs", "exist"]),
    ("empty folder", ["--dataset=folder:{images}/empty"], ["no image files"]),
    ("unreadable images", ["--dataset=folder:{images}/corrupt"],
     ["none of its 2 image files could be decoded"]),
    ("mixed sizes", ["--dataset=folder:{images}/sizes"], ["different sizes", "data.image_size"]),
    ("folder is a file", ["--dataset=folder:{images}/plain.txt"], ["is a file"]),
    ("tfds not prepared", ["--dataset=mnist", "--data_dir={root}/tfds"], ["mnist", "data_dir"]),
    ("labels for cgan", ["--model=cgan", "--dataset=folder:{images}/unlabeled"],
     ["cgan needs class labels", "one sub-folder of images per class"]),
    ("labels per class for ssgan", ["--model=ssgan", "--dataset=folder:{images}/labeled"],
     ["ssgan needs 10 training examples of every class", "has 1"]),
    ("test split for ssgan", ["--model=ssgan", "--dataset=folder:{images}/labeled", "--set",
                              "model.options.labels_per_class=1"],
     ["ssgan needs a 'test' split", "no 'test' split"]),
    ("label out of range", [], ["label 12", "[0, 10)"], _dataset([_OK, _OK], [3, 12])),
    ("negative label", [], ["label -1"], _dataset([_OK], [-1])),
    ("mixed channels", [], ["3 channels", "1", "same channel count"],
     _dataset([_OK, np.zeros((16, 16, 3), np.float32)], [0, 1])),
    ("NaN pixels", [], ["NaN"], _dataset([_OK, _OK * np.nan], [0, 1])),
    ("pixels not scaled", [], ["outside [-1, 1]", "127.5"], _dataset([_OK + 255.0], [0])),
    ("model_dir is a file", ["--model_dir={run}/config.yaml"], ["is a file, not a directory"]),
    ("model_dir under a file", ["--model_dir={run}/config.yaml/sub"],
     ["cannot be created", "config.yaml' is a file"]),
    ("empty model_dir", ["--model_dir="], ["--model_dir is empty"]),
    ("batch too large", ["--batch_size=3000000000"], ["train.batch_size", "2**31"]),
    ("model and config disagree", ["--model=wgan", "--config=dcgan_digits"],
     ["--model=wgan", "is for dcgan", "drop --model"]),
    ("loss typo", ["--set", "train.loss=hingee"], ["train.loss", "'hingee'", "hinge"]),
    ("optimizer typo", ["--set", "train.g_optimizer.name=adamm"],
     ["train.g_optimizer.name", "'adamm'", "rmsprop"]),
    ("steps and epochs", ["--steps=5", "--epochs=1"], ["--steps and --epochs"]),
    ("zero epochs", ["--epochs=0"], ["--epochs must be at least 1"]),
    ("data_dir for digits", ["--data_dir={root}"], ["'digits' reads no files",
                                                    "--dataset=fashion_mnist"]),
    ("infogan option type", ["--model=infogan", "--set", "model.options.num_categories=abc"],
     ["model.options.num_categories", "must be an integer"]),
    ("ssgan option type", ["--model=ssgan", "--set", "model.options.labels_per_class=x"],
     ["model.options.labels_per_class", "must be an integer"]),
    ("cpu devices without mirrored", ["--num_cpu_devices=2"],
     ["train.num_cpu_devices", "--strategy=mirrored"]),
    ("negative cpu devices", ["--strategy=mirrored", "--num_cpu_devices=-3"],
     ["train.num_cpu_devices", "-3"]),
    ("data_dir for a folder", ["--dataset=folder:{images}/labeled", "--data_dir={root}"],
     ["reads no files"]),
    # --steps is the run's total: a resumed run past it is refused, not trained "to" it.
    ("steps below the run's step", [*SETS, "--steps=1"],
     ["is at step 2, past train.steps=1", "--steps=3 for 1 more"]),
    ("misspelt config key", ["--set", "train.batchsize=3"],
     ["Unknown config key 'train.batchsize'. Did you mean 'train.batch_size'?"]),
    ("misspelt data set names", ["--model_dir={root}/cifar", "--dataset=cifar_10"],
     ["Unknown data set 'cifar_10'. Did you mean 'cifar10'?"]),
    ("misspelt built-in name", ["--model_dir={root}/digit", "--dataset=digit"],
     ["Did you mean 'digits'?"]),
    ("vbn on the dcgan generator", ["--model_dir={root}/vbn", "--set", "model.generator.norm=vbn"],
     ["Unknown normalization 'vbn'", "--set model.architecture=mlp"]),
    ("freeze_d_blocks without init_from", ["--freeze_d_blocks=1"],
     ["train.freeze_d_blocks", "--init_from=PRESET_OR_RUN"]),
    # A batch of 16 from 10 examples warns, but only once nothing refuses the run:
    # this one is refused late (after the model is built), so its error is all it says.
    ("no warning before a late refusal", ["--model_dir={root}/warn_then_refuse", "--set",
                                          "data.max_examples=10", "--set",
                                          "train.best_metric=bogus"],
     ["train.best_metric", "'bogus'"]),
]


def _main(args, run):
    flags.FLAGS.unparse_flags()
    argv = flags.FLAGS(["ganzoo.train", *args, f"--model_dir={run}"])
    argv = argv[:1] + [a for a in argv[1:] if a]  # absl leaves no positional args here
    cli.main(argv)


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_fails_fast_and_keeps_the_run(case, run, capsys, monkeypatch):
    name, args, fragments, *loader = case
    if loader:
        monkeypatch.setattr(ganzoo.data, "load", loader[0])
    args = [a.format(**run) for a in args]
    model_dir = run["run"]
    if any(a.startswith("--model_dir=") for a in args):
        model_dir = next(a for a in args if a.startswith("--model_dir=")).split("=", 1)[1]
        args = [a for a in args if not a.startswith("--model_dir=")]
    before = snapshot(run["run"])
    # CPU time of this process, not wall time: on a loaded 2-core CI machine a
    # 2 s refusal took 33 s of wall time. Training before failing costs minutes.
    start = time.process_time()
    with pytest.raises(SystemExit) as exit_info:
        _main(args, model_dir)
    seconds = time.process_time() - start
    message = capsys.readouterr().err
    assert exit_info.value.code == 2, message
    assert message.startswith("error: ")
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert snapshot(run["run"]) == before
    assert seconds < 30, seconds


def test_bad_flag_values_and_arguments_are_refused(run):
    flags.FLAGS.unparse_flags()
    with pytest.raises(flags.IllegalFlagValueError, match="steps"):
        flags.FLAGS(["ganzoo.train", "--steps=abc"])
    flags.FLAGS.unparse_flags()
    with pytest.raises(app.UsageError, match="Unexpected arguments.*--name=value"):
        cli.main(flags.FLAGS(["ganzoo.train", "train.steps=3"]))


def test_new_run_with_a_bad_model_option_creates_nothing(run, capsys):
    target = os.path.join(run["root"], "fresh")
    with pytest.raises(SystemExit):
        _main(["--set", "model.options.bogus=1", *SETS], target)
    message = capsys.readouterr().err
    assert "model.options" in message and "bogus" in message
    assert not os.path.exists(target)


@pytest.mark.parametrize("section", ["generator", "discriminator"])
def test_new_run_with_a_bad_network_key_creates_nothing(section, run, capsys):
    # Before: a TypeError traceback from inside the architecture's builder.
    target = os.path.join(run["root"], f"fresh_{section}")
    with pytest.raises(SystemExit):
        _main(["--set", f"model.{section}.normm=layer", *SETS], target)
    message = capsys.readouterr().err
    assert f"model.{section}" in message and "normm" in message and "'norm'" in message
    assert not os.path.exists(target)


def test_new_ssgan_run_with_an_odd_batch_creates_nothing(run, capsys):
    # The semi-supervised pipeline also refuses it, but only after config.yaml is written.
    target = os.path.join(run["root"], "fresh_ssgan")
    with pytest.raises(SystemExit) as exit_info:
        _main(["--model=ssgan", "--batch_size=15", *SETS[:2]], target)
    assert exit_info.value.code == 2
    assert "must be even" in capsys.readouterr().err
    assert not os.path.exists(target)


def test_locked_run_is_refused_naming_the_other_process(run, capsys):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    from ganzoo import run_lock

    lock = os.path.join(run["run"], ".lock")
    try:
        with open(lock, "w") as f:
            json.dump({"pid": sleeper.pid, "host": socket.gethostname(), "started": "earlier",
                       "boot": run_lock._boot_id(), "argv": ["ganzoo.train"],
                       "proc_start": run_lock._proc_start(sleeper.pid)}, f)
        before = snapshot(run["run"])
        with pytest.raises(SystemExit):
            _main(["--steps=4", *SETS], run["run"])
        assert f"in use by pid {sleeper.pid}" in capsys.readouterr().err
        assert snapshot(run["run"]) == before
    finally:
        sleeper.kill()
        sleeper.wait()
        os.remove(lock)


def test_export_never_overwrites_silently(run):
    before = snapshot(run["run"])
    target = os.path.join(run["run"], "saved_model", "1")
    # A subprocess: `ganzoo.export` defines its flags only as the program (see `ganzoo.cli`).
    proc = subprocess.run([sys.executable, "-m", "ganzoo.export", "--model_dir", run["run"],
                           "--export_dir", target], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "error: " in proc.stderr and "already exists" in proc.stderr
    assert snapshot(run["run"]) == before


SERVING_CASES = [
    ("zero images", lambda g: g.generate(0), "num_images must be >= 1"),
    ("negative images", lambda g: g.generate(-3), "num_images must be >= 1, got -3"),
    ("fractional images", lambda g: g.generate(2.5), "must be an int"),
    ("latent width", lambda g: g.generator_inputs(np.zeros((2, 7))), "shape (2, 7), expected"),
    ("latent empty", lambda g: g.generator_inputs(np.zeros((0, 8))), "batch of 0 rows"),
    ("latent NaN", lambda g: g.generator_inputs(np.full((1, 8), np.nan)), "NaN"),
    ("latent strings", lambda g: g.generator_inputs(np.array([["a"] * 8])), "dtype"),
    ("labels to unconditional", lambda g: g.generate(2, labels=[0, 1]), "unconditional"),
]


@pytest.mark.parametrize("case", SERVING_CASES, ids=[c[0] for c in SERVING_CASES])
def test_generate_rejects_bad_inputs(case, run):
    _, call, fragment = case
    gan = ganzoo.load_gan(run["run"], compile=False)
    with pytest.raises(ValueError) as error:
        call(gan)
    assert fragment in str(error.value)


SAVED_MODEL_CASES = [
    ("width", tf.zeros([2, 7]), "Shape of tensor latent [2,7] is not compatible"),
    ("rank", tf.zeros([8]), "Shape of tensor latent [8]"),
    ("zero batch", tf.zeros([0, 8]), "latent has a batch of 0 rows; send at least one row"),
    ("NaN", tf.fill([2, 8], float("nan")), "latent contains NaN or Inf"),
    ("dtype", tf.zeros([2, 8], tf.float64), "expected to be a float tensor but is a double"),
]


def test_saved_model_rejects_bad_requests(run):
    signature = tf.saved_model.load(
        os.path.join(run["run"], "saved_model", "1")).signatures["serving_default"]
    assert signature(latent=tf.zeros([2, 8]))["images"].shape == (2, 16, 16, 1)
    for name, latent, fragment in SAVED_MODEL_CASES:
        with pytest.raises(tf.errors.InvalidArgumentError) as error:
            signature(latent=latent)
        assert fragment in str(error.value), name


def test_a_directory_holding_only_the_users_config_is_not_a_run(run, capsys):
    """A config.yaml without run.json is the user's file, not a run to resume or overwrite."""
    folder = os.path.join(run["root"], "mine")
    os.makedirs(folder)
    path = os.path.join(folder, "config.yaml")
    with open(path, "w") as f:
        f.write("model:\n  name: dcgan\n  width: 8\n")
    before = snapshot(folder)
    with pytest.raises(SystemExit) as info:
        _main(["--config=" + path, *SETS], folder)
    message = capsys.readouterr().err
    assert info.value.code == 2 and "no ganzoo run" in message and "--config" in message
    assert snapshot(folder) == before


def test_a_run_that_stopped_before_its_first_checkpoint_takes_a_new_config(run):
    """Nothing to resume, so a corrected config replaces it (before: the run directory
    refused every config but the failed one until deleted by hand)."""
    folder = os.path.join(run["root"], "failed_early")
    os.makedirs(folder)
    failed = train_lib.resolve_config("dcgan", overrides=TINY + ["train.batch_size=32"])
    train_lib._prepare_run_dir(failed, folder)  # config.yaml and run.json, no checkpoint
    fixed = train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=1"])
    assert train_lib.run(fixed, folder, verbose=0)["steps"] == 1
    assert len(json.load(open(os.path.join(folder, "run.json")))["history"]) == 2


def test_a_full_disk_is_an_error_that_says_the_run_resumes(run, capsys, monkeypatch):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "runs/x/checkpoints/ckpt.keras")

    monkeypatch.setattr(train_lib, "run", full)
    with pytest.raises(SystemExit) as info:
        _main(SETS, os.path.join(run["root"], "full"))
    message = capsys.readouterr().err
    assert info.value.code == 3  # cli.EXIT_STOPPED: stopped, run directory intact
    assert "No space left" in message and "ckpt.keras" in message and "resume" in message


def test_a_run_the_guard_stopped_exits_3_and_a_finished_run_has_nothing_to_train(
        run, capsys, monkeypatch):
    from ganzoo.guard import DivergenceError

    def diverged(*args, **kwargs):
        raise DivergenceError("Training diverged at step 7: non-finite loss.")

    with monkeypatch.context() as patch:
        patch.setattr(train_lib, "run", diverged)
        with pytest.raises(SystemExit) as info:
            _main(SETS, os.path.join(run["root"], "diverged"))
    assert info.value.code == 3 and "diverged at step 7" in capsys.readouterr().err
    finished = os.path.join(run["root"], "finished")
    _main([*SETS, "--steps=2"], finished)
    assert "Trained 2 steps in" in capsys.readouterr().out
    _main([*SETS, "--steps=3"], finished)
    assert "Trained to step 3 (1 step, resumed at step 2) in" in capsys.readouterr().out
    _main([*SETS, "--steps=3"], finished)
    assert f"Nothing to train: {finished} was already at step 3" in capsys.readouterr().out


@pytest.mark.parametrize("name, overrides, expected", [
    ("small_data", ["data.max_examples=10"],
     "a step draws 16 examples but 'digits' has 10, so every step repeats examples; a "
     "train.batch_size of at most 10 avoids it"),
    ("one_replica", ["train.strategy=mirrored"],
     "train.strategy 'mirrored' found one device, so the run has one replica; on a CPU, "
     "--num_cpu_devices=N splits it into N."),
])
def test_runs_that_train_but_not_as_asked_are_warned_about(name, overrides, expected, run,
                                                           capsys):
    config = train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=1", *overrides])
    train_lib.run(config, os.path.join(run["root"], name), verbose=0)
    assert expected in capsys.readouterr().err
