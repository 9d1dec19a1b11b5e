"""abp checkpoints in PyTorch: rebuild the generator g(z) of an abp checkpoint.h5 as a
torch.nn.Module with the trained weights -- no abp code involved, only h5py and torch
(Debian: python3-h5py, python3-torch).

    import abp_torch
    g = abp_torch.load_generator("runs/a/checkpoint.h5")   # an nn.Module, in eval mode
    z = torch.randn(16, *g.latent_shape)                    # or g.sample_latents(16)
    x = g(z)                                                # (16, C, H, W), values in [-1, 1]
    z_train = abp_torch.load_latents("runs/a/checkpoint.h5")  # the inferred z of every example

What it reads (docs/formats.md describes the whole file):
  /config          "--option=value" lines; --model= is the canonical spec of the network
  /model/NN_kind/  weight, bias, running_mean, running_var of layer NN (0-based, the latent
                   `z` not counted) of that kind; a layer without parameters has no group,
                   and a layer directly before `bn` has no bias
  /latents         float32, a row per example holding the planar c x h x w latent

Only the generator (/model) is read. Networks that later checkpoints may add beside it
(/encoder, /descriptor, /prior, /classifier, each with its own spec line in /config) would
be one more call of build_network() on their spec and group: the layer kinds are shared.

The module matches abp's own output to float rounding (tests/python_torch.sh checks every
built-in model against abp). Layers, in abp's layout (planar c x h x w per example, which
is PyTorch's NCHW):
  linear F | linear HxWxC   nn.Linear on the flattened input; the output viewed as (C, H, W)
  deconv C kAxB sAxB pAxB opAxB   nn.ConvTranspose2d (weight [in][out][kh][kw], as stored)
  deconv1d C kK sS             the same with a 1 x K kernel
  conv C kAxB sAxB pAxB        nn.Conv2d (weight [out][in][kh][kw])
  bn                           nn.BatchNorm2d(eps=1e-5, momentum=0.1), running statistics
  relu | lrelu S | tanh | sigmoid | reshape HxWxC
  latent N                     a hierarchical code (HiABP): N more channels, this level's own
                               N-vector tiled over the positions; the latent row is then the
                               top code followed by every latent layer's code in spec order
Run as a script, it prints the network and a sample's range:
    /usr/bin/python3 python/abp_torch.py CHECKPOINT [N]
"""

import sys

import h5py
import numpy as np
import torch
from torch import nn

__all__ = ["AbpGenerator", "load_generator", "load_latents", "parse_spec", "read_config",
           "build_network"]


def read_config(f):
    """The /config text of an open h5py.File as a dict {option: value} (without "--")."""
    raw = f["config"][()]
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    config = {}
    for line in text.splitlines():
        if line.startswith("--") and "=" in line:
            name, value = line[2:].split("=", 1)
            config[name] = value
    return config


def _shape(text):
    """abp's shape words: 'F' -> (F, 1, 1), 'HxW' -> (1, H, W), 'HxWxC' -> (C, H, W)."""
    dims = [int(v) for v in text.split("x")]
    if len(dims) == 1:
        return (dims[0], 1, 1)
    if len(dims) == 2:
        return (1, dims[0], dims[1])
    if len(dims) == 3:
        return (dims[2], dims[0], dims[1])
    raise ValueError(f"'{text}' is not a shape (F, HxW or HxWxC)")


def _pair(word, prefix, one_d):
    """'k5' -> (5, 5), 'k1x25' -> (1, 25); with one_d (deconv1d) 'k25' -> (1, 25)."""
    dims = [int(v) for v in word[len(prefix):].split("x")]
    if len(dims) == 1 and one_d:
        return (0 if prefix in ("p", "op") else 1, dims[0])
    if len(dims) == 1:
        return (dims[0], dims[0])
    return (dims[0], dims[1])


def parse_spec(spec):
    """A spec 'z 30 | linear 7x7x128 | bn | ...' as (latent shape (C, H, W), [(kind, words)])."""
    tokens = [t.split() for t in spec.split("|")]
    if not tokens or not tokens[0] or tokens[0][0] != "z" or len(tokens[0]) != 2:
        raise ValueError(f"spec '{spec}' does not start with 'z SHAPE'")
    return _shape(tokens[0][1]), [(t[0], t[1:]) for t in tokens[1:]]


