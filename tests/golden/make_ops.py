"""Golden files for DeepTrain's operation tests (tests/DeepTrain.Tests/Golden/OpGoldenTests.cs).

Run with Debian's PyTorch (CPU):  /usr/bin/python3 tests/golden/make_ops.py

For every case this writes ops/<case>.json (op, attributes, and for each tensor its shape, dtype and
byte offset) and ops/<case>.bin (the tensors concatenated, little-endian float32 or int32).

Inputs are drawn from a seeded generator and rounded to float32 first, so DeepTrain reads exactly the
values PyTorch used. Everything else is computed by PyTorch in float64 from those inputs and rounded to
float32 once when stored: the files hold the exact answer to fp32 precision, not PyTorch's own fp32
rounding, so a test's tolerance measures only DeepTrain's error. Gradients are the backward of
L = sum(y * r) for a fixed random r (stored as "dy"), so they are non-trivial; for the losses, whose
output is a scalar, r = 1 and the gradient is that of the loss itself.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops")


def write_case(name, op, attrs, tensors):
    """tensors: name -> numpy array (float arrays are stored as float32, integer arrays as int32)."""
    os.makedirs(OUT, exist_ok=True)
    meta = {"case": name, "op": op, "torch": torch.__version__, "attrs": attrs, "tensors": {}}
    offset, blobs = 0, []
    for key, value in tensors.items():
        a = np.asarray(value)
        if np.issubdtype(a.dtype, np.integer):
            a, dtype = np.ascontiguousarray(a, dtype="<i4"), "int32"
        else:
            a, dtype = np.ascontiguousarray(a, dtype="<f4"), "float32"
        meta["tensors"][key] = {"shape": list(a.shape), "dtype": dtype, "offset": offset}
        blobs.append(a.tobytes())
        offset += a.nbytes
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(b"".join(blobs))
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        f.write(format_json(meta))


def format_json(meta):
    """One line per tensor, so a diff of regenerated files reads well."""
    head = {k: v for k, v in meta.items() if k != "tensors"}
    lines = [f' "{k}": {json.dumps(v)},' for k, v in head.items()]
    rows = [f'  "{k}": {json.dumps(v)}' for k, v in meta["tensors"].items()]
    return "{\n" + "\n".join(lines) + '\n "tensors": {\n' + ",\n".join(rows) + "\n }\n}\n"


class Inputs:
    """Seeded float32-exact inputs, handed to PyTorch as float64 leaves."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def normal(self, *shape, mean=0.0, std=1.0):
        return (mean + std * self.rng.standard_normal(shape)).astype(np.float32)

    def uniform(self, *shape, lo=-1.0, hi=1.0):
        return self.rng.uniform(lo, hi, shape).astype(np.float32)


def leaf(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=True)


def np32(t):
    return t.detach().to(torch.float32).numpy()


# ---- convolution --------------------------------------------------------------------------------

def conv2d_case(name, seed, x_shape, w_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=True):
    g = Inputs(seed)
    x, w = g.normal(*x_shape), g.normal(*w_shape, std=0.3)
    b = g.normal(w_shape[0]) if bias else None
    xt, wt = leaf(x), leaf(w)
    bt = leaf(b) if bias else None
    y = F.conv2d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation, groups=groups)
    r = g.normal(*y.shape)
    (y * torch.from_numpy(r.astype(np.float64))).sum().backward()
    tensors = {"x": x, "w": w}
    if bias:
        tensors["b"] = b
    tensors.update({"dy": r, "y": np32(y), "dx": np32(xt.grad), "dw": np32(wt.grad)})
    if bias:
        tensors["db"] = np32(bt.grad)
    attrs = {"stride_h": stride[0], "stride_w": stride[1], "pad_h": padding[0], "pad_w": padding[1],
             "dilation_h": dilation[0], "dilation_w": dilation[1], "groups": groups, "bias": bias}
    write_case(name, "conv2d", attrs, tensors)


# ---- batch normalisation ------------------------------------------------------------------------

def batchnorm_train_case(name, seed, x_shape, momentum=0.1, eps=1e-5):
    g = Inputs(seed)
    c = x_shape[1]
    x = g.normal(*x_shape, mean=1.5, std=2.0)
    gamma, beta = g.uniform(c, lo=0.5, hi=1.5), g.uniform(c)
    rm0, rv0 = g.uniform(c), g.uniform(c, lo=0.5, hi=2.0)
    bn = (nn.BatchNorm2d if len(x_shape) == 4 else nn.BatchNorm1d)(c, eps=eps, momentum=momentum).double()
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(gamma.astype(np.float64)))
        bn.bias.copy_(torch.from_numpy(beta.astype(np.float64)))
        bn.running_mean.copy_(torch.from_numpy(rm0.astype(np.float64)))
        bn.running_var.copy_(torch.from_numpy(rv0.astype(np.float64)))
    bn.train()
    xt = leaf(x)
    y = bn(xt)
    r = g.normal(*y.shape)
    (y * torch.from_numpy(r.astype(np.float64))).sum().backward()
    dims = [0] + list(range(2, len(x_shape)))
    xd = xt.detach()
    mean = xd.mean(dim=dims)
    var = xd.var(dim=dims, unbiased=False)
    write_case(name, "batchnorm_train", {"momentum": momentum, "eps": eps}, {
        "x": x, "gamma": gamma, "beta": beta, "running_mean0": rm0, "running_var0": rv0, "dy": r,
        "y": np32(y), "dx": np32(xt.grad), "dgamma": np32(bn.weight.grad), "dbeta": np32(bn.bias.grad),
        "running_mean": np32(bn.running_mean), "running_var": np32(bn.running_var),
        "save_mean": np32(mean), "save_invstd": np32(1.0 / torch.sqrt(var + eps)),
    })


