"""Times FID at Inception scale: the eigh route of ganzoo vs scipy's sqrtm route.

Two sets of 10,000 x 2,048 random float32 activations (the size of a standard
FID evaluation on pool3 features). Times, as the median of `--repeats` interleaved runs:
the statistics (mean and covariance of both sets), `frechet_distance` by
symmetric eigen-decompositions, and pytorch-fid's route
(`scipy.linalg.sqrtm(S1 @ S2)`, real part). Writes
`tools/results/benchmark_fid.json` and prints a Markdown table row.

    python tools/benchmark_fid.py                 # ~1 minute on 2 idle CPU cores
    python tools/benchmark_fid.py --blas_threads 1   # steadier on a busy machine
"""

import argparse
import contextlib
import json
import os
import pathlib
import platform
import statistics
import time

import numpy as np
import scipy
import scipy.linalg
from threadpoolctl import threadpool_limits

from ganzoo.metrics.frechet import frechet_distance, mean_and_covariance

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "benchmark_fid.json"


def fid_scipy_sqrtm(mu1, sigma1, mu2, sigma2):
    """pytorch-fid's formula: trace of `sqrtm` of the non-symmetric product."""
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2)
                 - 2.0 * np.trace(np.real(covmean)))


def median_times(fns, repeats):
    """Median wall and CPU seconds of each function.

    Runs are interleaved (a, b, a, b, ...) so that load from other processes on
    a shared machine hits every route alike; CPU time (all threads of this
    process) is reported too, since it barely depends on that load.

    Returns:
        `(list of median wall seconds, list of median CPU seconds, list of last results)`.
    """
    wall, cpu = [[] for _ in fns], [[] for _ in fns]
    results = [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start, start_cpu = time.perf_counter(), time.process_time()
            results[i] = fn()
            wall[i].append(time.perf_counter() - start)
            cpu[i].append(time.process_time() - start_cpu)
    return ([statistics.median(t) for t in wall], [statistics.median(t) for t in cpu],
            results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=2_048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--blas_threads", type=int, default=None,
        help="Cap BLAS/LAPACK threads (default: all). On an oversubscribed machine "
             "spinning OpenBLAS threads make eigh and sqrtm 10-100x slower; use 1 there.")
    args = parser.parse_args()
    limit = (threadpool_limits(args.blas_threads, user_api="blas")
             if args.blas_threads else contextlib.nullcontext())
    with limit:
        run(args)


def run(args):
    """Runs the timings for parsed `args` and writes the JSON."""
    rng = np.random.default_rng(0)
    set1 = rng.standard_normal((args.num, args.dim), dtype=np.float32)
    set2 = 1.1 * rng.standard_normal((args.num, args.dim), dtype=np.float32) + 0.05

    load_before = os.getloadavg()[0]
    (stats_s,), (stats_cpu,), ((stats1, stats2),) = median_times(
        [lambda: (mean_and_covariance(set1), mean_and_covariance(set2))], args.repeats)
    (eigh_s, sqrtm_s), (eigh_cpu, sqrtm_cpu), (fid_eigh, fid_sqrtm) = median_times(
        [lambda: frechet_distance(*stats1, *stats2),
         lambda: fid_scipy_sqrtm(*stats1, *stats2)], args.repeats)

    result = {
        "num_samples": args.num,
        "dim": args.dim,
        "repeats": args.repeats,
        "blas_threads": args.blas_threads or "all",
        "statistics_seconds": round(stats_s, 3),
        "eigh_seconds": round(eigh_s, 3),
        "sqrtm_seconds": round(sqrtm_s, 3),
        "speedup": round(sqrtm_s / eigh_s, 2),
        "eigh_total_seconds": round(stats_s + eigh_s, 3),
        "statistics_cpu_seconds": round(stats_cpu, 3),
        "eigh_cpu_seconds": round(eigh_cpu, 3),
        "sqrtm_cpu_seconds": round(sqrtm_cpu, 3),
        "speedup_cpu": round(sqrtm_cpu / eigh_cpu, 2),
        "fid_eigh": fid_eigh,
        "fid_sqrtm": fid_sqrtm,
        "relative_difference": abs(fid_eigh - fid_sqrtm) / abs(fid_sqrtm),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "cpu_count": os.cpu_count(),
        # Above cpu_count, other processes share the cores: absolute times inflate.
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "machine": platform.machine(),
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("| N x D | BLAS threads | statistics s (CPU s) | FID eigh s (CPU s) "
          "| FID sqrtm s (CPU s) | speed-up | rel. diff | load |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.num} x {args.dim} | {result['blas_threads']} "
          f"| {stats_s:.2f} ({stats_cpu:.2f}) | {eigh_s:.2f} ({eigh_cpu:.2f}) "
          f"| {sqrtm_s:.2f} ({sqrtm_cpu:.2f}) | {sqrtm_s / eigh_s:.1f}x "
          f"| {result['relative_difference']:.1e} | {load_before:.1f} |")


if __name__ == "__main__":
    main()
