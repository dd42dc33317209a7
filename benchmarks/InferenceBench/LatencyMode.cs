using System.Globalization;
using DeepTrain.Tensors;

namespace DeepTrain.InferenceBench;

/// <summary>
/// One batch size: every side first runs for a second (past .NET's tier-0 JIT code), then (DeepTrain first) times ITERS
/// passes per round after WARMUP, the order rotating each round;
/// prints each side's p50/p99 and images/s per round, each round's throughput ratio against DeepTrain, and the medians.
/// First checks that every side's logits match DeepTrain's (max |Δ| relative to the largest logit).
/// </summary>
internal static class LatencyMode
{
    public static void Run(Workload w, int rounds, int iters, int warmup, (string Label, string Command)[] torch, bool unfused)
    {
        var sides = new List<ISide> { new DeepTrainSide("deeptrain", w.DeepTrain([w.Batch], 1), w.Input) };
        try
        {
            if (unfused) sides.Add(new DeepTrainSide("deeptrain-unfused", w.DeepTrain([w.Batch], 1, fuse: false), w.Input));
            if (w.Device.Kind == DeviceKind.Cpu) sides.Add(new OrtSide(w.OnnxRuntime(), w.Input, w.Shape, w.Classes));
            foreach (var (label, command) in torch)
                sides.Add(new TorchSide(label, command, w.Checkpoint, w.ModelName, w.Chw, w.Batch, w.Threads, w.Device.ToString(), w.Input, w.Dir));
            Console.WriteLine($"config: {w.ModelName} input {w.Chw} batch {w.Batch} on {w.Device}, {w.Threads} threads per side; deeptrain: InferenceSession "
                + $"(fp32 NCHW, one plan of {w.Batch}, layers fused); onnxruntime {Workload.OrtVersion}: CPU provider, intra-op {w.Threads}, inter-op 1, "
                + $"ORT_ENABLE_ALL, opset 17; {rounds} rounds x {iters} timed passes after {warmup} warm-up");
            CrossCheck(sides);
            // Steady state before round 1: a .NET side's code is tier-0 JIT code for its first ~100 ms of calls (measured: a
            // batch-1 ResNet-20 pass 1.1-1.8 ms in the first rounds against 0.5 ms later), so every side runs for a second first.
            foreach (var side in sides)
            {
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                while (System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds < WarmSeconds) side.Round(1, 0);
            }
            var p50 = sides.ToDictionary(s => s.Name, _ => new List<double>());
            var p99 = sides.ToDictionary(s => s.Name, _ => new List<double>());
            var ips = sides.ToDictionary(s => s.Name, _ => new List<double>());
            for (int r = 1; r <= rounds; r++)
            {
                var order = sides.Skip((r - 1) % sides.Count).Concat(sides.Take((r - 1) % sides.Count)).ToList();
                var thisRound = new Dictionary<string, double>();
                foreach (var side in order)
                {
                    var ms = side.Round(iters, warmup);
                    double a = Timing.Quantile(ms, 0.5), b = Timing.Quantile(ms, 0.99), t = w.Batch * 1000.0 * ms.Length / ms.Sum();
                    p50[side.Name].Add(a); p99[side.Name].Add(b); ips[side.Name].Add(t); thisRound[side.Name] = t;
                    Console.WriteLine(Inv($"round {r} {side.Name,-22}: p50 {a:F3} ms, p99 {b:F3} ms, fastest {ms.Min():F3} ms, {t:F1} images/s"));
                }
                Console.WriteLine(Inv($"round {r} ratios (deeptrain images/s over each): ")
                    + string.Join(", ", sides.Skip(1).Select(s => Inv($"{s.Name} {thisRound["deeptrain"] / thisRound[s.Name]:F2}"))));
            }
            foreach (var s in sides)
                Console.WriteLine(Inv($"summary {w.ModelName} batch {w.Batch} {s.Name,-22}: median p50 {Timing.Median(p50[s.Name]):F3} ms, median p99 {Timing.Median(p99[s.Name]):F3} ms, ")
                    + Inv($"median {Timing.Median(ips[s.Name]):F1} images/s; deeptrain / this: throughput {Timing.Median(ips["deeptrain"]) / Timing.Median(ips[s.Name]):F2}, ")
                    + Inv($"p50 {Timing.Median(p50[s.Name]) / Timing.Median(p50["deeptrain"]):F2}x deeptrain's"));
        }
        finally
        {
            foreach (var s in sides) s.Dispose();
        }
    }

    /// <summary>Seconds every side runs before the first timed round.</summary>
    private const double WarmSeconds = 1.0;

    /// <summary>Every side's logits against DeepTrain's: the largest difference relative to the largest logit.</summary>
    private static void CrossCheck(List<ISide> sides)
    {
        var reference = sides[0].Logits;
        double scale = reference.Max(v => Math.Abs(v));
        foreach (var s in sides.Skip(1))
        {
            var y = s.Logits;
            if (y.Length != reference.Length) throw new InvalidOperationException($"{s.Name}: {y.Length} logits, deeptrain {reference.Length}");
            double d = y.Zip(reference, (a, b) => Math.Abs(a - b)).Max();
            Console.WriteLine(Inv($"check {s.Name}: max |logit - deeptrain's| = {d:G3} (largest |logit| {scale:G3})"));
            if (!(d <= 1e-3 * Math.Max(scale, 1))) throw new InvalidOperationException($"{s.Name}: logits differ from deeptrain's by {d} (largest {scale}); not the same model");
        }
    }

    internal static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
