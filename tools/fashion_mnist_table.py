"""Every family on real Fashion-MNIST, and ganzoo beside its PyTorch twin.

For each family, `configs/<family>_fashion_mnist.yaml` is trained with
`ganzoo.train_lib.run` (what `python -m ganzoo.train --config=...` does: run
directory, checkpoints, sample grids, TensorBoard, export) for each seed. DCGAN
and WGAN-GP are also trained by their PyTorch twins (`tools/reference/`: same
layers, initialisers, optimizers, losses, batch, steps and data) on the same
60,000 training images.

Every generator is scored the same way: 10,000 samples (seed 0) against the
10,000 test images, features and logits of the shipped Fashion-MNIST classifier
(`ganzoo.metrics.FashionMNISTClassifierExtractor`): fmnist-FID, KID, precision
and recall (k=3), and the classes covered (predicted for >= 2% of samples; 10%
is a uniform share). Family measures come from each run's `report.json`, judged
by the same classifier: requested-class accuracy (cgan, acgan), the matched
categorical code on samples and Q on the real test split (infogan), the
discriminator's test error with 100 and 1,000 labels against the same network
trained on the labels alone (ssgan, `unsupervised_weight=0`).

Wall time: `train s` is the training loop (ganzoo: the `fit` calls, with their
callbacks; PyTorch: its loop), `total s` adds set-up, the end-of-run export and
report. Images/s counts real images consumed by the training loop.

ganzoo runs in float32 (`train.mixed_precision=off`, before a job's own
overrides), as the twins do, so rows compare across hosts: bf16, the default
(`auto`) for some families on CPUs with bf16, is measured against these rows
by `tools/precision_table.py`. Each run records the precision it trained in.

Each run is its own process (one TensorFlow or PyTorch at a time, 2 threads).
Writes `tools/results/fashion_mnist.{json,md}`; reruns add to the JSON, so the
table can be built in pieces:

    python tools/fashion_mnist_table.py                                # everything
    python tools/fashion_mnist_table.py --families dcgan --seeds 0 --steps 2000
    python tools/fashion_mnist_table.py --families ssgan --steps 6000 \
        --ssgan_variants ssgan_100,ssgan_100_supervised
    python tools/fashion_mnist_table.py --render                       # md from json
"""

import argparse
import contextlib
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import machine  # tools/machine.py (this script's folder is on sys.path)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "tools", "results")
RUNS = os.environ.get("GANZOO_TABLE_RUNS", "/tmp/ganzoo_fashion_mnist_table")
FAMILIES = ("dcgan", "wgan_gp", "wgan", "vanilla", "cgan", "acgan", "infogan", "ssgan")
TWINS = ("dcgan", "wgan_gp")
NUM_SAMPLES = 10_000
COVERED_SHARE = 0.02
# ssgan rows: (label, overrides)
SSGAN_VARIANTS = {
    "ssgan_100": ["model.options.labels_per_class=10"],
    "ssgan_100_supervised": ["model.options.labels_per_class=10",
                             "model.options.unsupervised_weight=0"],
    "ssgan_1000": ["model.options.labels_per_class=100"],
    "ssgan_1000_supervised": ["model.options.labels_per_class=100",
                              "model.options.unsupervised_weight=0"],
}


# ------------------------------------------------------------------ scoring
@functools.lru_cache(maxsize=1)
def _test_features():
    """`(extractor, its outputs on the test split, number of test images)`, once per process."""
    from ganzoo import data, metrics

    extractor = metrics.FashionMNISTClassifierExtractor()
    test, _ = data.load("fashion_mnist", "test")
    real = test.batch(NUM_SAMPLES).get_single_element()[0].numpy()
    return extractor, metrics.compute_features(extractor, real), len(real)


