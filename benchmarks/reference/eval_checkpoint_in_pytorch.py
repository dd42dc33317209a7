"""Cross-check: load a DeepTrain ResNet-20 checkpoint (model.safetensors) into PyTorch with strict=True, using only
the standard library to read safetensors, and evaluate it on Fashion-MNIST's test set with the same normalisation.
Run: /usr/bin/python3 benchmarks/reference/eval_checkpoint_in_pytorch.py runs/resnet20-fashion-mnist/model.safetensors"""
import json, struct, sys
sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
import numpy as np, torch
from cifar_resnet import CifarResNet
path = sys.argv[1]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n]); data = raw[8 + n:]
types = {"F32": np.float32, "I64": np.int64}
sd = {}
for k, v in header.items():
    if k == "__metadata__": continue
    b, e = v["data_offsets"]
    sd[k] = torch.from_numpy(np.frombuffer(data[b:e], dtype=types[v["dtype"]]).reshape(v["shape"]).copy())
m = CifarResNet(20, 1, 10)
m.load_state_dict(sd, strict=True)
print("strict load ok;", len(sd), "tensors; metadata:", header["__metadata__"])
import gzip
def idx(p, off):
    return np.frombuffer(gzip.open(p).read()[off:], dtype=np.uint8)
d = "/usr/share/datasets/fashion-mnist/"
train = idx(d + "train-images-idx3-ubyte.gz", 16).astype(np.float64) / 255
mean, std = train.mean(), train.std()
x = ((idx(d + "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28) / 255 - mean) / std).astype(np.float32)
y = idx(d + "t10k-labels-idx1-ubyte.gz", 8)
m.eval(); torch.set_num_threads(2)
with torch.no_grad():
    pred = torch.cat([m(torch.from_numpy(x[i:i + 1000])).argmax(1) for i in range(0, 10000, 1000)]).numpy()
print(f"PyTorch {torch.__version__} evaluating DeepTrain's checkpoint: accuracy {(pred == y).mean() * 100:.2f}% (mean {mean:.6f}, std {std:.6f})")
