"""PyTorch eager inference, driven by benchmarks/InferenceBench so its rounds alternate with DeepTrain's and ONNX Runtime's.
Loads DeepTrain's checkpoint (model.safetensors, read with the standard library) strictly into the matching module, puts it
in eval mode under torch.no_grad(), runs the input file once and writes the logits (the harness compares them with its own),
then answers commands on stdin, one line each:
  run ITERS WARMUP   -> "ms t1 t2 ..." (milliseconds per forward pass: input copied to the device, forward, logits back on the host)
  quit
Usage: torch_inference.py CHECKPOINT MODEL CxHxW BATCH THREADS DEVICE INPUT.f32 LOGITS.f32"""
import json, os, struct, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np, torch

path, name, chw, batch, threads, device, xin, yout = sys.argv[1:9]
c, h, w = (int(v) for v in chw.split("x"))
batch, threads = int(batch), int(threads)
torch.set_num_threads(threads)
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n]); data = raw[8 + n:]
types = {"F32": np.float32, "I64": np.int64}
sd = {k: torch.from_numpy(np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype=types[v["dtype"]]).reshape(v["shape"]).copy())
      for k, v in header.items() if k != "__metadata__"}
classes = sd["linear.weight" if "linear.weight" in sd else "fc.weight"].shape[0]
if name.startswith("resnet") and name[6:].isdigit() and int(name[6:]) in (20, 32, 44, 56, 110):
    from cifar_resnet import CifarResNet
    m = CifarResNet(int(name[6:]), c, classes)
elif name == "resnet50":
    from imagenet_resnet import ResNet50
    m = ResNet50(c, classes)
else:
    sys.exit(f"torch_inference.py: no PyTorch twin for model '{name}'")
m.load_state_dict(sd, strict=True)
m = m.eval().to(device)
x = torch.from_numpy(np.fromfile(xin, dtype=np.float32).reshape(batch, c, h, w))
cuda = device.startswith("cuda")
if cuda: x = x.pin_memory()


def once():
    with torch.no_grad():
        return m(x.to(device, non_blocking=True)).cpu()   # .cpu() waits for the device


once().numpy().astype(np.float32).tofile(yout)
print(f"ready torch {torch.__version__} threads {torch.get_num_threads()} device {device}"
      + (f" {torch.cuda.get_device_name()}" if cuda else ""), flush=True)
for line in sys.stdin:
    cmd = line.split()
    if not cmd or cmd[0] == "quit": break
    iters, warmup = int(cmd[1]), int(cmd[2])
    for _ in range(warmup): once()
    t = []
    for _ in range(iters):
        t0 = time.perf_counter(); once(); t.append((time.perf_counter() - t0) * 1000)
    print("ms " + " ".join(f"{v:.4f}" for v in t), flush=True)
