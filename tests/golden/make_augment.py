"""Golden files for DeepTrain's augmentation tests (tests/DeepTrain.Tests/Data/AugmentationGoldenTests.cs).

Run with Debian's PyTorch (CPU):  /usr/bin/python3 tests/golden/make_augment.py

torchvision is not installed here, so this script spells out, with torch operations, what torchvision's
tensor path does (torchvision/transforms/functional.py and _functional_tensor.py):
  * affine: _get_inverse_affine_matrix about the image centre, _gen_affine_grid, and _apply_grid_transform
    with fill=[0.0]*C (RandomAffine's default fill=0): a ones mask channel goes through
    F.grid_sample(mode="bilinear", padding_mode="zeros", align_corners=False) with the image, and the result
    is img*mask + (1 - mask)*fill;
  * colour jitter: _blend(img, other, f) = clamp(f*img + (1-f)*other, 0, 1) with other = 0 (brightness),
    mean(rgb_to_grayscale(img)) (contrast; the image's own mean for one channel) and rgb_to_grayscale(img)
    (saturation), rgb_to_grayscale = 0.2989 r + 0.587 g + 0.114 b.
All in float32, as torchvision computes on a float32 image. Writes augment/<case>.json and .bin in the
format of make_ops.py.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "augment")


def write_case(name, op, attrs, tensors):
    os.makedirs(OUT, exist_ok=True)
    meta = {"case": name, "op": op, "torch": torch.__version__, "attrs": attrs, "tensors": {}}
    offset, blobs = 0, []
    for key, value in tensors.items():
        a = np.ascontiguousarray(np.asarray(value), dtype="<f4")
        meta["tensors"][key] = {"shape": list(a.shape), "dtype": "float32", "offset": offset}
        blobs.append(a.tobytes())
        offset += a.nbytes
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(b"".join(blobs))
    head = {k: v for k, v in meta.items() if k != "tensors"}
    lines = [f' "{k}": {json.dumps(v)},' for k, v in head.items()]
    rows = [f'  "{k}": {json.dumps(v)}' for k, v in meta["tensors"].items()]
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        f.write("{\n" + "\n".join(lines) + '\n "tensors": {\n' + ",\n".join(rows) + "\n }\n}\n")


def inverse_affine_matrix(angle, tx, ty):
    """torchvision _get_inverse_affine_matrix with center (0, 0) (the tensor path), scale 1, no shear."""
    rot = math.radians(angle)
    a, b, c, d = math.cos(rot), -math.sin(rot), math.sin(rot), math.cos(rot)
    m = [d, -b, 0.0, -c, a, 0.0]
    m[2] += m[0] * (-tx) + m[1] * (-ty)
    m[5] += m[3] * (-tx) + m[4] * (-ty)
    return m


def affine(img, angle, tx, ty):
    """torchvision F.affine on a float32 (C, H, W) tensor: bilinear, fill 0."""
    c, h, w = img.shape
    theta = torch.tensor(inverse_affine_matrix(angle, tx, ty), dtype=torch.float32).reshape(1, 2, 3)
    base = torch.empty(1, h, w, 3, dtype=torch.float32)
    base[..., 0].copy_(torch.linspace(-w * 0.5 + 0.5, w * 0.5 + 0.5 - 1, steps=w))
    base[..., 1].copy_(torch.linspace(-h * 0.5 + 0.5, h * 0.5 + 0.5 - 1, steps=h).unsqueeze_(-1))
    base[..., 2].fill_(1)
    rescaled = theta.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h], dtype=torch.float32)
    grid = base.view(1, h * w, 3).bmm(rescaled).view(1, h, w, 2)
    x = torch.cat((img.unsqueeze(0), torch.ones(1, 1, h, w)), dim=1)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    mask, y = y[:, -1:], y[:, :-1]
    fill = torch.zeros(1, c, 1, 1).expand_as(y)
    return (y * mask + (1.0 - mask) * fill)[0]


def gray(img):
    r, g, b = img.unbind(dim=-3)
    return (0.2989 * r + 0.587 * g + 0.114 * b).unsqueeze(dim=-3)


def blend(img, other, f):
    return (f * img + (1.0 - f) * other).clamp(0, 1.0)


def jitter(img, factors, order):
    """factors: (brightness, contrast, saturation); order: the adjustments' indices in turn."""
    for k in order:
        f = factors[k]
        if k == 0:
            img = blend(img, torch.zeros_like(img), f)
        elif k == 1:
            mean = torch.mean(gray(img) if img.shape[0] == 3 else img, dim=(-3, -2, -1), keepdim=True)
            img = blend(img, mean, f)
        elif img.shape[0] == 3:
            img = blend(img, gray(img), f)
    return img


def main():
    rng = np.random.default_rng(5)
    # Pixel values as the loader makes them: byte/255 in float32.
    for name, (c, h, w, angle, tx, ty) in {
        "affine_rot3": (3, 7, 9, 3.0, 0, 0),
        "affine_rot-4.5_shift": (1, 8, 8, -4.5, 2, -1),
        "affine_rot1.25_shift": (3, 6, 5, 1.25, -1, 3),
        "affine_shift_only": (2, 5, 6, 0.0, 3, 2),
    }.items():
        img = torch.from_numpy((rng.integers(0, 256, size=(c, h, w)).astype(np.float32) / np.float32(255)))
        write_case(name, "affine", {"angle": angle, "tx": tx, "ty": ty}, {"x": img, "y": affine(img, angle, tx, ty)})
    for name, (c, h, w, factors, order) in {
        "jitter_rgb_bcs": (3, 5, 7, (1.3, 0.6, 1.7), (0, 1, 2)),
        "jitter_rgb_scb": (3, 6, 4, (0.55, 1.45, 0.2), (2, 1, 0)),
        "jitter_rgb_cbs": (3, 4, 4, (1.9, 1.8, 0.0), (1, 0, 2)),
        "jitter_gray_cb": (1, 6, 6, (0.7, 1.6, 1.0), (1, 0, 2)),
    }.items():
        img = torch.from_numpy((rng.integers(0, 256, size=(c, h, w)).astype(np.float32) / np.float32(255)))
        write_case(name, "jitter", {"brightness": factors[0], "contrast": factors[1], "saturation": factors[2], "order": list(order)},
                   {"x": img, "y": jitter(img, factors, order)})


if __name__ == "__main__":
    main()
