"""The exported SavedModel through the TensorFlow C API in the wheel (TF Serving's loader)."""

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

int main(int argc, char** argv) {  /* dir in_name out_name batch dim in.bin out.bin */
  int64_t dims[2] = {atoi(argv[4]), atoi(argv[5])};
  size_t n = dims[0] * dims[1] * sizeof(float);
  float* data = malloc(n);
  FILE* f = fopen(argv[6], "rb"); fread(data, 1, n, f); fclose(f);
  TF_Status* s = TF_NewStatus();
  TF_Graph* g = TF_NewGraph();
  TF_SessionOptions* opts = TF_NewSessionOptions();
  const char* tags[] = {"serve"};
  TF_Session* sess = TF_LoadSessionFromSavedModel(opts, NULL, argv[1], tags, 1, g, NULL, s);
  if (TF_GetCode(s) != TF_OK) { fprintf(stderr, "%s\n", TF_Message(s)); return 1; }
  TF_Output in = op(g, argv[2]), out = op(g, argv[3]);
  TF_Tensor* x = TF_NewTensor(TF_FLOAT, dims, 2, data, n, noop, NULL);
  TF_Tensor* y = NULL;
  TF_SessionRun(sess, NULL, &in, &x, 1, &out, &y, 1, NULL, 0, NULL, s);
  if (TF_GetCode(s) != TF_OK) { fprintf(stderr, "%s\n", TF_Message(s)); return 1; }
  f = fopen(argv[7], "wb"); fwrite(TF_TensorData(y), 1, TF_TensorByteSize(y), f); fclose(f);
  return 0;
}
"""


def _signature_tensors(path, name):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    signature = proto.meta_graphs[0].signature_def[name]
    return signature.inputs["latent"].name, signature.outputs["images"].name


@pytest.mark.parametrize("name,dtype", [("serving_default", np.float32),
                                        ("generate_uint8", np.uint8)])
def test_c_api_session_gives_the_same_images(tmp_path, name, dtype):
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed: cannot compile the C API client")
    if not os.path.isfile(os.path.join(HEADERS, "tensorflow", "c", "c_api.h")):
        pytest.skip(f"the TensorFlow wheel has no C API headers under {HEADERS}")
    libs = glob.glob(os.path.join(TF_DIR, "libtensorflow_cc.so.2"))
    if not libs:
        pytest.skip("the TensorFlow wheel has no libtensorflow_cc.so.2")
    gan, _ = build_tiny("dcgan")
    path = str(tmp_path / "models" / "dcgan" / "1")
    export.export_generator(gan, path, warmup=False)
    source, binary = tmp_path / "client.c", tmp_path / "client"
    source.write_text(C_PROGRAM)
    subprocess.run(["gcc", "-O0", "-o", str(binary), str(source), f"-I{HEADERS}",
                    os.path.join(TF_DIR, "libtensorflow_cc.so.2"),
                    os.path.join(TF_DIR, "libtensorflow_framework.so.2"),
                    f"-Wl,-rpath,{TF_DIR}"], check=True, timeout=120)
    latent = gan.sample_latent(3, seed=11)
    latent.tofile(tmp_path / "in.bin")
    tensor_in, tensor_out = _signature_tensors(path, name)
    subprocess.run([str(binary), path, tensor_in, tensor_out, "3", str(gan.latent_dim),
                    str(tmp_path / "in.bin"), str(tmp_path / "out.bin")],
                   check=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    images = np.fromfile(tmp_path / "out.bin", dtype).reshape(3, 16, 16, 1)
    want = tf.saved_model.load(path).signatures[name](latent=tf.constant(latent))["images"]
    np.testing.assert_array_equal(images, want.numpy())
    if dtype == np.float32:
        np.testing.assert_allclose(images, gan.generator(latent, training=False), atol=1e-6)
