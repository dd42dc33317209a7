"""PyTorch reference for DeepTrain's CPU benchmark: ResNet-20 (1 input channel, 28x28, batch 128)
training steps (forward, cross-entropy, backward, SGD momentum step) on synthetic data, 2 threads.
Prints one line: images/s and ms/step.  Run: /usr/bin/python3 benchmarks/reference/resnet20_cpu_train_step.py"""
import argparse, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch
import torch.nn.functional as F
from cifar_resnet import CifarResNet

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch-size", type=int, default=128)
p.add_argument("--size", type=int, default=28)
p.add_argument("--channels", type=int, default=1)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=3)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
model = CifarResNet(20, a.channels, 10)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
x = torch.randn(a.batch_size, a.channels, a.size, a.size)
y = torch.randint(0, 10, (a.batch_size,))

def step():
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()

for _ in range(a.warmup):
    step()
t = time.perf_counter()
for _ in range(a.steps):
    step()
dt = time.perf_counter() - t
print(f"pytorch {torch.__version__} resnet20 (1, {a.channels}, {a.size}, {a.size}) batch {a.batch_size} threads {a.threads}: "
      f"{a.steps * a.batch_size / dt:.1f} images/s, {dt / a.steps * 1000:.1f} ms/step")
