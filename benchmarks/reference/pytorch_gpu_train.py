"""PyTorch reference for `deeptrain bench --device cuda`: training-step throughput on one GPU.

One step = zero_grad, forward, F.cross_entropy, backward, SGD(lr 0.01, momentum 0.9, weight decay 5e-4)
step -- the step `deeptrain bench` times -- on one synthetic batch kept on the device (normal inputs,
uniform labels), so no data loading is measured. WARMUP untimed steps, then STEPS timed steps between two
torch.cuda.synchronize() calls.

Models (--model, default both in turn):
  resnet20  CIFAR ResNet-20 (He et al. 2015, option-A shortcuts; cifar_resnet.py, the model the CPU
            reference and the golden data use), 3x32x32, batch 128, 10 classes; resnet32/44/56/110 the same
            family deeper (6n+2 layers)
  resnet50  ImageNet ResNet-50 (torchvision.models.resnet50, weights=None; an identical local copy of
            torchvision's v1.5 architecture when torchvision is not installed), 3x224x224, batch 64,
            1000 classes
--batch / --input override the model's defaults. --amp runs the forward and the loss under
torch.autocast (float16 with torch.cuda.amp.GradScaler, or --amp-dtype bfloat16 without a scaler) with
fp32 master weights; --channels-last puts the model and the input in torch.channels_last (NHWC). The
mixed-precision issue's configuration: --model resnet50 --batch 256 --amp --channels-last.

Prints one JSON object per configuration on stdout:
  {"model", "batch", "input", "precision" (fp32 | amp-fp16 | amp-bf16), "layout" (nchw | nhwc),
   "images_per_s", "ms_per_step", "steps", "warmup", "peak_mem_bytes" (torch.cuda.max_memory_allocated
   over warm-up and timed steps), "torch", "cuda", "cudnn", "device", "cudnn_benchmark", "tf32_conv",
   "tf32_matmul", "impl"}
PyTorch's defaults are kept unless asked otherwise: cudnn.benchmark on (--no-cudnn-benchmark turns it
off), TF32 allowed in convolutions and not in matmuls (PyTorch >= 1.12; --tf32 on|off sets both).

Run: python3 benchmarks/reference/pytorch_gpu_train.py [--model resnet20|resnet50|all] [--steps 50]
"""
import argparse
import contextlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch
import torch.nn as nn
import torch.nn.functional as F

from cifar_resnet import CifarResNet

CIFAR_DEPTHS = (20, 32, 44, 56, 110)
DEFAULTS = {  # model -> (input C, H = W, batch, classes)
    **{f"resnet{d}": (3, 32, 128, 10) for d in CIFAR_DEPTHS},
    "resnet50": (3, 224, 64, 1000),
}


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (ResNet v1.5: the stride on the 3x3 convolution)."""
    expansion = 4

    def __init__(self, cin, width, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class LocalResNet50(nn.Module):
    """torchvision.models.resnet50(weights=None), layer for layer, for machines without torchvision."""

    def __init__(self, in_channels=3, classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, stages = 64, []
        for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            layers = []
            for b in range(blocks):
                s = stride if b == 0 else 1
                down = None
                if s != 1 or cin != width * 4:
                    down = nn.Sequential(nn.Conv2d(cin, width * 4, 1, s, bias=False), nn.BatchNorm2d(width * 4))
                layers.append(Bottleneck(cin, width, s, down))
                cin = width * 4
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(2048, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build(model, channels, classes):
    if model != "resnet50":
        depth = int(model[len("resnet"):])
        return CifarResNet(depth, channels, classes), f"cifar_resnet.CifarResNet({depth})"
    try:
        import torchvision
        net = torchvision.models.resnet50(weights=None, num_classes=classes) if hasattr(torchvision.models, "ResNet50_Weights") \
            else torchvision.models.resnet50(pretrained=False, num_classes=classes)
        if channels != 3:
            net.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
        return net, f"torchvision {torchvision.__version__} resnet50"
    except ImportError:
        return LocalResNet50(channels, classes), "local copy of torchvision's resnet50 (torchvision not installed)"


def parse_input(text):
    parts = text.lower().split("x")
    if len(parts) != 3 or parts[1] != parts[2]:
        raise SystemExit(f"--input '{text}' is not valid: expected CxHxW with H = W, e.g. 3x224x224")
    return int(parts[0]), int(parts[1])


def run(a, model_name):
    c, size, batch, classes = DEFAULTS[model_name]
    if a.input:
        c, size = parse_input(a.input)
    batch = a.batch or batch
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch.manual_seed(0)
    net, impl = build(model_name, c, classes)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    net = net.to(dev, memory_format=fmt).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, c, size, size, device=dev).contiguous(memory_format=fmt)
    y = torch.randint(0, classes, (batch,), device=dev)
    amp_dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16}[a.amp_dtype]
    scaler = torch.cuda.amp.GradScaler() if a.amp and amp_dtype == torch.float16 and cuda else None

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=amp_dtype) if a.amp else contextlib.nullcontext():
            loss = F.cross_entropy(net(x), y)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats(dev)
    for _ in range(a.warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    sync()
    dt = time.perf_counter() - t0
    precision = "fp32" if not a.amp else ("amp-fp16" if amp_dtype == torch.float16 else "amp-bf16")
    return {
        "model": model_name, "batch": batch, "input": f"{c}x{size}x{size}", "precision": precision,
        "layout": "nhwc" if a.channels_last else "nchw",
        "images_per_s": round(a.steps * batch / dt, 1), "ms_per_step": round(dt / a.steps * 1000, 3),
        "steps": a.steps, "warmup": a.warmup, "peak_mem_bytes": torch.cuda.max_memory_allocated(dev) if cuda else None,
        "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
        "device": torch.cuda.get_device_name(dev) if cuda else "cpu (smoke test only)", "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "tf32_conv": torch.backends.cudnn.allow_tf32, "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "impl": impl,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=sorted(DEFAULTS) + ["all"], default="all")
    p.add_argument("--batch", type=int, default=None, help="samples per step (default: 128 for resnet20, 64 for resnet50)")
    p.add_argument("--input", default=None, help="CxHxW (default: 3x32x32 for resnet20, 3x224x224 for resnet50)")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--amp", action="store_true", help="autocast the forward and the loss (fp32 master weights)")
    p.add_argument("--amp-dtype", choices=["float16", "bfloat16"], default="float16")
    p.add_argument("--channels-last", action="store_true", help="NHWC activations and weights")
    p.add_argument("--tf32", choices=["default", "on", "off"], default="default")
    p.add_argument("--no-cudnn-benchmark", action="store_true")
    p.add_argument("--device", default="cuda", help="cuda or cuda:N; cpu only to smoke-test this script")
    a = p.parse_args()
    if a.steps < 1 or a.warmup < 0 or (a.batch is not None and a.batch < 1):
        raise SystemExit("--steps must be >= 1, --warmup >= 0 and --batch >= 1")
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"error: torch {torch.__version__} sees no CUDA device (torch.cuda.is_available() is False)")
    torch.backends.cudnn.benchmark = not a.no_cudnn_benchmark
    if a.tf32 != "default":
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = a.tf32 == "on"
    for m in (["resnet20", "resnet50"] if a.model == "all" else [a.model]):
        print(json.dumps(run(a, m)), flush=True)


if __name__ == "__main__":
    main()
