"""Writes safetensors_small.safetensors with the Python standard library only (struct + json).

The layout mimics what `safetensors.torch.save_file(state_dict, path, metadata={"format": "pt"})`
produces for a small conv-bn-fc state_dict, so DeepTrain's reader is tested against a file it did
not write:
  * 8-byte little-endian header length N, then N bytes of compact UTF-8 JSON, space-padded so that
    8 + N is a multiple of 8;
  * "__metadata__" first, then the tensors in data order;
  * tensors ordered as safetensors' Rust writer orders them: by dtype, widest alignment first
    (I64, F64, F32, I32, BF16, F16, U8), then by name; packed without gaps; little-endian data.
Each value is the one a C# literal of the same type gives (e.g. 1e-3 rounds to the same fp32),
so the C# test states them as literals and compares bit for bit.

Run: python3 tests/golden/make_safetensors.py   (writes beside this script)
"""
import json
import os
import struct

# (name, dtype, shape, values); values are Python numbers, packed with the struct code below.
CONV1 = [(i - 9) * 0.0625 for i in range(18)]
TENSORS = [
    ("bn1.num_batches_tracked", "I64", [], [7]),
    ("stats.loss_history", "F64", [2], [0.1, -2.5]),
    ("bn1.bias", "F32", [2], [0.5, -0.5]),
    ("bn1.running_mean", "F32", [2], [0.125, -3.0]),
    ("bn1.running_var", "F32", [2], [1.0, 0.25]),
    ("bn1.weight", "F32", [2], [1.5, 2.0]),
    ("conv1.weight", "F32", [2, 1, 3, 3], CONV1),
    ("fc.bias", "F32", [3], [0.0, -1.0, 1e-3]),
    ("labels", "I32", [5], [0, 3, -1, 2147483647, -2147483648]),
    ("emb.weight", "BF16", [4], [1.0, -2.0, 0.15625, 65536.0]),
    ("head.weight", "F16", [2, 2], [1.0, -0.5, 65504.0, 2.0 ** -14]),
    ("mask", "U8", [3], [0, 1, 255]),
]
CODES = {"I64": "<q", "F64": "<d", "F32": "<f", "I32": "<i", "F16": "<e", "U8": "<B"}


def pack(dtype, values):
    if dtype == "BF16":
        # bf16 is the top 16 bits of the fp32 bit pattern; every value above is exact.
        return b"".join(struct.pack("<H", struct.unpack("<I", struct.pack("<f", v))[0] >> 16) for v in values)
    return b"".join(struct.pack(CODES[dtype], v) for v in values)


def main():
    header = {"__metadata__": {"format": "pt"}}
    data = b""
    for name, dtype, shape, values in TENSORS:
        blob = pack(dtype, values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "safetensors_small.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    print(f"wrote {path}: header {len(text)} bytes, data {len(data)} bytes")


if __name__ == "__main__":
    main()
