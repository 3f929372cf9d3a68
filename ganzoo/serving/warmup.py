"""TF Serving warmup requests: `assets.extra/tf_serving_warmup_requests`.

The file is a TFRecord of `PredictionLog` protos; TF Serving replays them when
it loads a version, so the first real request does not pay for graph tracing.
"""

import os

import numpy as np
import tensorflow as tf

from ganzoo.serving import grpc as grpc_client

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def example_inputs(gan, signature):
    """One small valid request (a batch of 1) for an input signature."""
    inputs = {}
    for spec in signature:
        if spec.name == "latent":
            value = gan.sample_latent(1, seed=0)
        elif spec.name == "seed":
            value = np.int64(0)
        elif spec.name == "num_images":
            value = np.int32(1)
        else:
            value = np.zeros([1, *spec.shape[1:]], spec.dtype.as_numpy_dtype)
        inputs[spec.name] = value
    return inputs


def example_requests(gan, functions, model_name):
    """One `PredictRequest` per signature of `export.serving_functions(gan)`."""
    return [grpc_client.predict_request(model_name, example_inputs(gan, signature), name)
            for name, (_, signature) in functions.items()]


def write_warmup_requests(export_dir, requests):
    """Writes `requests` as `PredictionLog` records into a SavedModel directory."""
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(export_dir, WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(export_dir):
    """The `PredictionLog` protos of an export's warmup file."""
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(export_dir, WARMUP_FILE)
    return [prediction_log_pb2.PredictionLog.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(path)]
