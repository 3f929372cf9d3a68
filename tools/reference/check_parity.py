"""Checks that the PyTorch twins are ganzoo's networks and ganzoo's training step.

For each case it builds the ganzoo model exactly as a run does
(`train_lib.resolve_config` -> `build_model` -> `make_optimizer`) and the twin
from the same resolved config, then checks three things:

1. Layers: the Keras layers that own weights and the twin's modules that own
   parameters/buffers pair up one to one, with equal shapes (Keras kernels
   transposed to PyTorch's layout) and equal parameter counts. Printed per layer.
2. Outputs: with the Keras weights copied into the twin, G(z) and D(x) in
   inference mode agree.
3. Gradients: from those weights, one batch and one set of draws, the raw
   gradients of D's loss (with WGAN-GP's penalty) and of G's loss agree, each
   within 1e-4 of its tensor's largest entry. Adam's first steps move every
   weight by about lr * sign(g), so step 4 alone cannot see a gradient that is
   slightly off; this check found TF's second derivative through layer norm
   (`ganzoo.compat.exact_moments`).
4. One train step: from those same weights, the same real batch and ganzoo's
   own noise draws (`GAN._noise`, WGAN-GP's `_uniform`), ganzoo's `train_step`
   and `Twin.train_step` give the same losses and the same updated weights.

Not a test (CI has no torch); run by hand after changing a ganzoo builder:

    python tools/reference/check_parity.py            # every case
    python tools/reference/check_parity.py --quick    # 28 px only
    python tools/reference/check_parity.py --float64  # both sides in float64
"""

import argparse
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (model, image shape, config flags). Widths are ganzoo's defaults except the
# resnet row, which is configs/wgan_gp_cifar10.yaml's model.
CASES = [
    ("dcgan", (28, 28, 1), {}),
    ("dcgan", (32, 32, 3), {}),
    ("dcgan", (64, 64, 3), {}),
    ("wgan_gp", (28, 28, 1), {}),
    ("wgan_gp", (32, 32, 3), {}),
    ("wgan_gp", (64, 64, 3), {}),
    ("wgan_gp", (28, 28, 1), {"model.architecture": "resnet"}),
    ("wgan_gp", (32, 32, 3), {"model.architecture": "resnet", "model.latent_dim": 128,
                              "model.width": 128, "model.discriminator": {"norm": "none"}}),
]


def keras_to_torch(layer, weight):
    """A Keras weight as the twin stores it (kernels transposed)."""
    value = np.asarray(weight.numpy())
    if weight.path.endswith("kernel"):
        return value.T if value.ndim == 2 else value.transpose(3, 2, 0, 1)
    return value


# Keras layer class -> the twin's module class.
TWIN_CLASS = {"Dense": "Linear", "Conv2D": "Conv2d", "Conv2DTranspose": "ConvTranspose2d",
              "BatchNormalization": "BatchNorm2d", "FusedBatchNormalization": "BatchNorm2d",
              "LayerNormalization": "ChannelLayerNorm",
              "ExactLayerNormalization": "ChannelLayerNorm", "ExactGroupNormalization": "GroupNorm",
              "GroupNormalization": "GroupNorm"}


def in_creation_order(keras_model, torch_modules):
    """Keras layers with weights, paired with `torch_modules` (creation order).

    A functional model lists its layers in graph order, which interleaves a
    residual block's shortcut and main branch differently from how the builder
    created them. Keras' automatic names count per class in creation order
    (`conv2d`, `conv2d_1`, ...), so each torch module takes the next unused
    layer of its class by that count; an unmatched slot stays None.
    """
    def counter(layer):
        match = re.search(r"_(\d+)$", layer.name)
        return int(match.group(1)) if match else -1

    queues = {}
    for layer in sorted((la for la in keras_model.layers if la.weights), key=counter):
        queues.setdefault(TWIN_CLASS.get(type(layer).__name__), []).append(layer)
    paired = [queues.get(type(m).__name__, [None]).pop(0) if queues.get(type(m).__name__)
              else None for m in torch_modules]
    left = [la for queue in queues.values() for la in queue]
    return paired + left


def torch_tensors(module):
    """The twin module's own parameters then buffers, in Keras' weight order."""
    params = list(module.parameters(recurse=False))
    return params + [b for b in module.buffers(recurse=False) if b.dim() > 0]