def batchnorm_eval_case(name, seed, x_shape, eps=1e-5):
    g = Inputs(seed)
    c = x_shape[1]
    x = g.normal(*x_shape, mean=-0.5, std=1.5)
    gamma, beta = g.uniform(c, lo=0.5, hi=1.5), g.uniform(c)
    rm, rv = g.uniform(c), g.uniform(c, lo=0.5, hi=2.0)
    bn = nn.BatchNorm2d(c, eps=eps).double()
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(gamma.astype(np.float64)))
        bn.bias.copy_(torch.from_numpy(beta.astype(np.float64)))
        bn.running_mean.copy_(torch.from_numpy(rm.astype(np.float64)))
        bn.running_var.copy_(torch.from_numpy(rv.astype(np.float64)))
    bn.eval()
    y = bn(torch.from_numpy(x.astype(np.float64)))
    write_case(name, "batchnorm_eval", {"eps": eps}, {
        "x": x, "gamma": gamma, "beta": beta, "running_mean": rm, "running_var": rv, "y": np32(y)})


# ---- pooling ------------------------------------------------------------------------------------

def pool_case(name, seed, mode, x_shape, kernel, stride, padding=0, integer_values=False):
    g = Inputs(seed)
    # integer_values: many ties inside each window, so the gradient must follow PyTorch's
    # first-maximum rule (row-major scan, strict >) to match.
    x = np.floor(g.uniform(*x_shape, lo=0, hi=3)).astype(np.float32) if integer_values else g.normal(*x_shape)
    xt = leaf(x)
    if mode == "max":
        y = F.max_pool2d(xt, kernel, stride, padding)
    elif mode == "avg_include_pad":
        y = F.avg_pool2d(xt, kernel, stride, padding, count_include_pad=True)
    elif mode == "avg_exclude_pad":
        y = F.avg_pool2d(xt, kernel, stride, padding, count_include_pad=False)
    elif mode == "adaptive_avg":
        y = F.adaptive_avg_pool2d(xt, 1)
    else:
        raise ValueError(mode)
    r = g.normal(*y.shape)
    (y * torch.from_numpy(r.astype(np.float64))).sum().backward()
    write_case(name, "pool2d", {"mode": mode, "kernel": kernel, "stride": stride, "padding": padding},
               {"x": x, "dy": r, "y": np32(y), "dx": np32(xt.grad)})


# ---- dense and activations ----------------------------------------------------------------------

def linear_case(name, seed, n, fin, fout):
    g = Inputs(seed)
    x, w, b = g.normal(n, fin), g.normal(fout, fin, std=0.4), g.normal(fout)
    xt, wt, bt = leaf(x), leaf(w), leaf(b)
    y = F.linear(xt, wt, bt)
    r = g.normal(*y.shape)
    (y * torch.from_numpy(r.astype(np.float64))).sum().backward()
    write_case(name, "linear", {}, {"x": x, "w": w, "b": b, "dy": r, "y": np32(y),
                                    "dx": np32(xt.grad), "dw": np32(wt.grad), "db": np32(bt.grad)})


def activation_case(name, seed, kind, shape, alpha=0.0):
    g = Inputs(seed)
    x = g.normal(*shape, std=2.0)
    x[np.abs(x) < 1e-3] = 0.5   # keep clear of ReLU's kink, where the derivative is a convention
    xt = leaf(x)
    y = {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
         "leaky_relu": lambda v: F.leaky_relu(v, alpha)}[kind](xt)
    r = g.normal(*shape)
    (y * torch.from_numpy(r.astype(np.float64))).sum().backward()
    write_case(name, "activation", {"kind": kind, "alpha": alpha}, {"x": x, "dy": r, "y": np32(y), "dx": np32(xt.grad)})


# ---- losses (mean reduction; gradient of the loss itself) --------------------------------------

def cross_entropy_case(name, seed, n, k, scale=1.0):
    g = Inputs(seed)
    z = g.normal(n, k, std=scale)
    labels = g.rng.integers(0, k, n).astype(np.int32)
    zt = leaf(z)
    loss = F.cross_entropy(zt, torch.from_numpy(labels.astype(np.int64)))
    loss.backward()
    write_case(name, "cross_entropy", {}, {"logits": z, "labels": labels, "loss": np32(loss).reshape(1), "dlogits": np32(zt.grad)})


