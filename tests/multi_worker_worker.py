"""`python -m ganzoo.train` with probes for the multi-worker tests.

Runs the real CLI (flags, config, `train_lib.run`) and adds:
    --weights_out=PATH   save G and D weights to PATH (`{task}` -> TF_CONFIG index)
                         and the last metrics to PATH.metrics.json when the run
                         ends, so a test can compare workers.
    --sleep_per_epoch=S  sleep S seconds after each epoch, so a test can kill a
                         worker mid-run at a known point.
It prints `probe: begin at step N` when training starts and `probe: step N`
after each epoch.
"""

import json
import os
import time

import keras
import numpy as np
from absl import flags

from ganzoo import train, train_lib

flags.DEFINE_string("weights_out", None, "Save final weights here ({task} = worker index).")
flags.DEFINE_float("sleep_per_epoch", 0.0, "Seconds to sleep after each epoch.")
FLAGS = flags.FLAGS


class Probe(keras.callbacks.Callback):
    def __init__(self, sleep):
        super().__init__()
        self.sleep = sleep

    def _step(self):
        return int(self.model.g_optimizer.iterations.numpy())

    def on_train_begin(self, logs=None):
        print(f"probe: begin at step {self._step()}", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        print(f"probe: step {self._step()}", flush=True)
        time.sleep(self.sleep)


_run = train_lib.run


def _probed_run(config, model_dir, verbose="auto", extra_callbacks=()):
    result = _run(config, model_dir, verbose=verbose,
                  extra_callbacks=[*extra_callbacks, Probe(FLAGS.sleep_per_epoch)])
    if FLAGS.weights_out:
        task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}).get("index", 0)
        gan = result["model"]
        path = FLAGS.weights_out.format(task=task)
        np.savez(path, *[v.numpy() for v in gan.generator.weights + gan.discriminator.weights])
        with open(path + ".metrics.json", "w") as f:
            json.dump(result["metrics"], f)
    return result


train_lib.run = _probed_run

if __name__ == "__main__":
    train.run()
