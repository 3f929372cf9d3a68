"""The streamed image folder (`--dataset=folder:PATH`): memory, first batch, throughput.

Issue 14, item 7. Two folders are written into `--root` (default under /tmp,
never the repository) and deleted afterwards unless `--keep`:

- `fmnist60k/`: the 60,000 Fashion-MNIST training images
  (`ganzoo.data.idx.idx_arrays("fashion_mnist", "train")`) as 28x28 grey PNGs,
  one sub-folder per class, so the sorted file order is sorted by class;
- `rgb200k/`: 200,000 generated 64x64 RGB PNGs (smooth random colour fields
  plus pixel noise, about 10 KB each, close to a 64 px face crop in size).

Each measurement is a fresh subprocess (so its peak RSS is its own):

- `stream` / `cache` / `before`: `load_folder` with `cache=False`, with
  `cache=True`, or the in-memory loader this replaced (`git show
  HEAD:ganzoo/data/folder.py` when it is still the old one, else `--before`);
  then `data.train_pipeline(ds, 64, seed=0)`. Reported: load time (listing and
  headers), time to the first batch (from the start of loading), peak RSS
  minus the RSS after importing TensorFlow, and examples/s and CPU us per
  example over `--batches` batches after 20 warm-up batches (for `cache`,
  after one full epoch that fills it; its first epoch is timed too).
  `stream-cold` first evicts the folder from the page cache
  (`posix_fadvise(DONTNEED)` per file), as after a reboot.
- `dcgan`: images/s of the DCGAN training step (ganzoo's default networks,
  width 64, batch 64, one D and one G update, as in `configs/dcgan_fashion_mnist.yaml`)
  on a fixed in-memory batch: what the pipeline has to feed.
- Class mix: distinct classes in each of the first 500 training batches of
  64 from the class-sorted 60k folder, beside what the old 10,000-example
  shuffle buffer over the same sorted order gives.

The machine is shared: the 1-minute load average is recorded before each
measurement; CPU us per example is the load-independent number.

Usage:
    python tools/benchmark_folder.py                # both folders (~15 min on 2 cores)
    python tools/benchmark_folder.py --rgb_images 20000 --keep
"""

import argparse
import importlib.util
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from results_name import results_name  # tools/ is sys.path[0] for a script

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
RESULTS = os.path.join(TOOLS, "results")
BATCH = 64
WARMUP_BATCHES = 20
HEADROOM = 5.0  # The pipeline must deliver this many times what the step consumes.