def mse_case(name, seed, shape):
    g = Inputs(seed)
    p, t = g.normal(*shape), g.normal(*shape)
    pt = leaf(p)
    loss = F.mse_loss(pt, torch.from_numpy(t.astype(np.float64)))
    loss.backward()
    write_case(name, "mse", {}, {"pred": p, "target": t, "loss": np32(loss).reshape(1), "dpred": np32(pt.grad)})


def bce_case(name, seed, shape, scale=1.0):
    g = Inputs(seed)
    z = g.normal(*shape, std=scale)
    t = g.uniform(*shape, lo=0.0, hi=1.0)   # soft targets exercise the −z·t term
    t.flat[::3] = np.round(t.flat[::3])     # and some hard ones
    zt = leaf(z)
    loss = F.binary_cross_entropy_with_logits(zt, torch.from_numpy(t.astype(np.float64)))
    loss.backward()
    write_case(name, "bce_with_logits", {}, {"logits": z, "target": t, "loss": np32(loss).reshape(1), "dlogits": np32(zt.grad)})


def main():
    torch.set_grad_enabled(True)
    # Convolutions: (name, seed, x, w, stride, padding, dilation, groups, bias)
    conv2d_case("conv2d_3x3", 1, (2, 3, 7, 9), (4, 3, 3, 3))
    conv2d_case("conv2d_3x3_s2_p1", 2, (2, 3, 8, 8), (5, 3, 3, 3), stride=(2, 2), padding=(1, 1), bias=False)
    conv2d_case("conv2d_3x3_s2_p1_odd", 3, (3, 4, 9, 7), (6, 4, 3, 3), stride=(2, 2), padding=(1, 1))
    conv2d_case("conv2d_nonsquare", 4, (2, 3, 6, 11), (4, 3, 3, 5), stride=(2, 1), padding=(1, 2))
    conv2d_case("conv2d_dilation2", 5, (2, 3, 9, 10), (4, 3, 3, 3), padding=(2, 2), dilation=(2, 2))
    conv2d_case("conv2d_groups2", 6, (2, 4, 7, 7), (6, 2, 3, 3), padding=(1, 1), groups=2)
    conv2d_case("conv2d_depthwise", 7, (2, 6, 8, 8), (6, 1, 3, 3), stride=(2, 2), padding=(1, 1), groups=6, bias=False)
    conv2d_case("conv2d_depthwise_x2", 8, (2, 3, 7, 7), (6, 1, 3, 3), padding=(1, 1), groups=3)
    conv2d_case("conv2d_1x1_s2", 9, (2, 8, 8, 8), (16, 8, 1, 1), stride=(2, 2), bias=False)
    conv2d_case("conv2d_5x5_p2_wide", 10, (1, 17, 5, 6), (19, 17, 5, 5), padding=(2, 2))

    batchnorm_train_case("batchnorm2d_train", 20, (4, 3, 5, 6))
    batchnorm_train_case("batchnorm2d_train_c19", 21, (2, 19, 3, 5))
    batchnorm_train_case("batchnorm1d_train", 22, (8, 5))
    batchnorm_eval_case("batchnorm2d_eval", 23, (3, 4, 5, 5))

    pool_case("maxpool_k2_s2", 30, "max", (2, 3, 8, 10), 2, 2)
    pool_case("maxpool_k3_s2_p1", 31, "max", (2, 3, 7, 9), 3, 2, 1)
    pool_case("maxpool_k3_s1_p1", 32, "max", (2, 2, 6, 5), 3, 1, 1)
    pool_case("maxpool_k3_s2_ties", 33, "max", (2, 2, 7, 7), 3, 2, 0, integer_values=True)
    pool_case("avgpool_k2_s2", 34, "avg_include_pad", (2, 3, 8, 10), 2, 2)
    pool_case("avgpool_k3_s2_p1_include_pad", 35, "avg_include_pad", (2, 3, 7, 9), 3, 2, 1)
    pool_case("avgpool_k3_s2_p1_exclude_pad", 36, "avg_exclude_pad", (2, 3, 7, 9), 3, 2, 1)
    pool_case("adaptive_avgpool_1", 37, "adaptive_avg", (2, 5, 7, 6), 0, 0)

    linear_case("linear", 40, 5, 7, 4)
    linear_case("linear_wide", 41, 3, 67, 33)

    activation_case("relu", 50, "relu", (3, 43))
    activation_case("leaky_relu_0.1", 51, "leaky_relu", (3, 43), alpha=0.1)
    activation_case("leaky_relu_0.01", 52, "leaky_relu", (2, 37), alpha=0.01)
    activation_case("sigmoid", 53, "sigmoid", (3, 43))
    activation_case("tanh", 54, "tanh", (3, 43))

    cross_entropy_case("cross_entropy", 60, 6, 10)
    cross_entropy_case("cross_entropy_large_logits", 61, 5, 7, scale=40.0)   # e^z overflows fp32 unless shifted
    mse_case("mse", 62, (4, 5))
    bce_case("bce_with_logits", 63, (4, 5))
    bce_case("bce_with_logits_large", 64, (3, 7), scale=40.0)   # log(1 + e^−|z|) must not overflow

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"torch {torch.__version__}: wrote {len(os.listdir(OUT)) // 2} cases, {total} bytes to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