def compare_layers(keras_model, torch_model, label):
    """Prints the per-layer table; returns (ok, pairs of (keras weight, torch tensor))."""
    from reference import weight_layers

    t_layers = weight_layers(torch_model)
    k_layers = in_creation_order(keras_model, t_layers)
    ok, pairs = len(k_layers) == len(t_layers) and None not in k_layers, []
    n_keras = sum(1 for layer in keras_model.layers if layer.weights)
    print(f"  {label}: {n_keras} Keras layers with weights, {len(t_layers)} torch modules")
    print(f"    {'keras layer':<28} {'keras params':>12} {'torch module':<18} "
          f"{'torch params':>12}  shapes")
    for i in range(max(len(k_layers), len(t_layers))):
        kl = k_layers[i] if i < len(k_layers) else None
        tm = t_layers[i] if i < len(t_layers) else None
        k_w = kl.weights if kl else []
        t_w = torch_tensors(tm) if tm is not None else []
        k_count = sum(int(np.prod(w.shape)) for w in k_w)
        t_count = sum(t.numel() for t in t_w)
        same = len(k_w) == len(t_w) and all(
            keras_to_torch(kl, w).shape == tuple(t.shape) for w, t in zip(k_w, t_w))
        ok &= same and k_count == t_count
        pairs += [(kl, w, t) for w, t in zip(k_w, t_w)] if same else []
        shapes = ", ".join(str(tuple(t.shape)) for t in t_w)
        print(f"    {(kl.name if kl else '-'):<28} {k_count:>12,} "
              f"{(type(tm).__name__ if tm is not None else '-'):<18} {t_count:>12,}  "
              f"{shapes}{'' if same else '   <-- MISMATCH'}")
    total_k = keras_model.count_params()
    total_t = sum(t.numel() for m in t_layers for t in torch_tensors(m))
    print(f"    total: keras {total_k:,}  torch {total_t:,} (both incl. batch-norm statistics)")
    return ok and total_k == total_t, pairs


def copy_weights(pairs):
    import torch

    with torch.no_grad():
        for layer, weight, tensor in pairs:
            tensor.copy_(torch.from_numpy(np.ascontiguousarray(keras_to_torch(layer, weight))))


def weight_diffs(pairs, trainable=True):
    """All |keras - torch| element differences of the (non-)trainable weights, flat."""
    return np.concatenate([np.abs(keras_to_torch(kl, w) - t.detach().numpy()).ravel()
                           for kl, w, t in pairs if w.trainable == trainable] or [np.zeros(1)])


def keras_convention_variances(torch_model):
    """Shadows of the twin's batch-norm running variances, kept as Keras keeps its own.

    PyTorch averages the unbiased batch variance into `running_var`, Keras the
    biased one: n/(n-1) times smaller, n = batch x height x width per channel.
    From its current value, each shadow follows every training-mode call of its
    module (a forward hook) with the biased variance and the module's momentum,
    so it is what the twin's running variance would be in Keras' convention.
    Returns `{id(running_var): shadow}`.
    """
    import torch

    shadows = {}
    for module in torch_model.modules():
        if not (isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
                and module.track_running_stats):
            continue
        shadow = module.running_var.detach().clone()
        shadows[id(module.running_var)] = shadow

        def follow(mod, inputs, output, shadow=shadow):
            if mod.training:
                x = inputs[0].detach()
                dims = [d for d in range(x.dim()) if d != 1]
                shadow.mul_(1 - mod.momentum).add_(mod.momentum * x.var(dim=dims,
                                                                        unbiased=False))

        module.register_forward_hook(follow)
    return shadows


