"""The exported SavedModel through the TensorFlow C API in the wheel (TF Serving's loader).

One C client, compiled once with gcc, loads the export with
`TF_LoadSessionFromSavedModel` and runs a signature's tensors: a latent batch, or
`generate_from_seed`'s two scalars. Requests over the export's
`max_images_per_request` are refused there too, with the limit in the message.
"""

import glob
import os
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import build_tiny

from ganzoo import export

TF_DIR = os.path.dirname(tf.__file__)
HEADERS = os.path.join(TF_DIR, "include")
LIMIT = 4  # max_images_per_request of the export

C_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tensorflow/c/c_api.h"

static void noop(void* d, size_t n, void* a) {}

static TF_Output op(TF_Graph* g, const char* name) {
  char buf[256]; strncpy(buf, name, 255); buf[255] = 0;
  char* colon = strrchr(buf, ':'); int index = 0;
  if (colon) { index = atoi(colon + 1); *colon = 0; }
  TF_Output out = {TF_GraphOperationByName(g, buf), index};
  if (!out.oper) { fprintf(stderr, "no op %s\n", buf); exit(2); }
  return out;
}

/* dir latent in_name out_name batch dim in.bin out.bin
   dir seed seed_name num_images_name out_name seed num_images out.bin */
int main(int argc, char** argv) {
  TF_Status* s = TF_NewStatus();
  TF_Graph* g = TF_NewGraph();
  TF_SessionOptions* opts = TF_NewSessionOptions();
  const char* tags[] = {"serve"};
  TF_Session* sess = TF_LoadSessionFromSavedModel(opts, NULL, argv[1], tags, 1, g, NULL, s);
  if (TF_GetCode(s) != TF_OK) { fprintf(stderr, "%s\n", TF_Message(s)); return 1; }
  TF_Output in[2], out;
  TF_Tensor* x[2];
  int num_inputs;
  if (strcmp(argv[2], "latent") == 0) {
    int64_t dims[2] = {atoll(argv[5]), atoll(argv[6])};
    size_t n = dims[0] * dims[1] * sizeof(float);
    float* data = malloc(n);
    FILE* f = fopen(argv[7], "rb"); fread(data, 1, n, f); fclose(f);
    in[0] = op(g, argv[3]); out = op(g, argv[4]);
    x[0] = TF_NewTensor(TF_FLOAT, dims, 2, data, n, noop, NULL);
    num_inputs = 1;
  } else {
    static int64_t seed; static int32_t num_images;
    seed = atoll(argv[6]); num_images = (int32_t)atoll(argv[7]);
    in[0] = op(g, argv[3]); in[1] = op(g, argv[4]); out = op(g, argv[5]);
    x[0] = TF_NewTensor(TF_INT64, NULL, 0, &seed, sizeof seed, noop, NULL);
    x[1] = TF_NewTensor(TF_INT32, NULL, 0, &num_images, sizeof num_images, noop, NULL);
    num_inputs = 2;
  }
  TF_Tensor* y = NULL;
  TF_SessionRun(sess, NULL, in, x, num_inputs, &out, &y, 1, NULL, 0, NULL, s);
  if (TF_GetCode(s) != TF_OK) { fprintf(stderr, "%s\n", TF_Message(s)); return 1; }
  FILE* f = fopen(argv[8], "wb");
  fwrite(TF_TensorData(y), 1, TF_TensorByteSize(y), f); fclose(f);
  return 0;
}
"""


def _signature_tensors(path, name):
    """Graph tensor names of a signature: (inputs by name, outputs by name)."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    signature = proto.meta_graphs[0].signature_def[name]
    return ({k: v.name for k, v in signature.inputs.items()},
            {k: v.name for k, v in signature.outputs.items()})


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """(gan, export path, run) where `run(*args)` runs the compiled C client."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed: cannot compile the C API client")
    if not os.path.isfile(os.path.join(HEADERS, "tensorflow", "c", "c_api.h")):
        pytest.skip(f"the TensorFlow wheel has no C API headers under {HEADERS}")
    if not glob.glob(os.path.join(TF_DIR, "libtensorflow_cc.so.2")):
        pytest.skip("the TensorFlow wheel has no libtensorflow_cc.so.2")
    tmp = tmp_path_factory.mktemp("c_api")
    gan, _ = build_tiny("dcgan")
    path = str(tmp / "models" / "dcgan" / "1")
    export.export_generator(gan, path, warmup=False, max_images_per_request=LIMIT)
    source, binary = tmp / "client.c", tmp / "client"
    source.write_text(C_PROGRAM)
    subprocess.run(["gcc", "-O0", "-o", str(binary), str(source), f"-I{HEADERS}",
                    os.path.join(TF_DIR, "libtensorflow_cc.so.2"),
                    os.path.join(TF_DIR, "libtensorflow_framework.so.2"),
                    f"-Wl,-rpath,{TF_DIR}"], check=True, timeout=120)

    def run(*args):
        return subprocess.run([str(binary), path, *map(str, args)], capture_output=True,
                              text=True, timeout=300,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})

    return gan, path, run, tmp


def _run_latent(client, name, latent):
    gan, path, run, tmp = client
    latent.tofile(tmp / "in.bin")
    inputs, outputs = _signature_tensors(path, name)
    return run("latent", inputs["latent"], outputs["images"], len(latent), gan.latent_dim,
               tmp / "in.bin", tmp / f"{name}.bin")


@pytest.mark.parametrize("name,dtype", [("serving_default", np.float32),
                                        ("generate_uint8", np.uint8)])
def test_c_api_session_gives_the_same_images(client, name, dtype):
    gan, path, _, tmp = client
    latent = gan.sample_latent(3, seed=11)
    done = _run_latent(client, name, latent)
    assert done.returncode == 0, done.stderr[-2000:]
    images = np.fromfile(tmp / f"{name}.bin", dtype).reshape(3, 16, 16, 1)
    want = tf.saved_model.load(path).signatures[name](latent=tf.constant(latent))["images"]
    np.testing.assert_array_equal(images, want.numpy())
    if dtype == np.float32:
        np.testing.assert_allclose(images, gan.generator(latent, training=False), atol=1e-6)


def _run_seed(client, seed, num_images):
    _, path, run, tmp = client
    inputs, outputs = _signature_tensors(path, "generate_from_seed")
    return run("seed", inputs["seed"], inputs["num_images"], outputs["images"], seed,
               num_images, tmp / "seed.bin")


def test_c_api_seed_signature_equals_generate_up_to_the_limit(client):
    gan, _, _, tmp = client
    done = _run_seed(client, 7, LIMIT)
    assert done.returncode == 0, done.stderr[-2000:]
    images = np.fromfile(tmp / "seed.bin", np.float32).reshape(LIMIT, 16, 16, 1)
    np.testing.assert_array_equal(images, gan.generate(LIMIT, seed=7))


def test_c_api_refuses_requests_over_the_limit(client):
    gan, *_ = client
    for num_images in (LIMIT + 1, 10**9):
        done = _run_seed(client, 7, num_images)
        assert done.returncode == 1, done.stderr[-2000:]
        assert f"num_images is more than {LIMIT}" in done.stderr, done.stderr[-2000:]
        assert f"serves 1 to {LIMIT} images per request" in done.stderr
    done = _run_seed(client, 7, 0)
    assert done.returncode == 1 and "num_images must be at least 1" in done.stderr
    done = _run_latent(client, "serving_default", gan.sample_latent(LIMIT + 1, seed=0))
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"latent has more than {LIMIT} rows" in done.stderr, done.stderr[-2000:]
