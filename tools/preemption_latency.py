"""Preemption latency of `python -m ganzoo.train`: signal -> checkpoint saved, signal -> exit.

Issue 18, item 1: on SIGTERM (or SIGINT) a run finishes its current step,
saves a checkpoint there, records the signal in run.json and exits with status
75, within 20 s for the shipped configs (a cluster's grace period is typically
30 s). For each config (default: every shipped `configs/*_digits.yaml`) this
starts the real CLI in a fresh process with a probe callback that prints each
step it starts and completes with the time, waits until `--after` steps are
done (past tracing and the first steps), and sends the signal as the next
step starts: about the worst case, since that whole step still runs (TensorFlow
holds the main thread; Python's handler runs once the step returns) before
the run stops after it. Reported:

- step time: median interval between the probe's lines;
- signal -> saved: `run.json` `ended.seconds_after_signal`, which the process
  writes once the checkpoint at the stopping step is on disk (fsynced and
  renamed) and the signal recorded;
- signal -> "Stopped" line: the CLI's last message, after the lock is released;
- signal -> exit: until the process has ended (the parent's `wait`);
- exit status, and whether the checkpoint's step is the last completed step
  (no lost work).

The probe only prints; it changes nothing that is trained. Run directories go
to a temporary folder, deleted afterwards. The machine is shared: the 1-minute
load average is recorded before each run. Results:
`tools/results/preemption.{json,md}`.

Usage:
    python tools/preemption_latency.py                   # 8 digits configs x 2 (~10 min, 2 cores)
    python tools/preemption_latency.py --configs configs/dcgan_digits.yaml --signal INT
"""

import argparse
import glob
import json
import os
import platform
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from results_name import results_name  # tools/ is sys.path[0] for a script

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
RESULTS = os.path.join(TOOLS, "results")
PROBE = re.compile(r"^probe: (begin|step) (\d+) ([\d.]+)$")
TARGET_S = 20.0


