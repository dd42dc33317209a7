"""Golden state of one ResNet-20 training step (tests/DeepTrain.Tests/Golden/ResNet20GoldenTests.cs).

Run with Debian's PyTorch (CPU):  /usr/bin/python3 tests/golden/make_resnet20.py

The model is CifarResNet(20, in_channels=1, classes=10) from benchmarks/reference/cifar_resnet.py, whose
parameter names are DeepTrain's. Nothing is random: weights, inputs and labels come from formulas that
C# evaluates to the same float32 bits (a double expression rounded once to float32; both sides call the
C library's sin/cos on the same doubles):

  parameter k (named_parameters order, stored as "parameters"), flat index i:
    rank >= 2 (conv, linear weights):  w[i] = f32( sin(0.37 i + 0.0123 i² + 0.11 k) / sqrt(fan_in) ),  fan_in = prod(shape[1:])
      (the i² term makes the weights look random: a plain sinusoid in i gives every filter the same
      pattern, the channels cancel, batch variances collapse and the gradients become ill-conditioned)
    rank 1 named "weight" (BN gamma):   w[i] = f32( 1 + 0.1 cos(i) )
    rank 1 named "bias" (BN beta, linear bias): w[i] = f32( 0.05 sin(i) )
  input x (4, 1, 28, 28), flat index i:  x[i] = f32( sin(0.7 i) + 0.5 cos(0.013 i) )
  labels: [3, 7, 0, 9]
  BN running statistics start at PyTorch's defaults (mean 0, variance 1).

One step in train mode: logits, cross-entropy loss (mean), every parameter gradient, the BN running
statistics after the forward, and every parameter after one torch.optim.SGD step (lr 0.1, momentum 0.9,
weight_decay 5e-4 on conv and linear weights only: DeepTrain's default groups exclude biases and BN
parameters from decay). Then the eval-mode logits of the updated model.

The step runs in float64 from the float32-exact starting point and is rounded to float32 once when
stored, so the golden values carry no fp32 rounding of their own. The script also runs the same step in
float32 and prints how far PyTorch's own fp32 result is from the float64 one: the scale of error any fp32
implementation with a different accumulation order should expect, which the C# tolerances are set from.

Writes resnet20/step.json (tensor names -> shape, dtype, offset; the parameter list; the formula
fingerprints) and resnet20/step.bin (little-endian float32/int32 concatenated).
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True   # leave no __pycache__ in benchmarks/reference
sys.path.insert(0, os.path.join(HERE, "..", "..", "benchmarks", "reference"))
from cifar_resnet import CifarResNet  # noqa: E402

OUT = os.path.join(HERE, "resnet20")
LR, MOMENTUM, WEIGHT_DECAY = 0.1, 0.9, 5e-4
LABELS = [3, 7, 0, 9]


def parameter_values(k, name, shape):
    n = int(np.prod(shape))
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        v = np.array([math.sin(0.37 * j + 0.0123 * (j * j) + 0.11 * k) for j in range(n)]) / math.sqrt(fan_in)
    elif name.endswith("weight"):
        v = np.array([1 + 0.1 * math.cos(j) for j in range(n)])
    else:
        v = np.array([0.05 * math.sin(j) for j in range(n)])
    return v.astype(np.float32).reshape(shape)


def input_values():
    n = 4 * 28 * 28
    return np.array([math.sin(0.7 * j) + 0.5 * math.cos(0.013 * j) for j in range(n)]).astype(np.float32).reshape(4, 1, 28, 28)


def run(dtype):
    torch.manual_seed(0)   # the constructor's Kaiming init draws; every value is overwritten below
    model = CifarResNet(20, in_channels=1, classes=10).to(dtype)
    names = [n for n, _ in model.named_parameters()]
    with torch.no_grad():
        for k, (name, p) in enumerate(model.named_parameters()):
            p.copy_(torch.from_numpy(parameter_values(k, name, tuple(p.shape)).astype(np.float64)))
    decay = [p for _, p in model.named_parameters() if p.dim() >= 2]       # conv and linear weights
    no_decay = [p for _, p in model.named_parameters() if p.dim() < 2]     # biases, BN gamma and beta
    opt = torch.optim.SGD([{"params": decay, "weight_decay": WEIGHT_DECAY},
                           {"params": no_decay, "weight_decay": 0.0}], lr=LR, momentum=MOMENTUM)
    x = torch.from_numpy(input_values().astype(np.float64)).to(dtype)
    y = torch.tensor(LABELS, dtype=torch.int64)

    model.train()
    opt.zero_grad()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out = {"x": x, "labels": y.to(torch.int32), "logits": logits.detach(), "loss": loss.detach().reshape(1)}
    for name, p in model.named_parameters():
        out["grad." + name] = p.grad.detach().clone()
    for name, b in model.named_buffers():
        if name.endswith("running_mean") or name.endswith("running_var"):
            out["buffer." + name] = b.detach().clone()
    opt.step()
    for name, p in model.named_parameters():
        out["param." + name] = p.detach().clone()
    model.eval()
    with torch.no_grad():
        out["eval_logits"] = model(x)
    return names, out


def main():
    names, gold = run(torch.float64)
    _, f32 = run(torch.float32)

    print(f"torch {torch.__version__}: PyTorch's own fp32 step against the float64 golden values", file=sys.stderr)
    groups = {}
    for key, ref in gold.items():
        if key in ("x", "labels"):
            continue
        d = (f32[key].double() - ref).abs()
        worst = (d / (ref.abs() + 1e-3)).max().item()
        kind = key.split(".")[0]
        g = groups.setdefault(kind, [0.0, 0.0, 0.0])
        g[0] = max(g[0], d.max().item())
        g[1] = max(g[1], worst)
        g[2] = max(g[2], ref.abs().max().item())
    for kind, (absmax, relmax, refmax) in groups.items():
        print(f"  {kind:12s} max |fp32 - fp64| {absmax:.3e}   max |diff|/(|ref| + 1e-3) {relmax:.3e}   max |ref| {refmax:.3e}", file=sys.stderr)

    fingerprints = {}
    for k, name in enumerate(names):
        shape = tuple(gold["param." + name].shape)
        v = parameter_values(k, name, shape).astype(np.float64).ravel()
        fingerprints[name] = {"sum": float(np.sum(v)), "first": float(v[0]), "last": float(v[-1])}

    os.makedirs(OUT, exist_ok=True)
    meta = {"model": "CifarResNet(20, in_channels=1, classes=10)", "torch": torch.__version__,
            "lr": LR, "momentum": MOMENTUM, "weight_decay": WEIGHT_DECAY, "labels": LABELS,
            "parameters": names, "fingerprints": fingerprints, "tensors": {}}
    offset, blobs = 0, []
    for key, t in gold.items():
        a = t.numpy()
        a = np.ascontiguousarray(a, dtype="<i4" if key == "labels" else "<f4")
        meta["tensors"][key] = {"shape": list(a.shape), "dtype": "int32" if key == "labels" else "float32", "offset": offset}
        blobs.append(a.tobytes())
        offset += a.nbytes
    with open(os.path.join(OUT, "step.bin"), "wb") as f:
        f.write(b"".join(blobs))
    head = {k: v for k, v in meta.items() if k not in ("tensors", "fingerprints")}
    lines = ["{"] + [f' "{k}": {json.dumps(v)},' for k, v in head.items()]
    lines.append(' "fingerprints": {')
    lines.append(",\n".join(f'  "{k}": {json.dumps(v)}' for k, v in fingerprints.items()))
    lines.append(" },")
    lines.append(' "tensors": {')
    lines.append(",\n".join(f'  "{k}": {json.dumps(v)}' for k, v in meta["tensors"].items()))
    lines.append(" }")
    lines.append("}")
    with open(os.path.join(OUT, "step.json"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {offset} bytes of tensors to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
