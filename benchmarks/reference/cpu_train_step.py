"""PyTorch reference for DeepTrain's CPU training benchmark (benchmarks/cpu_train_vs_pytorch.sh): training steps
(forward, cross-entropy, backward, SGD momentum step) on one synthetic batch, N threads, eager or torch.jit.trace.
Prints its configuration (torch version and build, the BLAS and allocator this process actually mapped, the malloc
environment), then one line: images/s and ms/step.
Run: /usr/bin/python3 benchmarks/reference/cpu_train_step.py --model resnet20 --input 1x28x28 --batch-size 128"""
import argparse, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch
import torch.nn.functional as F
from pytorch_gpu_train import build, parse_input

p = argparse.ArgumentParser()
p.add_argument("--model", default="resnet20", help="resnet20, resnet56, ... (cifar_resnet.py) or resnet50 (torchvision's)")
p.add_argument("--input", default="1x28x28", help="CxHxW")
p.add_argument("--classes", type=int, default=10)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch-size", type=int, default=128)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=3)
p.add_argument("--jit", action="store_true", help="run the model as torch.jit.trace (training mode) instead of eager")
p.add_argument("--label", default="pytorch", help="the side's name on the result line")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
channels, size = parse_input(a.input)
model, what = build(a.model, channels, a.classes)
model.train()
x = torch.randn(a.batch_size, channels, size, size)
y = torch.randint(0, a.classes, (a.batch_size,))
if a.jit:
    model = torch.jit.trace(model, x)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)


def mapped_libraries():
    """The shared objects this process mapped whose names say BLAS, LAPACK, OpenMP or an allocator: what torch really uses."""
    keys = ("blas", "lapack", "gomp", "omp", "jemalloc", "tcmalloc", "mkl")
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "/" in line}
    return sorted(p for p in paths if any(k in os.path.basename(p).lower() for k in keys))


def config_line():
    cfg = torch.__config__.show()
    blas = next((l.strip() for l in cfg.splitlines() if "BLAS_INFO" in l or "Build settings" in l), "?")
    mkldnn = torch.backends.mkldnn.is_available()
    env = {k: os.environ[k] for k in ("LD_LIBRARY_PATH", "LD_PRELOAD", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_",
                                      "OMP_NUM_THREADS", "OMP_WAIT_POLICY") if k in os.environ}
    return (f"config {a.label}: torch {torch.__version__} ({blas.split(',')[0] if blas else '?'}), mkldnn {mkldnn}, "
            f"{'torch.jit.trace' if a.jit else 'eager'}, {what}, threads {torch.get_num_threads()}, "
            f"mapped {mapped_libraries()}, env {env}")


def step():
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()


for _ in range(a.warmup):
    step()
print(config_line(), flush=True)   # after warm-up: BLAS and OpenMP are loaded lazily by the first GEMM
t = time.perf_counter()
for _ in range(a.steps):
    step()
dt = time.perf_counter() - t
print(f"{a.label} {torch.__version__} {a.model} (1, {channels}, {size}, {size}) batch {a.batch_size} threads {a.threads}: "
      f"{a.steps * a.batch_size / dt:.1f} images/s, {dt / a.steps * 1000:.1f} ms/step")