def child(cli_args):
    """The CLI with a probe: a line as each step begins (steps done so far) and ends."""
    import keras

    from ganzoo import train, train_lib

    class Probe(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            step = int(self.model.g_optimizer.iterations.numpy())
            print(f"probe: begin {step} {time.time():.4f}", flush=True)

        def on_train_batch_end(self, batch, logs=None):
            step = int(self.model.g_optimizer.iterations.numpy())
            print(f"probe: step {step} {time.time():.4f}", flush=True)

    run = train_lib.run
    train_lib.run = lambda config, model_dir, **kw: run(config, model_dir,
                                                        extra_callbacks=[Probe()])
    sys.argv = ["ganzoo.train", *cli_args]
    train.run()


def measure(config, model_dir, after, sig, timeout):
    """One run of `config`, signalled after `after` completed steps."""
    load = os.getloadavg()[0]
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", "--", f"--config={config}",
         f"--model_dir={model_dir}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    lines = queue.Queue()

    def read():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    steps, stamps, sent, stopped, tail = [], [], None, None, []
    deadline = time.time() + timeout
    while (line := lines.get(timeout=max(1.0, deadline - time.time()))) is not None:
        line = line.rstrip("\n")
        tail = [*tail[-20:], line]
        if (m := PROBE.match(line)) and m.group(1) == "step":
            steps.append(int(m.group(2)))
            stamps.append(float(m.group(3)))
        elif m and int(m.group(2)) == after and sent is None:  # step after + 1 starts
            sent = time.time()
            proc.send_signal(sig)
        elif line.startswith("Stopped by") and stopped is None:
            stopped = time.time()
    code = proc.wait(timeout=max(1.0, deadline - time.time()))
    ended_at = time.time()
    if sent is None:
        raise RuntimeError(f"{config}: ended after {len(steps)} steps, before the signal:\n"
                           + "\n".join(tail))
    with open(os.path.join(model_dir, "run.json")) as f:
        ended = json.load(f).get("ended", {})
    intervals = sorted(b - a for a, b in zip(stamps[1:], stamps[2:]))  # not the traced first
    saved = ended.get("checkpoint")
    row = {"config": os.path.basename(config), "exit_status": code,
           "signal": signal.Signals(sig).name, "signalled_during_step": after + 1,
           "step_s": intervals[len(intervals) // 2] if intervals else None,
           "signal_to_saved_s": ended.get("seconds_after_signal"),
           "signal_to_stopped_line_s": stopped - sent if stopped else None,
           "signal_to_exit_s": ended_at - sent, "saved_step": ended.get("step"),
           "last_completed_step": max(steps),
           "checkpoint_exists": bool(saved and os.path.exists(saved)),
           "ended_reason": ended.get("reason"), "load_average_1min": load}
    row["no_lost_work"] = (row["saved_step"] == row["last_completed_step"]
                           and row["checkpoint_exists"])
    if code != 75:
        row["tail"] = tail
    return row


def _stats(values):
    values = [float(v) for v in values if v is not None]
    if not values:
        return None
    return {"mean": statistics.fmean(values), "max": max(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def write(args, rows):
    import tensorflow as tf

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "tensorflow": tf.__version__,
            "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "machine": platform.machine(), "git_head": commit, "after_steps": args.after,
            "signal": args.signal, "repeats": args.repeats, "target_s": TARGET_S,
            "load_average_at_end": list(os.getloadavg()),
            "note": "shared machine: other engineers' jobs ran at the same time (see the "
                    "per-run 1-minute load averages)"}
    summary = {}
    for name in dict.fromkeys(r["config"] for r in rows):
        mine = [r for r in rows if r["config"] == name]
        summary[name] = {key: _stats([r[key] for r in mine]) for key in
                         ("step_s", "signal_to_saved_s", "signal_to_stopped_line_s",
                          "signal_to_exit_s", "load_average_1min")}
        summary[name]["exit_statuses"] = sorted({r["exit_status"] for r in mine})
        summary[name]["no_lost_work"] = all(r["no_lost_work"] for r in mine)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, args.results_name + ".json"), "w") as f:
        json.dump({"meta": meta, "summary": summary, "runs": rows}, f, indent=1)

    def cell(s, digits=2):
        if s is None:
            return "-"
        return f"{s['mean']:.{digits}f}" + (f" ± {s['std']:.{digits}f}" if s["n"] > 1 else "")

    worst = max((r["signal_to_exit_s"] for r in rows), default=float("nan"))
    lines = [
        "# Preemption latency: signal -> checkpoint saved -> exit",
        "",
        f"`python tools/preemption_latency.py`, {meta['date']}, {meta['cpu_count']} CPU cores "
        f"**shared with other engineers' jobs** (1-minute load averages below; "
        f"{meta['load_average_at_end'][0]:.1f} at the end), TF {meta['tensorflow']}, ganzoo at "
        f"{meta['git_head']} plus the working tree. `python -m ganzoo.train --config=CONFIG` "
        f"in a fresh process, SIG{args.signal} sent as step {args.after + 1} starts (that "
        f"whole step runs before the stop), {args.repeats} run(s) per config; seconds, "
        "mean ± std. Saved: run.json's `ended.seconds_after_signal`, written once the "
        "checkpoint is fsynced and renamed. Target: exit within "
        f"{TARGET_S:.0f} s. Slowest exit: {worst:.2f} s.",
        "",
        "| config | step | signal -> saved | signal -> \"Stopped\" line | signal -> exit | "
        "exit status | saved step = last completed | load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        loads = s["load_average_1min"]
        lines.append(
            f"| {name} | {cell(s['step_s'], 3)} | {cell(s['signal_to_saved_s'])} | "
            f"{cell(s['signal_to_stopped_line_s'])} | {cell(s['signal_to_exit_s'])} | "
            f"{', '.join(map(str, s['exit_statuses']))} | "
            f"{'yes' if s['no_lost_work'] else 'NO'} | {loads['mean']:.1f} |")
    with open(os.path.join(RESULTS, args.results_name + ".md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+",
                        default=sorted(glob.glob(os.path.join(REPO, "configs", "*_digits.yaml"))))
    parser.add_argument("--after", type=int, default=20, help="Completed steps before the signal.")
    parser.add_argument("--signal", choices=["TERM", "INT"], default="TERM")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=600, help="Seconds per run, at most.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    args.results_name = results_name(parser, args, "preemption",
                                     ["configs", "after", "signal", "repeats"])
    if args.child:
        child([a for a in rest if a != "--"])
        return
    sig = getattr(signal, f"SIG{args.signal}")
    root = tempfile.mkdtemp(prefix="ganzoo_preemption_")
    rows = []
    try:
        for i in range(args.repeats):
            for config in args.configs:
                model_dir = os.path.join(root, f"{os.path.basename(config)}-{i}")
                row = measure(config, model_dir, args.after, sig, args.timeout)
                shutil.rmtree(model_dir, ignore_errors=True)
                rows.append(row)
                print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                  for k, v in row.items() if k != "tail"}), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    write(args, rows)
    print(open(os.path.join(RESULTS, args.results_name + ".md")).read())


if __name__ == "__main__":
    main()
