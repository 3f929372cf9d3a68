"""What CPU a measurement ran on, for the machine lines of tools/results/.

    python tools/machine.py   # this host's matmul rate -> tools/results/hosts.{json,md}
    python tools/machine.py --print   # describe() only: measures and writes nothing

Each run replaces the row of the same CPU description (one row per CPU type).

The model name alone does not tell hosts apart: two hosts that both call
themselves "AMD EPYC" were seen here, one with AVX-512 and bf16 (family 25
model 17, TensorFlow's fp32 matmul at 202-215 GFLOP/s on 2 cores) and one with
AVX2 only (family 25 model 1, 97 GFLOP/s; tools/results/hosts.md). `describe()`
adds the family, model and vector units.

Example:

>>> import machine
>>> machine.describe()
'AMD EPYC (family 25 model 1; AVX2, no AVX-512)'
"""

import platform

# /proc/cpuinfo flags that decide which oneDNN kernels run.
FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16")


def cpuinfo():
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def features(fields=None):
    """The `FEATURES` this CPU has, sorted."""
    fields = cpuinfo() if fields is None else fields
    return sorted(set(fields.get("flags", "").split()) & set(FEATURES))


def describe(fields=None):
    """`<model name> (family F model M; <vector units>)`."""
    fields = cpuinfo() if fields is None else fields
    name = fields.get("model name") or platform.processor() or "unknown CPU"
    have = set(features(fields))
    if "avx512f" in have:
        units = "AVX-512" + (" with bf16" if "avx512_bf16" in have else "")
        units += ", AMX" if "amx_tile" in have else ""
    else:
        units = ("AVX2" if "avx2" in have else "no AVX2") + ", no AVX-512"
    family = fields.get("cpu family")
    where = f"family {family} model {fields.get('model')}; " if family else ""
    return f"{name} ({where}{units})"


def grouped(pairs):
    """`{key: [label, ...]}` from `(key, label)` pairs: first-seen order, each label once per key.

    The tables' `Machine:` lines: rows are measured in pieces, on different hosts
    and under different loads, so each host (key) names the rows (labels) it ran.
    """
    groups = {}
    for key, label in pairs:
        labels = groups.setdefault(key, [])
        if label not in labels:
            labels.append(label)
    return groups


def of(run):
    """`(cpu, cores, note)` that a results row recorded under "machine" ("?" where absent)."""
    m = run.get("machine", {})
    return m.get("cpu", "?"), m.get("cores", "?"), m.get("note", "")


def matmul_gflops(size=2048, repeats=20, rounds=3):
    """TensorFlow's float32 matmul rate on this CPU (GFLOP/s, best of `rounds`)."""
    import time

    import tensorflow as tf

    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    product = tf.function(tf.autograph.experimental.do_not_convert(lambda: tf.matmul(a, b)))
    product().numpy()
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            c = product()
        c.numpy()
        rates.append(2 * size**3 * repeats / (time.perf_counter() - start) / 1e9)
    return max(rates)


def main():
    """Measures this host and records it in tools/results/hosts.{json,md} (one row per CPU)."""
    import argparse
    import json
    import os
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true",
                        help="Print describe() and the vector units; measure and write nothing.")
    if parser.parse_args().print:
        print(describe(), features())
        return

    results = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    path = os.path.join(results, "hosts.json")
    try:
        with open(path) as f:
            hosts = json.load(f)["hosts"]
    except (OSError, ValueError, KeyError):
        hosts = []
    row = {"cpu": describe(), "cores": os.cpu_count(), "features": features(),
           "matmul_fp32_gflops": round(matmul_gflops(), 1),
           "load_1min": round(os.getloadavg()[0], 2), "date": time.strftime("%Y-%m-%d %H:%M")}
    hosts = [h for h in hosts if h["cpu"] != row["cpu"]] + [row]
    with open(path, "w") as f:
        json.dump({"hosts": hosts}, f, indent=1)
    lines = ["# Hosts measured", "",
             "`python tools/machine.py`: TensorFlow float32 matmul, 2048 x 2048, best of 3 "
             "rounds of 20, all cores; the 1-min load before it.", "",
             "| CPU | cores | vector units | fp32 matmul GFLOP/s | load | date |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {h['cpu']} | {h['cores']} | {', '.join(h['features']) or '-'} | "
              f"{h['matmul_fp32_gflops']:.0f} | {h['load_1min']} | {h['date']} |" for h in hosts]
    with open(os.path.join(results, "hosts.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