# ------------------------------------------------------------------ folders
def make_fmnist(root):
    """Writes the Fashion-MNIST training split as `root/<k>_<name>/<index>.png`."""
    import numpy as np
    from PIL import Image

    from ganzoo.data import idx

    images, labels = idx.idx_arrays("fashion_mnist", "train")
    names = idx.DATASETS["fashion_mnist"][1]
    for k, name in enumerate(names):
        os.makedirs(os.path.join(root, f"{k}_{name.replace('/', '-')}"), exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        k = int(label)
        Image.fromarray(np.asarray(image)).save(
            os.path.join(root, f"{k}_{names[k].replace('/', '-')}", f"{i:05d}.png"))
    return len(labels)


def _write_rgb(job):
    import numpy as np
    from PIL import Image

    root, start, stop = job
    rng = np.random.default_rng(start)
    for i in range(start, stop):
        coarse = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        smooth = np.asarray(coarse.resize((64, 64), Image.Resampling.BICUBIC), np.float32)
        pixels = np.clip(smooth + rng.normal(0, 4, smooth.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(os.path.join(root, f"{i:06d}.png"))
    return stop - start


def make_rgb(root, n, processes):
    """Writes `n` generated 64x64 RGB PNGs into `root` (flat: unlabelled)."""
    import multiprocessing

    os.makedirs(root, exist_ok=True)
    step = 2000
    jobs = [(root, s, min(s + step, n)) for s in range(0, n, step)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return sum(pool.imap_unordered(_write_rgb, jobs))


def evict(root):
    """Drops the folder's files from the page cache (clean pages only: sync first)."""
    os.sync()
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


# ------------------------------------------------------------------ children
def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class _PeakRss:
    """The largest RSS seen every 20 ms from now on (`ru_maxrss` would include
    TensorFlow's import, whose transient peak exceeds a streamed run's)."""

    def __init__(self):
        import threading

        self.peak, self._stop = _rss_mb(), False
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        while not self._stop:
            self.peak = max(self.peak, _rss_mb())
            time.sleep(0.02)

    def stop(self):
        self._stop = True
        self._thread.join()
        return max(self.peak, _rss_mb())


def pipeline_child(args):
    """Loads a folder, times its training pipeline; prints JSON."""
    import numpy as np
    import tensorflow as tf

    from ganzoo import data

    if args.variant == "before":
        spec = importlib.util.spec_from_file_location("folder_before", args.before)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        load = module.load_folder
    else:
        from ganzoo.data import folder

        cache = {"stream": False, "stream-cold": False, "cache": True}[args.variant]

        def load(path):
            return folder.load_folder(path, cache=cache)

    if args.variant == "stream-cold":
        evict(args.folder)
    base_rss, peak = _rss_mb(), _PeakRss()
    start = time.perf_counter()
    ds, spec = load(args.folder)
    loaded = time.perf_counter() - start
    it = iter(data.train_pipeline(ds, BATCH, seed=0))
    _, first_labels = next(it)
    first = time.perf_counter() - start
    labels = [first_labels.numpy()]
    result = {"examples": spec.num_examples, "shape": list(spec.shape), "load_s": loaded,
              "first_batch_s": first}
    if args.variant == "cache":
        fill_start, fill_cpu = time.perf_counter(), time.process_time()
        for _ in range(spec.num_examples // BATCH):
            labels.append(next(it)[1].numpy())
        result["fill_epoch_examples_per_s"] = (
            spec.num_examples // BATCH * BATCH / (time.perf_counter() - fill_start))
        result["fill_epoch_cpu_us_per_example"] = (
            (time.process_time() - fill_cpu) / (spec.num_examples // BATCH * BATCH) * 1e6)
    for _ in range(WARMUP_BATCHES):
        labels.append(next(it)[1].numpy())
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.batches):
        labels.append(next(it)[1].numpy())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    result.update({
        "examples_per_s": args.batches * BATCH / wall,
        "cpu_us_per_example": cpu / (args.batches * BATCH) * 1e6,
        "timed_batches": args.batches,
    })
    top = peak.stop()
    result.update({"rss_after_import_mb": base_rss, "peak_rss_mb": top,
                   "peak_rss_over_import_mb": top - base_rss,
                   "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    if spec.num_classes:
        result["classes_per_batch"] = [int(len(np.unique(y))) for y in labels[:500]]
    reader = getattr(ds, "ganzoo_folder_reader", None)
    if reader is not None:
        result["cached"] = reader.cached
        result["decode_failures"] = len(reader.failed_files())
    if args.variant in ("stream", "before"):
        from ganzoo import validation

        # `train_lib.run` scans this many examples before its first step.
        start = time.perf_counter()
        validation.check_dataset(ds, spec)
        result["check_dataset_s"] = time.perf_counter() - start
    del tf
    print(json.dumps(result))


def dcgan_child(args):
    """Images/s of the DCGAN training step on a fixed batch; prints JSON."""
    import numpy as np
    import tensorflow as tf

    from ganzoo.config import ModelConfig
    from ganzoo.data import DataSpec
    from ganzoo.registry import get_model

    spec = DataSpec("bench", (args.size, args.size, args.channels), 0)
    gan = get_model("dcgan").from_data_spec(spec, ModelConfig(width=64), seed=0)
    gan.compile()
    x = np.random.default_rng(0).uniform(-1, 1, (BATCH, *spec.shape)).astype(np.float32)
    batches = tf.data.Dataset.from_tensors((x, np.zeros(BATCH, np.int32))).repeat()
    gan.fit(batches, steps_per_epoch=3, epochs=1, verbose=0)  # Trace and warm up.
    rates, cpu = [], []
    for _ in range(3):
        start, used = time.perf_counter(), time.process_time()
        gan.fit(batches, steps_per_epoch=args.steps, epochs=1, verbose=0)
        rates.append(args.steps * BATCH / (time.perf_counter() - start))
        cpu.append((time.process_time() - used) / (args.steps * BATCH) * 1e6)
    # The fastest repeat, the one least slowed by other jobs: the strictest demand.
    print(json.dumps({"images_per_s": max(rates), "all": rates, "steps": args.steps,
                      "cpu_us_per_image": min(cpu)}))


def buffer_class_mix(labels_sorted, batches, buffer=10_000, seed=0):
    """Distinct classes per batch when a sorted label stream goes through the
    10,000-example shuffle buffer the pipeline used before random access."""
    import numpy as np
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(labels_sorted).shuffle(buffer, seed=seed)
    ds = ds.repeat().batch(BATCH).take(batches)
    return [int(len(np.unique(y))) for y in ds.as_numpy_iterator()]


# ------------------------------------------------------------------ driver
def _child(argv, timeout=3600):
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True,
                         timeout=timeout, cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if out.returncode:
        raise RuntimeError(f"{argv} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["load_average_1min"] = load
    return result


def _before_loader(path):
    """The in-memory loader this change replaced, for the `before` rows."""
    if path:
        return path
    source = subprocess.run(["git", "show", "HEAD:ganzoo/data/folder.py"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout
    if "_decode_all" not in source:
        return None
    handle, path = tempfile.mkstemp(suffix="_folder_before.py")
    with os.fdopen(handle, "w") as f:
        f.write(source)
    return path


def _summary(classes):
    import numpy as np

    c = np.asarray(classes)
    return {"batches": len(c), "min": int(c.min()), "mean": float(c.mean()),
            "all_10": float((c == 10).mean()), "at_least_8": float((c >= 8).mean())}


def run(args):
    import numpy as np

    from ganzoo.data import idx

    root = args.root
    fmnist, rgb = os.path.join(root, "fmnist60k"), os.path.join(root, "rgb200k")
    made, before = {}, None
    try:
        if not os.path.isdir(fmnist):
            start = time.perf_counter()
            made["fmnist60k_s"] = (make_fmnist(fmnist), time.perf_counter() - start)
        if not os.path.isdir(rgb):
            start = time.perf_counter()
            made["rgb200k_s"] = (make_rgb(rgb, args.rgb_images, args.processes),
                                 time.perf_counter() - start)
        print("folders ready", made, flush=True)
        before = _before_loader(args.before)
        rows = {}
        plan = [("fmnist60k", fmnist, v) for v in ("stream", "stream-cold", "cache", "before")]
        plan += [("rgb200k", rgb, v) for v in ("stream", "stream-cold", "before")]
        for name, folder, variant in plan:
            if variant == "before" and (before is None or args.skip_before):
                continue
            argv = ["--child", "pipeline", "--folder", folder, "--variant", variant,
                    "--batches", str(args.batches), "--before", before or ""]
            rows[f"{name}/{variant}"] = _child(argv)
            print(name, variant, {k: v for k, v in rows[f"{name}/{variant}"].items()
                                  if k != "classes_per_batch"}, flush=True)
        steps = {28: 40, 64: 5}
        dcgan = {f"{s}x{s}x{c}": _child(["--child", "dcgan", "--size", str(s), "--channels",
                                         str(c), "--steps", str(steps[s])])
                 for s, c in ((28, 1), (64, 3))}
        print("dcgan", dcgan, flush=True)
        _, labels = idx.idx_arrays("fashion_mnist", "train")
        sorted_labels = np.sort(labels.astype(np.int64))
        mix = {"streamed folder (random access, full permutation per epoch)":
               _summary(rows["fmnist60k/stream"]["classes_per_batch"]),
               "before: shuffle buffer of 10,000 over the sorted files":
               _summary(buffer_class_mix(sorted_labels, 500))}
    finally:
        if before and before != args.before:
            os.remove(before)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    for row in rows.values():
        row.pop("classes_per_batch", None)
    write(args, rows, dcgan, mix, made)


def write(args, rows, dcgan, mix, made):
    import tensorflow as tf
    from PIL import __version__ as pillow

    meta = {"tensorflow": tf.__version__, "pillow": pillow, "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "machine": platform.machine(),
            "date": time.strftime("%Y-%m-%d"), "batch": BATCH, "timed_batches": args.batches,
            "generation_s": made}
    step = {"fmnist60k": dcgan["28x28x1"]["images_per_s"],
            "rgb200k": dcgan["64x64x3"]["images_per_s"]}
    step_cpu = {"fmnist60k": dcgan["28x28x1"]["cpu_us_per_image"],
                "rgb200k": dcgan["64x64x3"]["cpu_us_per_image"]}
    for key, row in rows.items():
        row["headroom_vs_dcgan_step"] = row["examples_per_s"] / step[key.split("/")[0]]
        row["cpu_headroom_vs_dcgan_step"] = step_cpu[key.split("/")[0]] / row["cpu_us_per_example"]
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, args.results_name + ".json"), "w") as f:
        json.dump({"meta": meta, "pipelines": rows, "dcgan_step": dcgan, "class_mix": mix}, f,
                  indent=1)
    lines = [
        "# Streamed image folder: memory, first batch, throughput",
        "",
        f"`python tools/benchmark_folder.py`, {meta['date']}, {meta['cpu_count']} CPU cores "
        f"(shared: load average in the last column), TF {meta['tensorflow']}, Pillow "
        f"{meta['pillow']}. Batch {BATCH}; throughput over {args.batches} batches of "
        "`data.train_pipeline` after 20 warm-up batches. Memory: peak RSS (sampled every "
        "20 ms) above the RSS after importing TensorFlow. `before`: the in-memory loader "
        "this replaced. "
        f"Headroom (needed: >= {HEADROOM:g}x): pipeline examples/s over the DCGAN step's "
        "images/s (its fastest repeat), and, independent of the machine's load, the step's "
        "CPU us per image over the pipeline's CPU us per example. `check` is "
        "`validation.check_dataset`, which `train_lib.run` runs (50,000 examples) before "
        "its first step.",
        "",
        "| folder | loader | load (s) | first batch (s) | check (s) | peak RSS (MB) "
        "| examples/s | CPU us/example | headroom | CPU headroom | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in rows.items():
        name, variant = key.split("/")
        check = f"{r['check_dataset_s']:.1f}" if "check_dataset_s" in r else "-"
        lines.append(
            f"| {name} ({r['examples']:,} x {'x'.join(map(str, r['shape']))}) | {variant} | "
            f"{r['load_s']:.1f} | {r['first_batch_s']:.1f} | {check} | "
            f"{r['peak_rss_over_import_mb']:,.0f} | {r['examples_per_s']:,.0f} | "
            f"{r['cpu_us_per_example']:.0f} | {r['headroom_vs_dcgan_step']:.0f}x | "
            f"{r['cpu_headroom_vs_dcgan_step']:.0f}x | {r['load_average_1min']:.1f} |")
    cache = rows.get("fmnist60k/cache")
    if cache:
        lines += ["", f"`cache` first epoch (decoding and filling): "
                  f"{cache['fill_epoch_examples_per_s']:,.0f} examples/s, "
                  f"{cache['fill_epoch_cpu_us_per_example']:.0f} CPU us/example."]
    lines += ["", "| DCGAN step (width 64, batch 64) | images/s | CPU us/image | load avg |",
              "|---|---|---|---|"]
    lines += [f"| {k} | {v['images_per_s']:,.0f} | {v['cpu_us_per_image']:,.0f} | "
              f"{v['load_average_1min']:.1f} |" for k, v in dcgan.items()]
    lines += ["", "Class mix of the first 500 training batches of 64, class-sorted 60k folder:", "",
              "| order | min classes | mean | all 10 | >= 8 |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['min']} | {v['mean']:.2f} | {v['all_10']:.1%} | "
              f"{v['at_least_8']:.1%} |" for k, v in mix.items()]
    with open(os.path.join(RESULTS, args.results_name + ".md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.path.join(tempfile.gettempdir(),
                                                       "ganzoo_folder_bench"))
    parser.add_argument("--rgb_images", type=int, default=200_000)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="Keep the generated folders.")
    parser.add_argument("--skip_before", action="store_true")
    parser.add_argument("--before", default="", help="Path of the old folder.py.")
    parser.add_argument("--child", choices=["pipeline", "dcgan"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--channels", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.results_name = results_name(parser, args, "folder_pipeline",
                                     ["rgb_images", "batches", "processes"])
    if args.child == "pipeline":
        pipeline_child(args)
    elif args.child == "dcgan":
        dcgan_child(args)
    else:
        run(args)


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    main()
