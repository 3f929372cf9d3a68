"""What the shipped Fashion-MNIST presets draw: one picture for the README.

    python tools/preset_gallery.py   # -> tools/results/presets_fashion_mnist.png

Two rows of ten samples per preset (`gan.generate(20, seed=0)`, exactly what
`python -m ganzoo.generate --model_dir=<preset> --num_images=20 --rows=2`
writes): for cgan and acgan the columns are the ten classes in order (their
default labels), for InfoGAN the ten values of its learned categorical code, for
the others independent samples. The preset's name and its card's fmnist-FID
(1,000 samples, as the README's preset table; not the results table's 10,000)
label each block.
"""

import argparse
import os

import numpy as np

TOOLS = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(TOOLS, "results", "presets_fashion_mnist.png")
PRESETS = ("dcgan_fashion_mnist", "wgan_gp_fashion_mnist", "cgan_fashion_mnist",
           "acgan_fashion_mnist", "infogan_fashion_mnist", "ssgan_fashion_mnist")
LABEL_WIDTH = 150  # pixels of text left of each block (after scaling)


def gallery(presets=PRESETS, scale=2, seed=0):
    """The picture as a uint8 RGB array."""
    from PIL import Image, ImageDraw

    import ganzoo
    from ganzoo import files, preset_dirs
    from ganzoo import images as images_lib

    blocks = []
    for name in presets:
        gan = ganzoo.from_preset(name, compile=False)
        grid = images_lib.image_grid(gan.generate(20, seed=seed), rows=2)
        grid = grid.repeat(scale, 0).repeat(scale, 1)
        if grid.shape[-1] == 1:
            grid = grid.repeat(3, -1)
        card = files.read_json(os.path.join(preset_dirs.preset_dir(name), "card.json")) or {}
        fid = card.get("evaluation", {}).get("metrics", {}).get("fid")
        label = Image.new("RGB", (LABEL_WIDTH, grid.shape[0]), "white")
        draw = ImageDraw.Draw(label)
        draw.text((6, grid.shape[0] // 2 - 14), name.replace("_fashion_mnist", ""), fill="black")
        if fid is not None:
            draw.text((6, grid.shape[0] // 2 + 2), f"fmnist-FID {fid:.0f} (1k)", fill="black")
        block = np.concatenate([np.asarray(label), grid], axis=1)
        blocks += [block, np.full((4, block.shape[1], 3), 255, np.uint8)]  # a white gap
    return np.concatenate(blocks[:-1], axis=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=OUT)
    parser.add_argument("--scale", type=int, default=2)
    args = parser.parse_args()
    from ganzoo import images as images_lib

    images_lib.write_png(args.out, gallery(scale=args.scale))
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