def score(fake):
    """fmnist-FID, KID, precision/recall and class coverage of `fake` vs the test split."""
    import numpy as np

    from ganzoo import metrics

    extractor, real_out, num_real = _test_features()
    fake_out = metrics.compute_features(extractor, np.asarray(fake, np.float32))
    kid, kid_std = metrics.kid_from_features(real_out["features"], fake_out["features"], seed=0)
    precision, recall = metrics.precision_recall(real_out["features"], fake_out["features"])
    counts = np.bincount(np.argmax(fake_out["logits"], -1), minlength=10)
    return {
        "fid": float(metrics.fid_from_features(real_out["features"], fake_out["features"])),
        "kid": float(kid), "kid_std": float(kid_std),
        "precision": float(precision), "recall": float(recall),
        "classes_covered": int(np.sum(counts >= COVERED_SHARE * len(fake))),
        "class_counts": counts.tolist(), "num_fake": int(len(fake)), "num_real": int(num_real),
        "extractor": extractor.name, "extractor_sha256": extractor.weights_checksum,
    }


# ------------------------------------------------------------------ workers
def loop_timer():
    """A Keras callback summing the time spent inside `fit` and the steps it ran."""
    import keras

    class LoopTimer(keras.callbacks.Callback):
        seconds, steps, _start = 0.0, 0, None

        def on_train_begin(self, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1

        def on_train_end(self, logs=None):
            self.seconds += time.perf_counter() - self._start

    return LoopTimer()


def run_ganzoo(job):
    from ganzoo import precision, train_lib

    family = job["family"]
    config_file = os.path.join(ROOT, "configs", f"{job['config']}_fashion_mnist.yaml")
    overrides = [f"train.seed={job['seed']}", "train.mixed_precision=off",
                 *job.get("overrides", [])]
    if job.get("steps"):
        overrides.append(f"train.steps={job['steps']}")
    config = train_lib.resolve_config(config_file=config_file, overrides=overrides)
    per_step = config.train.batch_size * config.train.d_steps
    timer = loop_timer()
    model_dir = os.path.join(RUNS, job["name"])
    if os.path.exists(model_dir):
        import shutil

        shutil.rmtree(model_dir)
    start = time.perf_counter()
    with _float32_network(job.get("float32_network")), \
            _keras_spectral_norm(job.get("keras_spectral_norm")):
        result = train_lib.run(config, model_dir, verbose=0, extra_callbacks=[timer])
    total = time.perf_counter() - start
    gan = result["model"]
    out = {"steps": result["steps"], "train_seconds": timer.seconds, "total_seconds": total,
           "mixed_precision": precision.mode_of(gan.generator, gan.discriminator),
           "images_per_second": timer.steps * per_step / max(timer.seconds, 1e-9),
           "report": result.get("report") or {}, "model_dir": model_dir}
    if family != "ssgan":
        out.update(score(gan.generate(NUM_SAMPLES, seed=0)))
        if gan.ema_generator is not None:
            out.update(_score_ema_variants(gan))
    return out


@contextlib.contextmanager
def _keras_spectral_norm(enabled):
    """Builds spectral norm with `keras.layers.SpectralNormalization` (a projection of
    the kernel before each training call) instead of ganzoo's (Miyato et al.'s W / sigma
    with the gradient through sigma): the "before" arm of tools/spectral_norm_table.py."""
    if not enabled:
        yield
        return
    import keras

    from ganzoo.models import networks

    original = networks.maybe_spectral_norm
    networks.maybe_spectral_norm = (lambda layer, on, **kwargs: keras.layers.SpectralNormalization(
        layer, **kwargs) if on else layer)
    try:
        yield
    finally:
        networks.maybe_spectral_norm = original


@contextlib.contextmanager
def _float32_network(network):
    """Builds `network` ("generator" or "discriminator") in float32 whatever the policy.

    An experiment of tools/precision_table.py (`--float32_network`): which
    network's bf16 compute costs FID. None changes nothing.
    """
    if not network:
        yield
        return
    import dataclasses

    import keras

    from ganzoo.models import networks

    def in_float32(builder):
        def build(*args, **kwargs):
            previous = keras.config.dtype_policy()
            keras.config.set_dtype_policy("float32")
            try:
                return builder(*args, **kwargs)
            finally:
                keras.config.set_dtype_policy(previous)
        return build

    original = networks.get_architecture

    def patched(name):
        arch = original(name)
        return dataclasses.replace(arch, **{network: in_float32(getattr(arch, network))})

    networks.get_architecture = patched
    try:
        yield
    finally:
        networks.get_architecture = original


def _score_ema_variants(gan):
    """The same run's G without the average, and the average with G's batch-norm
    statistics instead of its own (what `ema.recalibrate` replaces)."""
    average, gan.ema_generator = gan.ema_generator, None
    out = {"without_ema": score(gan.generate(NUM_SAMPLES, seed=0))}
    gan.ema_generator = average
    trainable = {id(v) for v in gan.generator.trainable_weights}
    for ema, weight in zip(average.weights, gan.generator.weights, strict=True):
        if id(weight) not in trainable:
            ema.assign(weight)
    gan._ema_calibrated_at = int(gan.g_optimizer.iterations.numpy())  # keep them
    out["ema_with_g_statistics"] = score(gan.generate(NUM_SAMPLES, seed=0))
    return out


def run_twin(job):
    import numpy as np

    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from reference import twin

    from ganzoo import data, train_lib

    config_file = os.path.join(ROOT, "configs", f"{job['config']}_fashion_mnist.yaml")
    config = train_lib.resolve_config(config_file=config_file)
    train_ds, _ = data.load("fashion_mnist", "train")
    images = train_ds.batch(60_000).get_single_element()[0].numpy()
    start = time.perf_counter()
    result = twin.train(images, config, steps=job.get("steps"), seed=job["seed"], threads=2)
    total = time.perf_counter() - start
    out = {"steps": result.steps, "train_seconds": result.seconds, "total_seconds": total,
           "images_per_second": result.images_per_second}
    out.update(score(np.asarray(result.generate(NUM_SAMPLES, seed=0))))
    return out


def _worker_main(text):
    job = json.loads(text)
    if job["framework"] == "pytorch":
        out = run_twin(job)
    else:
        out = run_ganzoo(job)
    print("RESULT " + json.dumps(out, default=float))


# ------------------------------------------------------------------ table
def jobs_for(families, seeds, steps, twins, ssgan_variants=None):
    jobs = []
    for family in families:
        variants = {family: []}
        if family == "ssgan":
            variants = {k: v for k, v in SSGAN_VARIANTS.items()
                        if not ssgan_variants or k in ssgan_variants}
        for seed in seeds:
            for name, overrides in variants.items():
                jobs.append({"framework": "ganzoo", "family": family, "config": family,
                             "row": name, "seed": seed, "steps": steps,
                             "overrides": overrides, "name": f"{name}_s{seed}"})
            if twins and family in TWINS:
                jobs.append({"framework": "pytorch", "family": family, "config": family,
                             "row": family, "seed": seed, "steps": steps,
                             "name": f"{family}_pytorch_s{seed}"})
    return jobs


def variant_job(family, row, seed, steps, overrides):
    """A ganzoo job of `family`'s Fashion-MNIST config with `overrides`, named `<row>_s<seed>`."""
    return {"framework": "ganzoo", "family": family, "config": family, "row": row,
            "seed": seed, "steps": steps, "overrides": list(overrides),
            "name": f"{row}_s{seed}"}


def run_job(job):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1",
               TF_NUM_INTRAOP_THREADS="2", OMP_NUM_THREADS="2")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(job)]
    started = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"{job['name']} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(lines[-1][len("RESULT "):])
    out.update(job=job, wall_seconds=time.time() - started)
    return out


