"""PyTorch copies of ganzoo's `dcgan` and `resnet` generator/discriminator builders.

Each module mirrors `ganzoo.models.networks` / `ganzoo.models.resnet` layer for
layer: the same layers in the same creation order, the same initialisers, the
same paddings. Two layout choices make every Keras weight copyable as is
(`check_parity.py` copies them and compares outputs):

- The generator's projection is reshaped as Keras does, `[B, s, s, C]`, then
  viewed as NCHW; the DCGAN discriminator flattens its last map in HWC order.
  Both are a fixed permutation of units, so training is unaffected.
- Keras' `LayerNormalization` (the DCGAN critic's `norm="layer"`) normalises
  each pixel over its channels (axis -1); `ChannelLayerNorm` does the same on
  NCHW maps. The resnet critic's `layer` norm is `GroupNorm(1, C)`, as in ganzoo.

Framework defaults that differ are set explicitly: batch norm momentum 0.1
(Keras' 0.9), epsilon 1e-5; Keras "same" padding for 4x4 stride-2 (transposed)
convolutions on even sizes is 1 on each side, which is PyTorch's `padding=1`.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

_DCGAN_STD = 0.02


def spatial_plan(size):
    """(start size, number of 2x up-samplings), as `ganzoo.models.networks.spatial_plan`."""
    start, ups = size, 0
    while start % 2 == 0 and start > 7:
        start //= 2
        ups += 1
    if ups == 0:
        raise ValueError(f"Image size {size} cannot be built by 2x up-sampling.")
    return start, ups


class ChannelLayerNorm(nn.Module):
    """Keras `LayerNormalization(axis=-1)` on NCHW maps: each pixel over its channels."""

    def __init__(self, channels, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        y = F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


def normalization(norm, channels):
    """ganzoo's `networks.normalization` for NCHW maps; None for `none`."""
    if norm == "batch":
        return nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)
    if norm == "layer":
        return ChannelLayerNorm(channels)
    if norm in ("none", None):
        return None
    raise ValueError(f"Unknown normalization {norm!r}.")


class Project(nn.Module):
    """Dense z -> `[B, s, s, C]` in Keras' order, returned as an NCHW view."""

    def __init__(self, in_features, size, channels, bias):
        super().__init__()
        self.linear = nn.Linear(in_features, size * size * channels, bias=bias)
        self.size, self.channels = size, channels

    def forward(self, z):
        x = self.linear(z).view(-1, self.size, self.size, self.channels)
        return x.permute(0, 3, 1, 2)  # channels_last strides, no copy


