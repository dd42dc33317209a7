"""Golden files for torch.nn.TripletMarginLoss (tests/DeepTrain.Tests/Losses/TripletMarginLossTests.cs).

Run with Debian's PyTorch (CPU):  /usr/bin/python3 tests/golden/make_triplet.py

Writes triplet/<case>.json and triplet/<case>.bin in make_ops.py's format. The embeddings are one
(3B, D) tensor, as DeepTrain's TripletMarginLoss reads a model's output: rows [0, B) are the anchors,
[B, 2B) the positives, [2B, 3B) the negatives. Inputs are seeded and rounded to float32; the loss and
its gradient are computed by PyTorch in float64 from them (pairwise_distance puts eps inside the norm:
d(x, y) = ||x - y + eps||_2) and stored as float32.
"""
import os

import numpy as np
import torch

sys_path = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(sys_path, "triplet")

import sys  # noqa: E402

sys.path.insert(0, sys_path)
from make_ops import format_json  # noqa: E402


def write_case(name, attrs, tensors):
    os.makedirs(OUT, exist_ok=True)
    meta = {"case": name, "op": "triplet_margin_loss", "torch": torch.__version__, "attrs": attrs, "tensors": {}}
    offset, blobs = 0, []
    for key, value in tensors.items():
        a = np.ascontiguousarray(np.asarray(value), dtype="<f4")
        meta["tensors"][key] = {"shape": list(a.shape), "dtype": "float32", "offset": offset}
        blobs.append(a.tobytes())
        offset += a.nbytes
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(b"".join(blobs))
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        f.write(format_json(meta))


def case(name, seed, b, d, margin, eps=1e-6, same_positive=()):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((3 * b, d)).astype(np.float32)
    for i in same_positive:          # positive equal to its anchor: d(a, p) = ||eps||, a kink-free point
        e[b + i] = e[i]
    x = torch.tensor(e, dtype=torch.float64, requires_grad=True)
    loss_fn = torch.nn.TripletMarginLoss(margin=margin, p=2, eps=eps, swap=False, reduction="mean")
    loss = loss_fn(x[:b], x[b:2 * b], x[2 * b:])
    loss.backward()
    write_case(name, {"margin": margin, "eps": eps, "triplets": b},
               {"embeddings": e, "loss": loss.detach().numpy().reshape(1), "grad": x.grad.numpy()})


def main():
    case("margin1_b6_d5", seed=1, b=6, d=5, margin=1.0)
    case("margin0.5_b8_d16_same_positive", seed=2, b=8, d=16, margin=0.5, same_positive=(0, 3))
    case("margin2_b3_d130", seed=3, b=3, d=130, margin=2.0)


if __name__ == "__main__":
    main()