def _mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _fmt(values, digits=1, percent=False):
    mean, std = _mean_std(values)
    if mean is None:
        return "-"
    scale = 100.0 if percent else 1.0
    text = f"{mean * scale:.{digits}f}"
    if len(values) > 1:
        text += f" ± {std * scale:.{digits}f}"
    return text


def score_cells(runs):
    """`fmnist-FID | KID | precision | recall | classes` cells (mean ± std over runs)."""
    return " | ".join(_fmt([r.get(key) for r in runs], digits) for key, digits in (
        ("fid", 1), ("kid", 3), ("precision", 2), ("recall", 2), ("classes_covered", 1)))


def timings(runs, key):
    """`key` of the runs whose time was taken fairly (`"timed": false` marks the others)."""
    return [r[key] for r in runs if r.get("timed", True)]


def family_measure(row, runs):
    report = [r.get("report", {}) for r in runs]
    if row in ("cgan", "acgan"):
        return "requested class " + _fmt([r.get("class_accuracy") for r in report], 1, True) + "%"
    if row == "infogan":
        return ("matched code " + _fmt([r.get("code_accuracy") for r in report], 1, True)
                + "%, Q on test " + _fmt([r.get("q_test_accuracy") for r in report], 1, True)
                + "%")
    if row.startswith("ssgan"):
        return "test error " + _fmt([r.get("test_error") for r in report], 1, True) + "%"
    return ""