class DCGANGenerator(nn.Module):
    """ganzoo's `dcgan_generator`: Dense, BN, ReLU, 4x4/2 transposed convs, tanh."""

    def __init__(self, shape, input_dim, width=64, norm="batch"):
        super().__init__()
        height, _, channels = shape
        start, ups = spatial_plan(height)
        plain = norm in ("none", None)
        top = width * 2 ** (ups - 1)
        layers = [Project(input_dim, start, top, bias=plain)]
        layers += _maybe(normalization(norm, top)) + [nn.ReLU()]
        in_ch = top
        for i in range(ups - 1, 0, -1):
            out_ch = width * 2 ** (i - 1)
            layers.append(nn.ConvTranspose2d(in_ch, out_ch, 4, 2, 1, bias=plain))
            layers += _maybe(normalization(norm, out_ch)) + [nn.ReLU()]
            in_ch = out_ch
        layers += [nn.ConvTranspose2d(in_ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z):
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """ganzoo's `dcgan_discriminator`: 4x4/2 convs, LeakyReLU(0.2), norm after the first."""

    def __init__(self, shape, width=64, norm="batch", dropout=0.0):
        super().__init__()
        height, _, channels = shape
        _, ups = spatial_plan(height)
        plain = norm in ("none", None)
        layers, in_ch, size = [], channels, height
        for i in range(ups):
            out_ch = width * 2**i
            layers.append(nn.Conv2d(in_ch, out_ch, 4, 2, 1, bias=i == 0 or plain))
            if i > 0:
                layers += _maybe(normalization(norm, out_ch))
            layers.append(nn.LeakyReLU(0.2))
            if dropout:
                layers.append(nn.Dropout(dropout))
            in_ch, size = out_ch, size // 2
        self.body = nn.Sequential(*layers)
        self.logits = nn.Linear(in_ch * size * size, 1)
        dcgan_init(self)

    def forward(self, x):
        h = self.body(x)
        return self.logits(h.permute(0, 2, 3, 1).flatten(1)).view(-1)  # Keras' HWC flatten


def dcgan_init(module):
    """N(0, 0.02) weights and zero biases on every Linear/conv; norms keep (1, 0)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, _DCGAN_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _glorot(m):
    nn.init.xavier_uniform_(m.weight)
    nn.init.zeros_(m.bias)
    return m


def _conv(in_ch, out_ch, kernel, init="he_uniform"):
    conv = nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2)
    if init == "he_uniform":
        # Keras HeUniform: U(+-sqrt(6 / fan_in)), fan_in = k * k * in.
        bound = math.sqrt(6.0 / (in_ch * kernel * kernel))
        nn.init.uniform_(conv.weight, -bound, bound)
        nn.init.zeros_(conv.bias)
        return conv
    return _glorot(conv)


class ResidualBlock(nn.Module):
    """ganzoo's `resnet._residual_block`: pre-activation, up/down/none resampling."""

    def __init__(self, in_ch, filters, norm, resample):
        super().__init__()
        self.resample = resample
        # Creation order as in ganzoo (shortcut first) keeps the layer lists aligned.
        self.shortcut = (_conv(in_ch, filters, 1, "glorot_uniform")
                         if resample is not None or in_ch != filters else None)
        self.norm1 = _resnet_norm(norm, in_ch)
        self.conv1 = _conv(in_ch, filters, 3)
        self.norm2 = _resnet_norm(norm, filters)
        self.conv2 = _conv(filters, filters, 3)

    def forward(self, x):
        s = x
        if self.resample == "up":
            s = F.interpolate(s, scale_factor=2, mode="nearest")
        if self.shortcut is not None:
            s = self.shortcut(s)
        if self.resample == "down":
            s = F.avg_pool2d(s, 2)
        h = F.relu(self.norm1(x) if self.norm1 is not None else x)
        if self.resample == "up":
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.conv1(h)
        h = F.relu(self.norm2(h) if self.norm2 is not None else h)
        h = self.conv2(h)
        if self.resample == "down":
            h = F.avg_pool2d(h, 2)
        return s + h


class OptimizedBlock(nn.Module):
    """The critic's first block (`resnet._optimized_block`)."""

    def __init__(self, in_ch, filters, downsample):
        super().__init__()
        self.downsample = downsample
        self.shortcut = _conv(in_ch, filters, 1, "glorot_uniform")
        self.conv1 = _conv(in_ch, filters, 3)
        self.conv2 = _conv(filters, filters, 3)

    def forward(self, x):
        s = F.avg_pool2d(x, 2) if self.downsample else x
        s = self.shortcut(s)
        h = self.conv2(F.relu(self.conv1(x)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        return s + h


class ResNetGenerator(nn.Module):
    """ganzoo's `resnet_generator` (WGAN-GP's CIFAR-10 generator)."""

    def __init__(self, shape, input_dim, width=128, norm="batch"):
        super().__init__()
        height, _, channels = shape
        start, ups = spatial_plan(height)
        self.project = Project(input_dim, start, width, bias=True)
        _glorot(self.project.linear)
        self.blocks = nn.Sequential(*[ResidualBlock(width, width, norm, "up") for _ in range(ups)])
        self.norm = _resnet_norm(norm, width)
        self.out = _conv(width, channels, 3, "glorot_uniform")

    def forward(self, z):
        h = self.blocks(self.project(z))
        h = F.relu(self.norm(h) if self.norm is not None else h)
        return torch.tanh(self.out(h))


class ResNetDiscriminator(nn.Module):
    """ganzoo's `resnet_discriminator` (WGAN-GP's CIFAR-10 critic)."""

    def __init__(self, shape, width=128, norm="none"):
        super().__init__()
        height, _, channels = shape
        _, ups = spatial_plan(height)
        downs = max(ups - 1, 0)
        blocks = [OptimizedBlock(channels, width, downs > 0)]
        blocks += [ResidualBlock(width, width, norm, "down") for _ in range(downs - 1)]
        blocks += [ResidualBlock(width, width, norm, None) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.logits = _glorot(nn.Linear(width, 1))

    def forward(self, x):
        h = F.relu(self.blocks(x)).mean(dim=(2, 3))
        return self.logits(h).view(-1)


def _resnet_norm(norm, channels):
    if norm == "layer":
        return nn.GroupNorm(1, channels, eps=1e-5)
    return normalization(norm, channels)


def _maybe(layer):
    return [layer] if layer is not None else []


ARCHITECTURES = {
    "dcgan": (DCGANGenerator, DCGANDiscriminator),
    "resnet": (ResNetGenerator, ResNetDiscriminator),
}


def build_networks(architecture, shape, latent_dim, width, generator=None, discriminator=None):
    """(G, D) for ganzoo's `model.architecture`, `model.width` and builder kwargs.

    Args:
        architecture: str. `dcgan` or `resnet`.
        shape: tuple. `(H, W, C)` of the images.
        latent_dim: int. Input width of G.
        width: int. `model.width`.
        generator: dict. `model.generator` (only `norm` is supported).
        discriminator: dict. `model.discriminator` (`norm`; `dropout` for dcgan).

    Returns:
        `(generator, discriminator)` torch modules, NCHW in and out.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"No PyTorch twin for architecture {architecture!r}; "
                         f"have {sorted(ARCHITECTURES)}.")
    g_kw, d_kw = dict(generator or {}), dict(discriminator or {})
    unsupported = (set(g_kw) - {"norm", "sync_batch_norm"}) | (
        set(d_kw) - {"norm", "sync_batch_norm", "dropout"})
    if unsupported or (d_kw.get("dropout") and architecture != "dcgan"):
        raise ValueError(f"The PyTorch twin does not implement {sorted(unsupported)} "
                         f"(model.generator={g_kw}, model.discriminator={d_kw}).")
    g_kw.pop("sync_batch_norm", None)  # one device: plain batch norm
    d_kw.pop("sync_batch_norm", None)
    g_cls, d_cls = ARCHITECTURES[architecture]
    return (g_cls(tuple(shape), latent_dim, width=width, **g_kw),
            d_cls(tuple(shape), width=width, **d_kw))


def weight_layers(module):
    """Modules that own parameters or buffers themselves, in creation order.

    The Keras side of the same list is `[l for l in model.layers if l.weights]`
    (see `check_parity.py`).
    """
    return [m for m in module.modules()
            if list(m.parameters(recurse=False)) or
            [b for b in m.buffers(recurse=False) if b.dim() > 0]]
