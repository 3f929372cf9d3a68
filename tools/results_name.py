"""Where a measurement tool writes: its own results file, or one named after changed settings.

A tool's committed `tools/results/<name>.{json,md}` holds the run made with its
default settings, which the README quotes. A rerun with other settings (a
subset of configs, fewer images, other positions: a smoke test or a partial
rerun) writes `tools/results/<name>_<setting><value>....{json,md}` instead, so it
never replaces or half-replaces the quoted file.

Used by tools/preemption_latency.py, tools/benchmark_resume.py and
tools/benchmark_folder.py: with their defaults `results_name(parser, args,
"preemption", ["configs", "after", "signal", "repeats"])` is `"preemption"`, with
`--repeats 1` it is `"preemption_repeats1"`. tools/benchmark.py names its
sections with it (`settings_suffix`).
"""

import os
import re


def results_name(parser, args, name, settings):
    """`name`, or `name` plus `_<setting><value>` for each of `settings` whose value
    differs from the parser's default (file paths reduced to their base names)."""
    changed = []
    for key in settings:
        value, default = getattr(args, key), parser.get_default(key)
        if value != default:
            values = value if isinstance(value, list | tuple) else [value]
            text = "-".join(os.path.splitext(os.path.basename(str(v)))[0] for v in values)
            changed.append(key + re.sub(r"[^A-Za-z0-9._-]+", "", text)[:60])
    return "_".join([name, *changed])