def _variant_key(row):
    """ssgan_100, ssgan_100_supervised, ssgan_1000, ...: by label count, GAN first."""
    parts = row.split("_")
    labels = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return labels, row.endswith("_supervised"), row


def render(results):
    rows = {}
    for r in results:
        job = r["job"]
        # By the steps the run took: a job without --steps (None) ran its config's.
        key = (job["row"], job["framework"], r["steps"])
        rows.setdefault(key, {})[job["seed"]] = r  # a rerun of a seed replaces it
    order = {f: i for i, f in enumerate(FAMILIES)}
    lines = [
        "# Fashion-MNIST: every family, and ganzoo beside its PyTorch twin",
        "",
        "Protocol: configs/<family>_fashion_mnist.yaml, 60,000 training images (28x28), "
        f"{NUM_SAMPLES:,} samples (seed 0) vs the 10,000 test images, features of the shipped "
        "Fashion-MNIST classifier (fmnist-FID; **not comparable with Inception-FID**). "
        f"Classes covered: predicted for >= {COVERED_SHARE:.0%} of samples. Mean ± std over "
        "seeds. `train s`: training loop; `total s`: with set-up, export and report; times "
        "over the fairly timed seeds only (a run marked `\"timed\": false` in the JSON shared "
        "its machine). ganzoo in float32 (`train.mixed_precision=off`), as its twins; bf16 "
        "beside these rows in tools/results/precision.md.",
        "",
        "| family | framework | steps | seeds | fmnist-FID | KID | precision | recall | "
        "classes | family measure | train s | total s | img/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (row, framework, _), by_seed in sorted(
            rows.items(), key=lambda kv: (order.get(kv[0][0].split("_1")[0], 99),
                                          _variant_key(kv[0][0]), kv[0][1] != "ganzoo",
                                          kv[0][2])):
        runs = [by_seed[s] for s in sorted(by_seed)]
        steps = runs[0]["steps"]
        lines.append(
            f"| {row} | {framework} | {steps} | {','.join(str(s) for s in sorted(by_seed))} | "
            f"{score_cells(runs)} | "
            f"{family_measure(row, runs)} | {_fmt(timings(runs, 'train_seconds'), 0)} | "
            f"{_fmt(timings(runs, 'total_seconds'), 0)} | "
            f"{_fmt(timings(runs, 'images_per_second'), 0)} |")
    lines += summary_lines(rows)
    # Rows are built in pieces, possibly on different machines: name each one.
    machines = machine.grouped((machine.of(r), f"{row} {framework} {steps}")
                               for (row, framework, steps), by_seed in rows.items()
                               for r in by_seed.values())
    lines.append("")
    for (cpu, cores, note), labels in machines.items():
        lines.append(f"Machine: {cpu}, {cores} cores ({', '.join(sorted(labels))})"
                     + (f"; {note}" if note else ""))
        lines.append("")
    return "\n".join(lines)


