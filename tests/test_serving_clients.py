"""REST and gRPC clients as pure functions: request building and response decoding."""

import json

import numpy as np
import pytest

from ganzoo.serving import grpc as grpc_client
from ganzoo.serving import rest

LATENT = np.array([[0.5, -1.0], [0.25, 2.0]], np.float32)


def test_rest_columnar_and_row_bodies():
    body = json.loads(rest.predict_body({"latent": LATENT}, "generate_uint8"))
    assert body == {"signature_name": "generate_uint8",
                    "inputs": {"latent": [[0.5, -1.0], [0.25, 2.0]]}}
    rows = json.loads(rest.predict_body({"latent": LATENT, "labels": [3, 4]}, row_format=True))
    assert rows["instances"] == [{"latent": [0.5, -1.0], "labels": 3},
                                 {"latent": [0.25, 2.0], "labels": 4}]
    seed = json.loads(rest.predict_body({"seed": np.int64(7), "num_images": np.int32(2)},
                                        "generate_from_seed"))
    assert seed["inputs"] == {"seed": 7, "num_images": 2}
    with pytest.raises(ValueError, match="row_format=False"):
        rest.predict_body({"seed": np.int64(7)}, row_format=True)


def test_rest_decodes_recorded_responses():
    # Shapes of TF Serving's answers: columnar {"outputs": ...}, row {"predictions": ...}.
    columnar = '{"outputs": [[[[-1.0], [1.0]]]]}'
    images = rest.decode_response(columnar)
    assert images.shape == (1, 1, 2, 1) and images.dtype == np.float32
    rows = '{"predictions": [{"images": [[[0], [255]]], "other": [1]}]}'
    pixels = rest.decode_response(rows, dtype="uint8")
    np.testing.assert_array_equal(pixels[0, 0, :, 0], [0, 255])
    png = rest.png_images(images)[0]
    assert png.startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="TF Serving error"):
        rest.decode_response('{"error": "Servable not found"}')


def test_grpc_request_text_and_response_decoding():
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = grpc_client.predict_request("dcgan", {"seed": np.int64(7),
                                                    "num_images": np.int32(2)},
                                          "generate_from_seed", version=3)
    assert request.model_spec.name == "dcgan" and request.model_spec.version.value == 3
    assert request.model_spec.signature_name == "generate_from_seed"
    assert str(request.inputs["seed"]).split() == ["dtype:", "DT_INT64", "tensor_shape",
                                                   "{", "}", "int64_val:", "7"]
    response = predict_pb2.PredictResponse()
    response.outputs["images"].CopyFrom(tf.make_tensor_proto(LATENT))
    np.testing.assert_array_equal(grpc_client.decode_response(response), LATENT)
    with pytest.raises(KeyError, match="images"):
        grpc_client.decode_response(predict_pb2.PredictResponse())
