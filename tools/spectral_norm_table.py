"""Spectral normalisation as the paper defines it, against Keras' layer, on Fashion-MNIST.

Trains `configs/dcgan_fashion_mnist.yaml` as an SN-GAN discriminator (every D
layer spectrally normalised, no batch norm in D, hinge loss; Miyato et al.
2018) twice per seed: with ganzoo's `SpectralNormalization` (the layer computes
with W / sigma and the gradient goes through sigma, the paper's eq. 12) and
with `keras.layers.SpectralNormalization` (the kernel is overwritten by
W / sigma before each training call, the gradient taken at those weights
without the sigma term), which ganzoo used before. Same seeds, data, steps and
everything else; scored as `tools/fashion_mnist_table.py` scores its rows
(fmnist-FID of 10,000 samples against the 10,000 test images, float32).

    python tools/spectral_norm_table.py --steps 2000 --seeds 0,1,2

Writes `tools/results/spectral_norm.{json,md}`; reruns add to the JSON.
"""

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist_table as table  # noqa: E402

RESULTS = os.path.join(table.RESULTS, "spectral_norm")
SNGAN = ["model.discriminator.spectral_norm=true", "model.discriminator.norm=none",
         "train.loss=hinge"]
ARMS = {"paper": "ganzoo (W / sigma, gradient through sigma)",
        "keras": "keras.layers.SpectralNormalization (projection)"}


def jobs_for(seeds, steps):
    jobs = []
    for seed in seeds:
        for arm in ARMS:
            job = table.variant_job("dcgan", f"dcgan_sn_{arm}", seed, steps, SNGAN)
            job["keras_spectral_norm"] = arm == "keras"
            jobs.append(job)
    return jobs


def _arm(run):
    return "keras" if run["job"].get("keras_spectral_norm") else "paper"


def render(runs):
    lines = ["# Spectral normalisation on Fashion-MNIST: the paper's against Keras' layer", "",
             "Protocol: configs/dcgan_fashion_mnist.yaml with " + ", ".join(f"`{o}`" for o in SNGAN)
             + " (an SN-GAN discriminator), float32, one run per seed and arm; scored as in "
             "tools/results/fashion_mnist.md (fmnist-FID: the shipped classifier's features, "
             "**not comparable with Inception-FID**). Arms: " + "; ".join(
                 f"`{k}`: {v}" for k, v in ARMS.items()) + ".", "",
             "| steps | seed | arm | fmnist-FID | KID | precision | recall | classes | train s |",
             "|---|---|---|---|---|---|---|---|---|"]
    groups = {}
    for run in sorted(runs, key=lambda r: (r["steps"], r["job"]["seed"], _arm(r))):
        arm = _arm(run)
        groups.setdefault((run["steps"], arm), []).append(run["fid"])
        lines.append(f"| {run['steps']} | {run['job']['seed']} | {arm} | {run['fid']:.1f} | "
                     f"{run['kid']:.1f} | {run['precision']:.2f} | {run['recall']:.2f} | "
                     f"{run['classes_covered']} | {run['train_seconds']:.0f} |")
    lines += ["", "Mean fmnist-FID over seeds (± standard deviation):", ""]
    for (steps, arm), fids in sorted(groups.items()):
        spread = f" ± {statistics.stdev(fids):.1f}" if len(fids) > 1 else ""
        lines.append(f"- {steps} steps, {arm}: {statistics.mean(fids):.1f}{spread} "
                     f"({len(fids)} seeds)")
    lines += [""] + table.machine_lines(runs)
    return "\n".join(lines) + "\n"


def main():
    args = table.variant_parser(__doc__).parse_args()
    table.run_variant_table(RESULTS + ".json", args, lambda seeds: jobs_for(seeds, args.steps),
                            render)


if __name__ == "__main__":
    main()
