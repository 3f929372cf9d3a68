"""gRPC client for TF Serving: `PredictRequest` protos in, numpy images out.

Example:

>>> import grpc as grpc_io
>>> request = predict_request("dcgan_digits", {"latent": latent})
>>> images = predict(grpc_io.insecure_channel("localhost:8500"), request)
"""

import numpy as np
import tensorflow as tf


def predict_request(model_name, inputs, signature_name="serving_default", version=None):
    """A `tensorflow_serving.apis.predict_pb2.PredictRequest`.

    Args:
        model_name: str. The served model's name.
        inputs: dict name -> array-like (numpy dtypes are kept: float32 latent,
            int32 labels, int64 seed ...).
        signature_name: str. E.g. `serving_default`, `generate_uint8`,
            `generate_from_seed`, `classify`.
        version: int or None. A pinned model version (default: the latest).

    Returns:
        The `PredictRequest`.
    """
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
    return request


def decode_response(response, output="images"):
    """The numpy array of one output of a `PredictResponse`."""
    if output not in response.outputs:
        raise KeyError(f"Response has no output {output!r}; it has {sorted(response.outputs)}.")
    return tf.make_ndarray(response.outputs[output])


def predict(channel, request, output="images", timeout=30.0):
    """Sends `request` over a gRPC `channel` and decodes `output`."""
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    return decode_response(stub.Predict(request, timeout), output)
