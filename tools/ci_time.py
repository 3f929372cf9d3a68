"""How long the README's test command takes, and where the time goes.

Runs `python -m pytest -q -n 2 --dist load --maxschedchunk 1 --durations=25`
(the README's command; CI adds `CI=true -rs`) in this checkout, or reads the
output of an earlier run (`--from_log`, e.g. a saved `.ci/run` log), and writes
`tools/results/ci_time.{json,md}`: wall time, tests passed/failed, the slowest
tests, the machine and its load, one run per CPU type (hosts differ: see
tools/machine.py). The budget is 15 minutes on 2 cores.

    python tools/ci_time.py                       # run the suite (20+ min on 2 cores)
    python tools/ci_time.py --from_log ci.log --note "fresh clone, .ci/run, idle"
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

import machine  # tools/machine.py (this script's folder is on sys.path)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "tools", "results")
COMMAND = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
           "--dist", "load", "--maxschedchunk", "1", "--durations=25"]
BUDGET_SECONDS = 15 * 60

_SUMMARY = re.compile(r"^=*\s*(?:(\d+) failed, )?(\d+) passed.* in ([\d.]+)s")
_DURATION = re.compile(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)")


def parse(text):
    """Summary and slowest tests from pytest's terminal output."""
    out = {"passed": None, "failed": 0, "seconds": None, "slowest": []}
    for line in text.splitlines():
        match = _SUMMARY.match(line.strip())
        if match:
            out.update(failed=int(match.group(1) or 0), passed=int(match.group(2)),
                       seconds=float(match.group(3)))
        match = _DURATION.match(line.strip())
        if match:
            out["slowest"].append({"seconds": float(match.group(1)), "phase": match.group(2),
                                   "test": match.group(3)})
    if out["seconds"] is None:
        raise ValueError("no pytest summary line ('N passed in Ss') in the output")
    return out


def render(result):
    lines = [
        f"## {_host(result)}",
        "",
        f"`{result['command']}` — {result['passed']} passed, {result['failed']} failed in "
        f"**{result['seconds']:.0f} s** (budget {BUDGET_SECONDS} s: "
        f"{'within' if result['seconds'] <= BUDGET_SECONDS else 'OVER'}).",
        "",
        f"Machine: {result['machine']}. {result.get('note', '')}",
        "",
        "| seconds | phase | test |",
        "|---|---|---|",
    ]
    lines += [f"| {d['seconds']:.0f} | {d['phase']} | `{d['test']}` |" for d in result["slowest"]]
    return "\n".join(lines) + "\n"


def _machine(load=True):
    text = f"{machine.describe()}, {os.cpu_count()} cores"
    return text + (f", load before {os.getloadavg()[0]:.2f}" if load else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from_log", default=None, help="Parse this pytest output instead.")
    parser.add_argument("--note", default="", help="How the run was made (clone, load, ...).")
    args = parser.parse_args()
    machine = _machine(load=not args.from_log)
    if args.from_log:
        with open(args.from_log, errors="replace") as f:
            text = f.read()
    else:
        start = time.time()
        proc = subprocess.run(COMMAND, cwd=ROOT, capture_output=True, text=True)
        text = proc.stdout + proc.stderr
        print(f"pytest exited {proc.returncode} after {time.time() - start:.0f} s")
    result = dict(parse(text), command=" ".join(["python", *COMMAND[1:]]), machine=machine,
                  note=args.note)
    results = [r for r in read_results() if _host(r) != _host(result)] + [result]
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "ci_time.json"), "w") as f:
        json.dump({"runs": results}, f, indent=1)
    with open(os.path.join(RESULTS, "ci_time.md"), "w") as f:
        f.write("# CI time: the README's test command\n\n" + "\n".join(map(render, results)))
    print(render(result))


def read_results():
    """The recorded runs, one per host (a new run replaces its host's)."""
    try:
        with open(os.path.join(RESULTS, "ci_time.json")) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return []
    return saved.get("runs", [saved])


def _host(result):
    """The CPU part of a machine line: runs on the same CPU type replace each other."""
    return result["machine"].split(", load before")[0]

if __name__ == "__main__":
    main()
