// Inference latency and throughput, one process, the same weights on every side: a zoo model (seeded) saved as a checkpoint
// and exported to ONNX; DeepTrain serves the checkpoint with InferenceSession (InferenceSession.Load, layers fused), ONNX
// Runtime runs the export (CPU provider, ORT_ENABLE_ALL, intra-op threads = the same count, inter-op 1), and each --torch
// side runs PyTorch eager on the checkpoint in a child process. Sides alternate every round (the order rotates); prints each
// round per side, every round's ratio against DeepTrain, and the medians.
//   latency     <model> <CxHxW> <batch> <threads> <rounds> <iters> <warmup> [options]
//   concurrency <model> <CxHxW> <clients> <threads> <rounds> <requests per client> [options]
//   profile     <model> <CxHxW> <batch> <threads> <iters>      per layer kind, the evaluation plan as compiled and as folded
// options: --device cpu|cuda (ONNX Runtime only on the CPU), --torch LABEL=COMMAND (a Python that has torch, its environment
// in front, e.g. "pytorch=env LD_LIBRARY_PATH=/x /usr/bin/python3"; repeatable), --unfused (also DeepTrain without fusion),
// --split-min-flops N (the smallest convolution split over the threads at a batch below the thread count; measurements)
using System.Globalization;
using DeepTrain.Backends.Cpu;
using DeepTrain.InferenceBench;
using DeepTrain.Tensors;

var inv = CultureInfo.InvariantCulture;
CultureInfo.DefaultThreadCurrentCulture = inv;
Thread.CurrentThread.CurrentCulture = inv;
if (args.Length < 6) { Console.Error.WriteLine("usage: InferenceBench latency|concurrency|profile <model> <CxHxW> <batch|clients> <threads> ... (see Program.cs)"); return 2; }
string mode = args[0];
var positional = args.Skip(1).TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
var options = args.Skip(1 + positional.Length).ToArray();
string Option(string name, string fallback) { int i = Array.IndexOf(options, name); return i >= 0 && i + 1 < options.Length ? options[i + 1] : fallback; }
var torch = options.Select((o, i) => (o, i)).Where(t => t.o == "--torch" && t.i + 1 < options.Length)
    .Select(t => options[t.i + 1].Split('=', 2)).Select(kv => (Label: kv[0], Command: kv[1])).ToArray();
var device = Device.Parse(Option("--device", "cpu"));
int threads = int.Parse(positional[3], inv);
CpuBackend.Threads = threads;
// A measurement knob: the smallest convolution (flops per image) split over the threads when the batch is smaller than them.
if (Option("--split-min-flops", "") is { Length: > 0 } split)
    CpuDirectConv.SplitMinFlops = CpuWinograd.SplitMinFlops = CpuBackend.SplitColumnsMinFlops = long.Parse(split, inv);
using var workload = new Workload(positional[0], positional[1], int.Parse(positional[2], inv), threads, device);
Console.WriteLine($"machine: {Environment.ProcessorCount} CPUs, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}; device {device}");
switch (mode)
{
    case "latency":
        LatencyMode.Run(workload, int.Parse(positional[4], inv), int.Parse(positional[5], inv), int.Parse(positional[6], inv), torch, options.Contains("--unfused"));
        return 0;
    case "concurrency":
        ConcurrencyMode.Run(workload, int.Parse(positional[4], inv), int.Parse(positional[5], inv));
        return 0;
    case "profile":
        ProfileMode.Run(workload, int.Parse(positional[4], inv));
        return 0;
    default:
        Console.Error.WriteLine($"unknown mode '{mode}'; expected latency, concurrency or profile");
        return 2;
}