# The targets: requested-class accuracy, InfoGAN's matched code against
# ClusterGAN's Fashion-10 ACC (REFERENCES.md), the semi-supervised margin.
CLASS_TARGET, CLUSTERGAN_ACC, SSGAN_MARGIN = 0.85, 0.612, 0.05


def _mean(runs, key, report=False):
    return _mean_std([(r.get("report", {}) if report else r).get(key) for r in runs])[0]


def fid_verdict(ours, twin):
    """'not worse', or WORSE with the gap's standard error over seeds (within 2 SE: noise)."""
    (m_ours, s_ours), (m_twin, s_twin) = (_mean_std([r.get("fid") for r in runs])
                                          for runs in (ours, twin))
    if m_ours <= m_twin:
        return "not worse"
    se = (s_ours**2 / len(ours) + s_twin**2 / len(twin)) ** 0.5
    noise = "within seed noise" if m_ours - m_twin < 2 * se else "beyond seed noise"
    return f"WORSE by {m_ours - m_twin:.1f}, standard error {se:.1f}: {noise}"


def summary_lines(rows):
    """Side by side (ganzoo vs twin) and each family's target, from the rows."""
    by = {(row, fw, steps): [s[k] for k in sorted(s)] for (row, fw, steps), s in rows.items()}
    out = ["", "Side by side and targets (means over the seeds listed above):", ""]
    for (row, fw, steps), runs in sorted(by.items(), key=lambda kv: str(kv[0])):
        n = len(runs)
        if fw == "pytorch" and (row, "ganzoo", steps) in by:
            ours = by[(row, "ganzoo", steps)]
            fid_ours, fid_twin = _mean(ours, "fid"), _mean(runs, "fid")
            t_ours = _mean_std(timings(ours, "train_seconds"))[0]
            t_twin = _mean_std(timings(runs, "train_seconds"))[0]
            out.append(
                f"- {row}, {steps} steps: fmnist-FID ganzoo {fid_ours:.1f} vs twin {fid_twin:.1f} "
                f"({fid_verdict(ours, runs)}); training loop "
                f"{t_ours:.0f} s vs {t_twin:.0f} s ({t_twin / t_ours:.2f}x the twin's speed; "
                f"{'faster' if t_ours < t_twin else 'NOT faster'}).")
        if fw != "ganzoo":
            continue
        if row in ("cgan", "acgan"):
            acc = _mean(runs, "class_accuracy", report=True)
            met = "met" if acc >= CLASS_TARGET else "NOT met"
            out.append(f"- {row}, {steps} steps, {n} seed(s): requested class {acc:.1%} "
                       f"(target >= {CLASS_TARGET:.0%}: {met}).")
        if row == "infogan":
            acc = _mean(runs, "code_accuracy", report=True)
            q = _mean(runs, "q_test_accuracy", report=True)
            out.append(f"- infogan, {steps} steps, {n} seed(s): matched code {acc:.1%}, Q on the "
                       f"real test split {q:.1%} (ClusterGAN, Fashion-10 ACC {CLUSTERGAN_ACC:.1%}: "
                       f"{'beaten' if acc > CLUSTERGAN_ACC else 'NOT beaten'}).")
        if row.startswith("ssgan_") and not row.endswith("_supervised"):
            base = by.get((row + "_supervised", "ganzoo", steps))
            if base:
                gan, sup = _mean(runs, "test_error", report=True), _mean(base, "test_error",
                                                                        report=True)
                labels = row.split("_")[1]
                verdict = ""
                if labels == "100":
                    verdict = (f" (target: GAN better by >= {SSGAN_MARGIN * 100:.0f} points: "
                               f"{'met' if sup - gan >= SSGAN_MARGIN else 'NOT met'})")
                out.append(f"- ssgan, {labels} labels, {steps} steps, {n} / {len(base)} seed(s): "
                           f"test error {gan:.1%} vs {sup:.1%} for the same D trained on the "
                           f"labels alone, {(sup - gan) * 100:+.1f} points{verdict}.")
    return out


