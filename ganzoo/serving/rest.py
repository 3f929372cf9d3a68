"""REST client for TF Serving's `:predict` API (urllib only; no extra dependency).

Example:

>>> body = predict_body({"latent": latent}, signature_name="generate_uint8")
>>> images = decode_response(post("http://localhost:8501", "dcgan_digits", body), "uint8")
>>> pngs = png_images(images)
"""

import json
import urllib.request

import numpy as np


def predict_body(inputs, signature_name="serving_default", row_format=False):
    """The JSON body of a `:predict` request.

    Args:
        inputs: dict name -> array-like. Scalars (`seed`, `num_images`) need
            the columnar format.
        signature_name: str. The SavedModel signature to call.
        row_format: bool. `"instances"` (one dict per example) instead of the
            columnar `"inputs"`.

    Returns:
        str, the JSON body.
    """
    arrays = {name: np.asarray(value) for name, value in inputs.items()}
    body = {"signature_name": signature_name}
    if row_format:
        if any(a.ndim == 0 for a in arrays.values()):
            raise ValueError("Scalar inputs (seed, num_images) need row_format=False.")
        size = len(next(iter(arrays.values())))
        body["instances"] = [{n: a[i].tolist() for n, a in arrays.items()} for i in range(size)]
    else:
        body["inputs"] = {n: a.tolist() for n, a in arrays.items()}
    return json.dumps(body, sort_keys=True)


def decode_response(text, dtype="float32", output="images"):
    """Numpy images from a `:predict` response (columnar or row format).

    Args:
        text: str or bytes, the JSON response.
        dtype: `float32` (images in [-1, 1]) or `uint8` (`generate_uint8`).
        output: str. The output name when the signature has several.
    """
    response = json.loads(text)
    if "error" in response:
        raise ValueError(f"TF Serving error: {response['error']}")
    if "outputs" in response:
        values = response["outputs"]
        values = values[output] if isinstance(values, dict) else values
    else:
        rows = response["predictions"]
        values = [r[output] if isinstance(r, dict) else r for r in rows]
    return np.asarray(values, dtype=dtype)


def png_images(images):
    """PNG bytes for each image of a batch (float32 in [-1, 1] or uint8)."""
    from ganzoo import images as images_lib

    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = images_lib.to_uint8(images)
    return [images_lib.png_bytes(image) for image in images]


def post(server, model_name, body, version=None, timeout=30.0):
    """POSTs `body` to `<server>/v1/models/<name>[/versions/<v>]:predict`; the response text."""
    path = f"/v1/models/{model_name}" + (f"/versions/{version}" if version else "")
    request = urllib.request.Request(f"{server.rstrip('/')}{path}:predict",
                                     data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read().decode()
