"""Exports a generator as a SavedModel that TF Serving can serve.

Layout: `<export_dir>` is one version directory of TF Serving's
`<model_base_path>/<name>/<version>/` convention. The `serving_default`
signature (method `tensorflow/serving/predict`) takes a named float32 `latent`
`[batch, latent_dim]` and returns named `images` in [-1, 1].
"""

import os
import shutil
import tempfile

import keras
import tensorflow as tf


def export_generator(gan, export_dir, overwrite=False):
    """Writes `gan.generator` as a SavedModel with a `serving_default` signature.

    Args:
        gan: a ganzoo `GAN`.
        export_dir: str. Target directory, e.g. `export/models/dcgan/1`.
        overwrite: bool. Replace an existing export; otherwise an existing
            non-empty directory is an error (an export is never lost silently).

    Returns:
        The export directory.

    Example:

    >>> export_generator(gan, "export/models/dcgan_digits/1")
    """
    if os.path.exists(export_dir) and os.listdir(export_dir) and not overwrite:
        raise FileExistsError(
            f"Export directory {export_dir!r} already exists; pick a new version number "
            "or pass overwrite=True (--overwrite)."
        )
    archive = keras.export.ExportArchive()
    archive.track(gan.generator)
    for name, (fn, signature) in serving_functions(gan).items():
        archive.add_endpoint(name=name, fn=fn, input_signature=signature)
    # Write next to the target and rename, so a failed export leaves no half directory.
    parent = os.path.dirname(os.path.abspath(export_dir)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        archive.write_out(tmp, verbose=False)
        if os.path.exists(export_dir):
            shutil.rmtree(export_dir)
        os.replace(tmp, export_dir)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    return export_dir


def serving_functions(gan):
    """Signature name -> (function, input signature) for a model's generator.

    Families with extra inputs (labels, codes) define `serving_signatures()`.
    """
    if hasattr(gan, "serving_signatures"):
        return gan.serving_signatures()
    generator = gan.generator

    def serving_default(latent):
        return {"images": generator(latent, training=False)}

    latent = tf.TensorSpec([None, gan.latent_dim], tf.float32, name="latent")
    return {"serving_default": (serving_default, [latent])}


def main(argv=None):
    """`python -m ganzoo.export --model_dir RUN --export_dir export/models/NAME/VERSION`."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--model_dir", required=True, help="Run directory or .keras file.")
    parser.add_argument("--export_dir", required=True,
                        help="TF Serving version directory, e.g. export/models/dcgan/1.")
    parser.add_argument("--overwrite", action="store_true", help="Replace an existing export.")
    args = parser.parse_args(argv)
    from ganzoo.loading import load_gan

    try:
        gan = load_gan(args.model_dir, compile=False)
        path = export_generator(gan, args.export_dir, overwrite=args.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        raise SystemExit(f"error: {e}") from None
    print(f"Exported {type(gan).__name__} generator to {path} "
          f"(signatures: {', '.join(serving_functions(gan))})")


if __name__ == "__main__":
    main()
