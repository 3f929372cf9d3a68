"""Two loopback workers vs one process, with 1 and with 2 intra-op threads per worker.

Trains the tiny DCGAN of `tests/test_multi_worker.py` (plain SGD, global batch
16, synchronized batch norm) for `--steps` steps on 2 workers started by
`tools/launch_local.py`, and once in this process on the same global batch, and
reports the relative error of each network's update (`||u_2w - u_1p|| / ||u_1p||`,
the test's measure; its tolerance is 1e-3) for each thread count. The launcher
gives each worker cores // workers threads unless `TF_NUM_INTRAOP_THREADS` is set;
this tool sets it explicitly for each case.

    python tools/multi_worker_threads.py            # writes tools/results/multi_worker.{json,md}

One table per CPU type: a run replaces its own host's and keeps the others.
"""

import argparse
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "tools", "results")


def measure(threads, steps, work):
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import pathlib

    import test_multi_worker as t

    tmp = pathlib.Path(work) / f"threads_{threads}"
    tmp.mkdir(parents=True)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)  # inherited by the workers
    launch = t._Launch(tmp / "run", steps=steps, checkpoint_every=2,
                       extra=[f"--weights_out={tmp}/weights_{{task}}.npz"])
    reference = t._reference(tmp, steps=steps, checkpoint_every=2)
    if launch.wait() != 0:
        raise RuntimeError(launch.output()[-3000:])
    (w0, _), (w1, _) = t._worker_results(tmp)
    return {"threads_per_worker": threads, "steps": steps,
            "update_error": t._update_errors(reference, w0),
            "workers_identical": all((a == b).all() for a, b in zip(w0, w1, strict=True))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=1)
    args = parser.parse_args()
    if args.threads:  # one case per process: TensorFlow reads the variable once
        with tempfile.TemporaryDirectory() as work:
            print("RESULT " + json.dumps(measure(args.threads, args.steps, work), default=float))
        return
    import subprocess

    rows = []
    for threads in (1, 2):
        env = dict(os.environ, TF_NUM_INTRAOP_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL="3")
        out = subprocess.run([sys.executable, __file__, f"--threads={threads}",
                              f"--steps={args.steps}"], env=env, capture_output=True, text=True,
                             cwd=ROOT)
        line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
        if out.returncode or not line:
            raise RuntimeError(out.stderr[-3000:])
        rows.append(json.loads(line[-1][len("RESULT "):]))
        print(rows[-1], flush=True)
    from fashion_mnist_table import machine_info  # this script's folder is on sys.path

    host = {"machine": machine_info(), "steps": args.steps, "rows": rows, "tolerance": 1e-3}
    path = os.path.join(RESULTS, "multi_worker.json")
    hosts = [h for h in read_hosts(path) if h["machine"]["cpu"] != host["machine"]["cpu"]]
    hosts.append(host)
    os.makedirs(RESULTS, exist_ok=True)
    with open(path, "w") as f:
        json.dump({"hosts": hosts}, f, indent=1)
    with open(os.path.join(RESULTS, "multi_worker.md"), "w") as f:
        f.write(render(hosts))


def read_hosts(path):
    """The recorded hosts, one entry per CPU type (the first file held one run, keyed by
    a CPU name without family and model)."""
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return []
    if "hosts" in saved:
        return saved["hosts"]
    return [{"steps": 1, **saved}]


def render(hosts):
    lines = ["# Two workers vs one process: update error by intra-op threads per worker", "",
             "Tiny DCGAN of tests/test_multi_worker.py, plain SGD, global batch 16, "
             "synchronized batch norm. Relative error of each group's update against one "
             "process on the same global batch (the test's tolerance: 1e-3). One table per "
             "CPU type (`python tools/multi_worker_threads.py` replaces its own host's)."]
    for host in hosts:
        m = host["machine"]
        cpu = m["cpu"] if "family" in m["cpu"] else (
            f"{m['cpu']} (family and model not recorded: the first run, 2026-12-02)")
        lines += ["", f"## {cpu}, {m.get('cores', '?')} cores, {host['steps']} step(s)", "",
                  "| threads per worker | generator | discriminator | batch-norm statistics | "
                  "workers identical |", "|---|---|---|---|---|"]
        for r in host["rows"]:
            e = r["update_error"]
            lines.append(f"| {r['threads_per_worker']} | {e['generator']:.1e} | "
                         f"{e['discriminator']:.1e} | {e['statistics']:.1e} | "
                         f"{r['workers_identical']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