def machine_lines(runs):
    """`Machine: <cpu>, <n> cores[; note]` once per distinct machine of `runs`, sorted."""
    machines = {f"{cpu}, {cores} cores" + (f"; {note}" if note else "")
                for cpu, cores, note in map(machine.of, runs)}
    return [f"Machine: {m}" for m in sorted(machines)]


def machine_info():
    return {"cpu": machine.describe(), "cores": os.cpu_count(),
            "python": platform.python_version()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=None,
                        help="Override every config's train.steps (shorter tables).")
    parser.add_argument("--no_twins", action="store_true")
    parser.add_argument("--ssgan_variants", default="",
                        help=f"Comma-separated subset of {', '.join(SSGAN_VARIANTS)}.")
    parser.add_argument("--render", action="store_true", help="Only rewrite the .md.")
    parser.add_argument("--note", default="", help="A line about the machine's load.")
    args = parser.parse_args()
    if args.worker:
        _worker_main(args.worker)
        return
    json_path = os.path.join(RESULTS, "fashion_mnist.json")
    results = read_results(json_path)
    if not args.render:
        families = [f for f in args.families.split(",") if f]
        unknown = sorted(set(families) - set(FAMILIES))
        if unknown:
            parser.error(f"unknown --families {unknown}; choose from {', '.join(FAMILIES)}")
        seeds = [int(s) for s in args.seeds.split(",")]
        variants = [v for v in args.ssgan_variants.split(",") if v]
        if set(variants) - set(SSGAN_VARIANTS):
            parser.error(f"unknown --ssgan_variants; choose from {', '.join(SSGAN_VARIANTS)}")
        jobs = jobs_for(families, seeds, args.steps, not args.no_twins, variants)
        results = run_jobs(jobs, results, json_path, args.note, render)
    write_results(json_path, results, render)


def read_results(json_path):
    """The runs recorded in `json_path` (none if it does not exist)."""
    if not os.path.exists(json_path):
        return []
    with open(json_path) as f:
        return json.load(f)["runs"]


def run_jobs(jobs, results, json_path, note, render_fn):
    """Runs each job in its own process (`run_job`); its row replaces the same job's.

    The JSON and its Markdown (`render_fn(runs)`) are rewritten after every job,
    so a table can be stopped and continued. Returns the updated runs.
    """
    machine = dict(machine_info(), note=note)
    for job in jobs:
        print(f"running {job['name']} ({job['framework']}) ...", flush=True)
        out = run_job(job)
        out["machine"] = machine
        print(f"  fid={out.get('fid')} report={out.get('report')} "
              f"train={out['train_seconds']:.0f}s", flush=True)
        results = [r for r in results if r["job"] != job] + [out]
        write_results(json_path, results, render_fn)
    return results


def variant_parser(doc):
    """The flags every variant table of these configs shares: `--seeds`, `--steps`,
    `--note` and `--render` (tools/ema_table.py, precision_table.py,
    spectral_norm_table.py); each tool adds its own."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--note", default="", help="A line about the machine's load.")
    parser.add_argument("--render", action="store_true", help="Only rewrite the .md.")
    return parser


def run_variant_table(json_path, args, make_jobs, render_fn):
    """Runs `make_jobs(seeds)` (unless `--render`), adding them to the results, and
    rewrites `json_path` and its .md."""
    results = read_results(json_path)
    if not args.render:
        jobs = make_jobs([int(s) for s in args.seeds.split(",")])
        results = run_jobs(jobs, results, json_path, args.note, render_fn)
    write_results(json_path, results, render_fn)


def write_results(json_path, results, render_fn):
    os.makedirs(os.path.dirname(json_path), exist_ok=True)
    with open(json_path, "w") as f:
        json.dump({"runs": results}, f, indent=1, default=float)
    with open(json_path[:-5] + ".md", "w") as f:
        f.write(render_fn(results))


if __name__ == "__main__":
    main()