class _Reshape(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class _Linear(nn.Module):
    """abp's linear: the planar c*h*w input flattened, the output viewed as (C, H, W)."""

    def __init__(self, in_features, out_shape, bias):
        super().__init__()
        self.out_shape = out_shape
        self.fc = nn.Linear(in_features, int(np.prod(out_shape)), bias=bias)

    def forward(self, x):
        return self.fc(x.reshape(x.shape[0], -1)).reshape(x.shape[0], *self.out_shape)


class _Latent(nn.Module):
    """abp's latent N: columns [offset, offset + N) of the latent row, tiled over the
    positions of the features coming down and concatenated after their channels.
    AbpGenerator.forward hands each its code before running the chain."""

    def __init__(self, offset, size):
        super().__init__()
        self.offset, self.size = offset, size
        self.code = None

    def forward(self, x):
        code = self.code.reshape(x.shape[0], self.size, 1, 1).expand(-1, -1, x.shape[2], x.shape[3])
        return torch.cat([x, code.to(x.dtype)], dim=1)


def _conv_geometry(kind, words):
    one_d = kind == "deconv1d"
    channels = int(words[0])
    opts = {"k": None, "s": None, "p": None, "op": None}
    for w in words[1:]:
        key = "op" if w.startswith("op") else w[0]
        if key not in opts:
            raise ValueError(f"'{w}' is not an option of {kind}")
        opts[key] = _pair(w, key, one_d)
    if opts["k"] is None or opts["s"] is None:
        raise ValueError(f"{kind} needs a kernel kN and a stride sN")
    k, s = opts["k"], opts["s"]
    p = opts["p"] or ((k[0] - 1) // 2, (k[1] - 1) // 2)
    op = opts["op"] or (s[0] - 1, s[1] - 1)
    return channels, k, s, p, op


def build_network(spec, group=None):
    """nn.Sequential for spec, with the arrays of the h5py group (e.g. f["model"]) if given;
    returns (network, latent shape, output shape), shapes as (C, H, W). With latent layers
    the latent is one vector per example, (d, 1, 1), d = the top code and every code."""
    latent, layers = parse_spec(spec)
    shape = latent
    modules = []
    offset = int(np.prod(latent))
    for index, (kind, words) in enumerate(layers):
        name = f"{index:02d}_{'deconv' if kind == 'deconv1d' else 'bn' if kind == 'batchnorm' else kind}"
        arrays = group[name] if group is not None and name in group else {}
        has_bias = "bias" in arrays if group is not None else True
        c, h, w = shape
        if kind == "linear":
            out = _shape(words[0])
            m = _Linear(c * h * w, out, has_bias)
            params = {"weight": m.fc.weight, "bias": m.fc.bias}
            shape = out
        elif kind in ("deconv", "deconv1d", "conv"):
            oc, k, s, p, op = _conv_geometry(kind, words)
            if kind == "conv":
                m = nn.Conv2d(c, oc, k, s, p, bias=has_bias)
                shape = (oc, (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1)
            else:
                m = nn.ConvTranspose2d(c, oc, k, s, p, output_padding=op, bias=has_bias)
                shape = (oc, (h - 1) * s[0] - 2 * p[0] + k[0] + op[0],
                         (w - 1) * s[1] - 2 * p[1] + k[1] + op[1])
            params = {"weight": m.weight, "bias": m.bias}
        elif kind in ("bn", "batchnorm"):
            m = nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)
            params = {"weight": m.weight, "bias": m.bias, "running_mean": m.running_mean,
                      "running_var": m.running_var}
        elif kind == "relu":
            m, params = nn.ReLU(), {}
        elif kind == "lrelu":
            m, params = nn.LeakyReLU(float(words[0]) if words else 0.2), {}
        elif kind == "tanh":
            m, params = nn.Tanh(), {}
        elif kind == "sigmoid":
            m, params = nn.Sigmoid(), {}
        elif kind == "reshape":
            shape = _shape(words[0])
            m, params = _Reshape(shape), {}
        elif kind == "latent":
            size = int(words[0])
            m, params = _Latent(offset, size), {}
            offset += size
            shape = (c + size, h, w)
        else:
            raise ValueError(f"layer {index}: unknown kind '{kind}'")
        if group is not None:
            for key, tensor in params.items():
                if tensor is None:
                    continue
                if key not in arrays:
                    raise ValueError(f"/model/{name}/{key} is missing")
                value = torch.from_numpy(np.asarray(arrays[key], dtype=np.float32))
                if tuple(value.shape) != tuple(tensor.shape):
                    raise ValueError(f"/model/{name}/{key} is {tuple(value.shape)}, "
                                     f"the spec makes {tuple(tensor.shape)}")
                with torch.no_grad():
                    tensor.copy_(value)
        modules.append(m)
    if offset > int(np.prod(latent)):
        latent = (offset, 1, 1)
    return nn.Sequential(*modules), latent, shape


class AbpGenerator(nn.Module):
    """g(z) of an abp checkpoint. forward takes z as (N, C, H, W) or (N, C*H*W) (the planar
    order of /latents) and returns (N, C, H, W); latent_shape and output_shape are (C, H, W)."""

    def __init__(self, spec, group=None):
        super().__init__()
        self.spec = spec
        self.net, self.latent_shape, self.output_shape = build_network(spec, group)
        self.top_shape = parse_spec(spec)[0]
        self.codes = [m for m in self.net if isinstance(m, _Latent)]

    def forward(self, z):
        rows = z.reshape(z.shape[0], -1)
        for m in self.codes:
            m.code = rows[:, m.offset:m.offset + m.size]
        top = rows[:, :int(np.prod(self.top_shape))]
        return self.net(top.reshape(z.shape[0], *self.top_shape))

    def sample_latents(self, n, generator=None):
        return torch.randn(n, *self.latent_shape, generator=generator)


def load_generator(path):
    """The generator of an abp checkpoint as an AbpGenerator in evaluation mode (batch norm
    uses the running statistics, as abp sample and reconstruct do)."""
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") not in ("abp-checkpoint", b"abp-checkpoint"):
            raise ValueError(f"{path}: not an abp checkpoint (format attribute "
                             f"{f.attrs.get('format')!r})")
        config = read_config(f)
        if "model" not in config:
            raise ValueError(f"{path}: /config has no --model line")
        g = AbpGenerator(config["model"], f["model"])
    return g.eval()


def load_latents(path):
    """The latents of every training example, (n, C, H, W): /latents rows in planar order."""
    with h5py.File(path, "r") as f:
        _, latent, _ = build_network(read_config(f)["model"])
        rows = np.asarray(f["latents"], dtype=np.float32)
    return torch.from_numpy(rows.reshape(rows.shape[0], *latent))


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: abp_torch.py CHECKPOINT [N]")
    g = load_generator(sys.argv[1])
    print(g.net)
    with torch.no_grad():
        x = g(g.sample_latents(int(sys.argv[2]) if len(sys.argv) == 3 else 4))
    print(f"latent {g.latent_shape} -> output {tuple(x.shape[1:])}, values in "
          f"[{x.min().item():.3f}, {x.max().item():.3f}]")
