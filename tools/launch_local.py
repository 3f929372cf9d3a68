"""Runs a multi-worker ganzoo job on this machine: N processes on 127.0.0.1.

Each worker is `python -m ganzoo.train --strategy=multi_worker <your args>`
with its own `TF_CONFIG` (the same cluster of free loopback ports, its own task
index); worker 0 is the chief and writes the run directory. Their output is
streamed with a `[worker i]` prefix. If a worker fails, the others are stopped
(a `MultiWorkerMirroredStrategy` job cannot continue without it: the survivors
only fail later, in a collective); with `--max_restarts` the whole job is then
started again with the same `TF_CONFIG`s and resumes from the newest checkpoint,
losing at most the steps since it. Ctrl-C stops every worker.

Workers share this machine's cores: each gets `TF_NUM_INTRAOP_THREADS` =
cores // workers (at least 1), as torchrun sets `OMP_NUM_THREADS`, unless the
variable is already set. Besides avoiding oversubscription, this matters for
correctness: on one 2-core AMD EPYC host, 2 workers with 2 intra-op threads each
trained a DCGAN (synchronized batch norm) whose generator update differed from
one process's on the same global batch by 1.6% after one step (bit-identical
from run to run); with 1 thread each they agree to 1e-6 (tests/test_multi_worker.py;
the AVX-512 bf16 host showed no gap either way: tools/results/multi_worker.md). A
single process at batch 8 or 16 gives the same update with 1 or 2 threads, so the
difference is in TensorFlow's multi-worker collectives, not in ganzoo's step.

Examples:
    python tools/launch_local.py --num_workers=2 -- --model=dcgan --steps=200 \\
        --batch_size=64 --model_dir=runs/dcgan_mw
    python tools/launch_local.py --num_workers=2 --max_restarts=3 -- --steps=3000

Exit status: 0 when every worker succeeded, else the first failing worker's
status (1 if it died from a signal, 130 on Ctrl-C).
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

_PRINT_LOCK = threading.Lock()


def free_ports(count, host="127.0.0.1"):
    """`count` distinct TCP ports that are free on `host` right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_configs(addresses):
    """One `TF_CONFIG` JSON string per worker of a cluster of `host:port` addresses."""
    cluster = {"worker": list(addresses)}
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
            for i in range(len(addresses))]


def worker_command(module, args, python=sys.executable):
    """The command line of one worker; adds `--strategy=multi_worker` unless given."""
    args = list(args)
    if not any(a == "--strategy" or a.startswith("--strategy=") for a in args):
        args.append("--strategy=multi_worker")
    return [python, "-m", module, *args]


def worker_env(config, num_workers, environ=None, cores=None):
    """The environment of one worker: its `TF_CONFIG` and its share of the cores."""
    env = dict(os.environ if environ is None else environ, TF_CONFIG=config,
               PYTHONUNBUFFERED="1")
    if not env.get("TF_NUM_INTRAOP_THREADS"):
        cores = cores or os.cpu_count() or 1
        env["TF_NUM_INTRAOP_THREADS"] = str(max(1, cores // num_workers))
    return env


def _say(text):
    with _PRINT_LOCK:
        print(text, flush=True)


class Job:
    """N worker processes of one attempt, their log threads, and how to stop them."""

    def __init__(self, command, configs, attempt):
        self.procs, self.threads = [], []
        for index, config in enumerate(configs):
            env = worker_env(config, len(configs))
            # Own session: Ctrl-C reaches the launcher only, which stops workers in order.
            proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            _say(f"[launch] worker {index} started: pid {proc.pid}, attempt {attempt}")
            thread = threading.Thread(target=_stream, args=(proc, f"[worker {index}] "),
                                      daemon=True)
            thread.start()
            self.procs.append(proc)
            self.threads.append(thread)

    def wait(self, poll=0.2):
        """Waits until all succeed or one fails; returns (failed index or None, status)."""
        while True:
            codes = [p.poll() for p in self.procs]
            for index, code in enumerate(codes):
                if code is not None and code != 0:
                    return index, code
            if all(code == 0 for code in codes):
                return None, 0
            time.sleep(poll)

    def stop(self, grace=10.0):
        """SIGTERM to the workers still running, SIGKILL after `grace` seconds."""
        running = [p for p in self.procs if p.poll() is None]
        for p in running:
            _signal(p, signal.SIGTERM)
        deadline = time.time() + grace
        for p in running:
            try:
                p.wait(timeout=max(0.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                _signal(p, signal.SIGKILL)
                p.wait()
        for t in self.threads:
            t.join(timeout=5)


def _signal(proc, sig):
    try:
        os.killpg(proc.pid, sig)  # the worker and anything it started
    except (ProcessLookupError, PermissionError):
        pass


def _stream(proc, prefix):
    for line in iter(proc.stdout.readline, b""):
        _say(prefix + line.decode(errors="replace").rstrip("\n"))
    proc.stdout.close()


def launch(num_workers, args, module="ganzoo.train", max_restarts=0, host="127.0.0.1",
           ports=None):
    """Runs the job to completion; returns the exit status.

    Args:
        num_workers: int. Worker processes.
        args: list of str. Arguments for every worker (`--model_dir=...`, ...).
        module: str. Python module each worker runs.
        max_restarts: int. Restarts of the whole job after a worker fails.
        host: str. Address the workers listen on.
        ports: list of int or None. One port per worker; free ones if None.

    Returns:
        int. 0 on success, else the failing worker's exit status.
    """
    ports = ports or free_ports(num_workers, host)
    configs = tf_configs([f"{host}:{p}" for p in ports])
    command = worker_command(module, args)
    _say(f"[launch] {num_workers} workers on {host}:{','.join(map(str, ports))}: "
         f"{' '.join(command[1:])}")
    for attempt in range(1, max_restarts + 2):
        job = Job(command, configs, attempt)
        try:
            failed, code = job.wait()
        except KeyboardInterrupt:
            _say("[launch] interrupted: stopping every worker")
            job.stop(grace=5.0)
            return 130
        if failed is None:
            job.stop()
            _say("[launch] all workers finished")
            return 0
        _say(f"[launch] worker {failed} failed (exit status {code}); stopping the others")
        job.stop()
        if attempt <= max_restarts:
            _say(f"[launch] restarting the job ({attempt}/{max_restarts}); "
                 "it resumes from the newest checkpoint")
    return code if code > 0 else 1


def _stop_signal(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Arguments after `--` (and unknown ones) go to every worker.")
    parser.add_argument("--num_workers", type=int, default=2, help="Worker processes.")
    parser.add_argument("--max_restarts", type=int, default=0,
                        help="Restart the whole job this many times after a worker fails.")
    parser.add_argument("--module", default="ganzoo.train", help="Module each worker runs.")
    parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
    parser.add_argument("--ports", default=None,
                        help="Comma-separated port per worker (default: free ports).")
    options, unknown = parser.parse_known_args(argv)
    if options.num_workers < 1:
        parser.error("--num_workers must be at least 1")
    ports = [int(p) for p in options.ports.split(",")] if options.ports else None
    if ports and len(ports) != options.num_workers:
        parser.error("--ports needs one port per worker")
    # SIGINT explicitly too: a launcher started in the background of a script
    # inherits SIGINT ignored, yet must still stop its workers when told.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop_signal)
    return launch(options.num_workers, unknown + passthrough, module=options.module,
                  max_restarts=options.max_restarts, host=options.host, ports=ports)


if __name__ == "__main__":
    sys.exit(main())
