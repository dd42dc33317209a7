#!/usr/bin/env python3
"""Writes the deterministic Fashion-MNIST subset that travels with the GPU device check.

    fashion_mnist_subset.py SRC_DIR DST_DIR [--per-class N]

SRC_DIR holds the four IDX files (.gz, as Debian's dataset-fashion-mnist installs them). DST_DIR receives
files of the same names, so DEEPTRAIN_DATA=<parent of DST_DIR> makes `DatasetCatalog.Load("fashion-mnist")`
read them unchanged:
  - training set: the first N images of each class in file order (default 3,000 per class: 30,000 of 60,000,
    class-balanced; images keep their file order, so the subset is the same on every machine);
  - test set: all 10,000 images, so the accuracy comparison keeps its full resolution (1 image = 0.01 points).
The gzip streams are written with mtime 0 and no file name, so the same input gives the same bytes.
"""
import argparse
import gzip
import os
import struct
import sys

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def read_idx(path, magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or struct.unpack(">I", data[:4])[0] != magic:
        raise SystemExit(f"error: {path}: not an IDX file with magic 0x{magic:08x}")
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    body = data[4 + 4 * dims:]
    item = 1
    for d in shape[1:]:
        item *= d
    if len(body) != shape[0] * item:
        raise SystemExit(f"error: {path}: {len(body)} data bytes, the header promises {shape[0] * item}")
    return shape, item, body


def write_idx(path, magic, shape, body):
    header = struct.pack(">I", magic) + struct.pack(">" + "I" * len(shape), *shape)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
        f.write(header + body)


def subset(src, dst, images_name, labels_name, per_class):
    ishape, isize, images = read_idx(os.path.join(src, images_name), 0x00000803)
    lshape, _, labels = read_idx(os.path.join(src, labels_name), 0x00000801)
    if ishape[0] != lshape[0]:
        raise SystemExit(f"error: {images_name} has {ishape[0]} images but {labels_name} has {lshape[0]} labels")
    if per_class is None:
        keep = range(ishape[0])
    else:
        taken, keep = {}, []
        for i, y in enumerate(labels):
            if taken.get(y, 0) < per_class:
                taken[y] = taken.get(y, 0) + 1
                keep.append(i)
    write_idx(os.path.join(dst, images_name), 0x00000803, (len(keep),) + tuple(ishape[1:]),
              b"".join(images[i * isize:(i + 1) * isize] for i in keep))
    write_idx(os.path.join(dst, labels_name), 0x00000801, (len(keep),), bytes(labels[i] for i in keep))
    return len(keep), ishape[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--per-class", type=int, default=3000, help="training images kept per class (default 3000)")
    a = p.parse_args()
    if a.per_class < 1:
        raise SystemExit("error: --per-class must be at least 1")
    os.makedirs(a.dst, exist_ok=True)
    kept, total = subset(a.src, a.dst, *FILES["train"], a.per_class)
    tkept, _ = subset(a.src, a.dst, *FILES["test"], None)
    print(f"fashion-mnist subset: {kept} of {total} training images ({a.per_class} per class), all {tkept} test images -> {a.dst}")


if __name__ == "__main__":
    sys.exit(main())
