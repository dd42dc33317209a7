"""Memory-bandwidth reference for DeepTrain's fused optimizer and loss-scaling kernels: PyTorch's own
fused kernels on the same GPU, against a plain device-to-device copy measured in the same run.

  adamw_fused  torch.optim.AdamW(params, fused=True).step() over N fp32 parameters split into T tensors.
               Bytes moved per parameter: read w, g, m, v and write w, m, v = 7 x 4 = 28 B, so
               GB/s = 28*N / seconds per step (the step-count and scalar traffic is ignored).
  unscale      torch._amp_foreach_non_finite_check_and_unscale_(grads, found_inf, inv_scale), the
               GradScaler.unscale_ kernel: read g, write g = 8 B per parameter.
  copy         dst.copy_(src) of the same 4*N-float (16N-byte) buffers every optimizer state occupies;
               2 bytes moved per byte copied, GB/s = 2 * bytes / seconds: the practical peak the two
               kernels are compared with ("fraction_of_copy").
Defaults: N = 25,557,032 (ResNet-50's parameter count) in T = 161 tensors (ResNet-50's parameter
tensors), sizes as equal as possible. Each figure is the median of --repeats timings of --iters calls
after --warmup calls, timed with CUDA events.

Prints one JSON object per kernel: {"kernel", "params", "tensors", "bytes_per_call", "ms", "gb_s",
"fraction_of_copy", "torch", "cuda", "device"}.
Run: python3 benchmarks/reference/pytorch_fused_adamw.py [--params N] [--tensors T]
"""
import argparse
import json
import statistics

import torch


def timed(fn, iters, warmup, repeats, cuda):
    """Median milliseconds per call of fn over `repeats` runs of `iters` calls."""
    for _ in range(warmup):
        fn()
    results = []
    for _ in range(repeats):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(iters):
                fn()
            end.record()
            end.synchronize()
            results.append(start.elapsed_time(end) / iters)
        else:
            import time
            t = time.perf_counter()
            for _ in range(iters):
                fn()
            results.append((time.perf_counter() - t) * 1000 / iters)
    return statistics.median(results)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--params", type=int, default=25_557_032)
    p.add_argument("--tensors", type=int, default=161)
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="cuda", help="cuda or cuda:N; cpu only to smoke-test this script (no fused kernels)")
    a = p.parse_args()
    if a.params < a.tensors or a.tensors < 1 or a.iters < 1 or a.repeats < 1:
        raise SystemExit("need --params >= --tensors >= 1, --iters >= 1 and --repeats >= 1")
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit(f"error: torch {torch.__version__} sees no CUDA device (torch.cuda.is_available() is False)")
    torch.manual_seed(0)
    n, t = a.params, a.tensors
    sizes = [n // t + (1 if i < n % t else 0) for i in range(t)]
    params = [torch.nn.Parameter(torch.randn(s, device=dev) * 0.05) for s in sizes]
    for q in params:
        q.grad = torch.randn_like(q) * 1e-3
    try:
        opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-2, **({"fused": True} if cuda else {}))
    except (TypeError, RuntimeError) as e:
        raise SystemExit(f"error: torch {torch.__version__} has no fused AdamW here ({e}); it needs PyTorch >= 2.0")
    opt.step()   # creates m and v, so the timed steps do no allocation
    info = {"torch": torch.__version__, "cuda": torch.version.cuda,
            "device": torch.cuda.get_device_name(dev) if cuda else "cpu (smoke test only)"}

    src = torch.randn(4 * n, device=dev)
    dst = torch.empty_like(src)
    copy_bytes = 2 * src.numel() * 4
    copy_ms = timed(lambda: dst.copy_(src), a.iters, a.warmup, a.repeats, cuda)
    copy_gbs = copy_bytes / (copy_ms * 1e-3) / 1e9
    rows = [{"kernel": "copy", "params": n, "tensors": 1, "bytes_per_call": copy_bytes, "ms": copy_ms, "gb_s": copy_gbs,
             "fraction_of_copy": 1.0}]

    adam_ms = timed(opt.step, a.iters, a.warmup, a.repeats, cuda)
    adam_bytes = 28 * n
    rows.append({"kernel": "adamw_fused" if cuda else "adamw_foreach_cpu", "params": n, "tensors": t, "bytes_per_call": adam_bytes,
                 "ms": adam_ms, "gb_s": adam_bytes / (adam_ms * 1e-3) / 1e9})

    if cuda:
        grads = [q.grad for q in params]
        found_inf = torch.zeros(1, device=dev)
        inv_scale = torch.ones(1, device=dev)   # 1: the gradients keep their values over the repetitions
        unscale_ms = timed(lambda: torch._amp_foreach_non_finite_check_and_unscale_(grads, found_inf, inv_scale),
                           a.iters, a.warmup, a.repeats, cuda)
        rows.append({"kernel": "unscale", "params": n, "tensors": t, "bytes_per_call": 8 * n, "ms": unscale_ms,
                     "gb_s": 8 * n / (unscale_ms * 1e-3) / 1e9})
    for r in rows:
        r["fraction_of_copy"] = round(r["gb_s"] / copy_gbs, 3)
        r["ms"] = round(r["ms"], 4)
        r["gb_s"] = round(r["gb_s"], 1)
        print(json.dumps({**r, **info}), flush=True)


if __name__ == "__main__":
    main()