def check_case(model, shape, flags, batch, dtype=np.float32):
    import tensorflow as tf
    import torch

    from ganzoo import train_lib
    from ganzoo.data import DataSpec
    from reference import Twin

    config = train_lib.resolve_config(model, **{"train.batch_size": batch, **flags})
    gan = train_lib.build_model(config, DataSpec("parity", shape, 0))
    t = config.train
    gan.compile(d_optimizer=train_lib.make_optimizer(t.d_optimizer),
                g_optimizer=train_lib.make_optimizer(t.g_optimizer), loss=t.loss)
    twin = Twin(config.to_dict(), shape)
    name = f"{model} {config.model.architecture} {'x'.join(map(str, shape))}"
    print(f"\n== {name}: width {config.model.width}, latent {config.model.latent_dim}, "
          f"loss {t.loss}, d_steps {t.d_steps}, d_opt {t.d_optimizer.name}"
          f"({t.d_optimizer.learning_rate}, {t.d_optimizer.beta_1}, {t.d_optimizer.beta_2})")
    ok_g, g_pairs = compare_layers(gan.generator, twin.generator, "generator")
    ok_d, d_pairs = compare_layers(gan.discriminator, twin.discriminator, "discriminator")
    if not (ok_g and ok_d):
        return {"case": name, "layers": False}
    copy_weights(g_pairs + d_pairs)
    shadows = {**keras_convention_variances(twin.generator),
               **keras_convention_variances(twin.discriminator)}

    rng = np.random.default_rng(0)
    z = rng.standard_normal((batch, config.model.latent_dim)).astype(dtype)
    x = rng.uniform(-1, 1, (batch * t.d_steps, *shape)).astype(dtype)
    twin.generator.eval(), twin.discriminator.eval()
    with torch.no_grad():
        g_t = twin.generator(torch.from_numpy(z)).permute(0, 2, 3, 1).numpy()
        d_t = twin.discriminator(torch.from_numpy(x[:batch]).permute(0, 3, 1, 2)).numpy()
    twin.generator.train(), twin.discriminator.train()
    g_k = gan.generator(z, training=False).numpy()
    d_k = gan.discriminator(x[:batch], training=False)["logits"].numpy().reshape(-1)
    g_out, d_out = float(np.abs(g_k - g_t).max()), float(np.abs(d_k - d_t).max())

    grad_d, grad_g = gradient_diffs(gan, twin, model, x[:batch], z, d_pairs, g_pairs)

    k = t.d_steps
    noise = {"d": [gan._noise(batch, i) for i in range(k)], "g": gan._noise(batch, k)}
    if model == "wgan_gp":
        noise["alpha"] = [gan._uniform(batch, i + 100) for i in range(k)]
    def to_torch(value):
        return torch.from_numpy(value.numpy().astype(dtype))

    noise = {key: [to_torch(v) for v in value] if isinstance(value, list) else to_torch(value)
             for key, value in noise.items()}
    logs_k = {key: float(v) for key, v in gan.train_step((tf.constant(x), tf.zeros(
        [len(x)], tf.int32))).items()}
    logs_t = {key: float(v) for key, v in twin.train_step(
        torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), noise).items()}
    lr = max(t.d_optimizer.learning_rate, t.g_optimizer.learning_rate)
    result = {
        "case": name, "layers": True, "d_steps": k, "g_output": g_out, "d_output": d_out,
        "d_loss": (logs_k["d_loss"], logs_t["d_loss"]), "g_loss": (logs_k["g_loss"],
                                                                   logs_t["g_loss"]),
    }
    diffs = weight_diffs(g_pairs + d_pairs) / lr
    # Adam's first steps move each weight by ~lr * sign(g): where |g| is at float
    # round-off the two frameworks may step in opposite directions (up to 2 lr),
    # so the check is on the share of weights that agree, plus the worst case
    # (2 lr per update, and the critic takes d_steps updates).
    result["weights_within_0.1lr"] = float(np.mean(diffs < 0.1))
    result["weights_max_over_lr"] = float(diffs.max())
    # Batch-norm statistics: the twin's running variance in Keras' convention (the
    # bound's quantity), and as PyTorch keeps it (n/(n-1) larger: reported only).
    result["bn_stats_torch_convention"] = float(weight_diffs(g_pairs + d_pairs, False).max())
    result["bn_stats_after_step"] = float(weight_diffs(
        [(kl, w, shadows.get(id(t), t)) for kl, w, t in g_pairs + d_pairs], False).max())
    result["grad_d"], result["grad_g"] = grad_d, grad_g
    if "gradient_penalty" in logs_t:
        result["gradient_penalty"] = (logs_k["gradient_penalty"], logs_t["gradient_penalty"])
    return result


def gradient_diffs(gan, twin, model, x, z, d_pairs, g_pairs):
    """Largest |keras - torch| gradient entry over the tensor's largest |entry|,
    worst tensor, for D's loss and G's loss (both networks in training mode)."""
    import tensorflow as tf
    import torch

    alpha = np.random.default_rng(1).uniform(size=len(x)).astype(x.dtype)
    fake = gan.generator(z, training=True)
    batch = {"real": tf.constant(x), "fake": fake, "labels": tf.zeros([len(x)], tf.int32),
             "extras": {"interpolation": tf.constant(alpha)}}
    with tf.GradientTape() as tape:
        terms = gan._discriminator_terms(gan._discriminate(batch["real"], batch, True),
                                         gan._discriminate(fake, batch, True), batch)
        loss, _ = gan._total_loss(terms, gan.discriminator, "d_loss")
    keras_d = dict(zip([id(v) for v in gan.discriminator.trainable_variables],
                       tape.gradient(loss, gan.discriminator.trainable_variables)))
    real_t = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        fake_t = twin.generator(torch.from_numpy(z))
    loss_t = twin.d_loss(twin.discriminator(real_t), twin.discriminator(fake_t), 0.0).mean()
    if model == "wgan_gp":
        loss_t = loss_t + twin.options["penalty_weight"] * twin._gradient_penalty(
            real_t, fake_t, torch.from_numpy(alpha))
    twin.discriminator.zero_grad()
    loss_t.backward()
    grad_d = _worst(d_pairs, keras_d)
    with tf.GradientTape() as tape:
        fake = gan.generator(z, training=True)
        out = gan._discriminate(fake, {"fake": fake}, True)
        loss, _ = gan._total_loss(gan._generator_terms(out, {"fake": fake}), gan.generator,
                                  "g_loss")
    keras_g = dict(zip([id(v) for v in gan.generator.trainable_variables],
                       tape.gradient(loss, gan.generator.trainable_variables)))
    twin.generator.zero_grad()
    twin.g_loss(twin.discriminator(twin.generator(torch.from_numpy(z)))).mean().backward()
    twin.discriminator.zero_grad()
    return grad_d, _worst(g_pairs, keras_g)


def _worst(pairs, grads):
    """Largest |keras - torch| gradient entry over the network's largest |entry|:
    a weight whose gradient is zero in exact arithmetic (a conv bias before batch
    norm) holds only round-off in both frameworks."""
    pairs = [(w, t) for _, w, t in pairs if w.trainable and t.grad is not None]
    ours = []
    for weight, _ in pairs:
        g = np.asarray(grads[id(weight)])
        ours.append(g.T if g.ndim == 2 else g.transpose(3, 2, 0, 1) if g.ndim == 4 else g)
    theirs = [t.grad.numpy() for _, t in pairs]
    scale = max((float(np.abs(t).max()) for t in theirs), default=0.0) + 1e-12
    return max((float(np.abs(a - b).max()) / scale for a, b in zip(ours, theirs)), default=0.0)


def verdict(r):
    if not r["layers"]:
        return False
    rel = [abs(a - b) / max(1.0, abs(a)) for a, b in
           (r["d_loss"], r["g_loss"], r.get("gradient_penalty", (0.0, 0.0)))]
    return (r["g_output"] < 1e-4 and r["d_output"] < 1e-3 and max(rel) < 1e-3
            and r["weights_within_0.1lr"] > 0.99 and r["weights_max_over_lr"] < 2.5 * r["d_steps"]
            and r["bn_stats_after_step"] < 1e-3 and max(r["grad_d"], r["grad_g"]) < 1e-4)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="28 px cases only")
    parser.add_argument("--batch", type=int, default=16, help="batch of the step check")
    parser.add_argument("--only", default="",
                        help="cases whose name contains this, e.g. 'dcgan 64x64x3'")
    parser.add_argument("--float64", action="store_true",
                        help="build both frameworks' networks and inputs in float64, so that "
                             "float32 round-off (a LeakyReLU pre-activation on the other side "
                             "of 0) cannot move a gradient; ganzoo's losses and noise stay "
                             "float32")
    args = parser.parse_args()
    if args.float64:
        import keras
        import torch

        keras.config.set_floatx("float64")
        torch.set_default_dtype(torch.float64)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    cases = [c for c in CASES if (not args.quick or c[1][0] == 28) and args.only in
             f"{c[0]} {c[2].get('model.architecture', 'dcgan')} {'x'.join(map(str, c[1]))}"]
    dtype = np.float64 if args.float64 else np.float32
    results = [check_case(*case, batch=args.batch, dtype=dtype) for case in cases]
    print("\n| case | layers | max |G diff| | max |D diff| | D / G gradients (rel.) | "
          "d_loss keras / torch | g_loss keras / torch | weights within 0.1 lr after step | "
          "batch-norm statistics (PyTorch's convention) | ok |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if not r["layers"]:
            print(f"| {r['case']} | MISMATCH | | | | | | | | no |")
            continue
        print(f"| {r['case']} | equal | {r['g_output']:.1e} | {r['d_output']:.1e} | "
              f"{r['grad_d']:.1e} / {r['grad_g']:.1e} | "
              f"{r['d_loss'][0]:.5f} / {r['d_loss'][1]:.5f} | "
              f"{r['g_loss'][0]:.5f} / {r['g_loss'][1]:.5f} | "
              f"{100 * r['weights_within_0.1lr']:.2f}% (max {r['weights_max_over_lr']:.1f} lr) | "
              f"{r['bn_stats_after_step']:.1e} ({r['bn_stats_torch_convention']:.1e}) | "
              f"{'yes' if verdict(r) else 'NO'} |")
    failed = [r["case"] for r in results if not verdict(r)]
    print("\nall twins match ganzoo" if not failed else f"\nFAILED: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
