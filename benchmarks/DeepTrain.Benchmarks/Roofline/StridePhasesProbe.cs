using System.Globalization;
using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Tensors;

namespace DeepTrain.Benchmarks.Roofline;

/// <summary>
/// <c>roofline stride2</c>: the strided data gradient by stride phases (<c>CpuStridePhases</c>, the default) against dcol +
/// col2im (<c>DEEPTRAIN_CPU_CONV=im2col</c>) on the ResNet stride-2 shapes (3×3 pad 1 and the -b models' 1×1 projections, at
/// ResNet-20's Fashion-MNIST and the CIFAR ResNets' sizes), alternating the two round by round (the order flips every round;
/// each side's fastest of a few calls per round): each side's fastest and median milliseconds, GFLOP/s of the fastest
/// (2·N·K·C·R·S·OH·OW), and the ratio col2im ÷ phases of the fastest times and the median of the per-round ratios (above 1,
/// phases is faster). The same shapes' forward and filter gradient (one path) are timed alongside for scale.
/// </summary>
internal static class StridePhasesProbe
{
    public static void Run(int threads, int rounds, int batch)
    {
        var inv = CultureInfo.InvariantCulture;
        CpuBackend.Threads = threads;
        Console.WriteLine($"\n## Strided data gradient: stride phases against col2im ({threads} threads, batch {batch}, {rounds} rounds, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})\n");
        Console.WriteLine("| C→K, H×W, kernel | col2im ms min / median | phases ms min / median | GFLOP/s col2im → phases | ratio of mins | per-round ratios min–max | median ratio | forward / filter grad GFLOP/s |\n|---|---|---|---|---|---|---|---|");
        using var b = new CpuBackend();
        foreach (var (c, h, r) in new[] { (16, 28, 3), (32, 14, 3), (16, 32, 3), (32, 16, 3), (16, 28, 1), (32, 14, 1), (16, 32, 1), (32, 16, 1) })
        {
            int k = 2 * c, oh = h / 2;
            var spec = ConvSpec.Square(2, r / 2);
            using var x = Tensor.Create(Shape.Of(batch, c, h, h)); using var y = Tensor.Create(Shape.Of(batch, k, oh, oh));
            using var w = Tensor.Create(Shape.Of(k, c, r, r));
            WinogradProbe.Fill(x, 1); WinogradProbe.Fill(w, 2); WinogradProbe.Fill(y, 3);
            double flops = 2.0 * batch * k * c * r * r * oh * oh;
            int reps = (int)Math.Clamp(1.5e8 / flops, 3, 100);
            // The probe's "Winograd" side is the default rule, which takes stride phases for every strided data gradient.
            var (tc, tp) = WinogradProbe.Alternate(() => b.Conv2dBackwardData(y, w, x, spec, accumulate: false), reps, rounds);
            var ratios = tc.Zip(tp, (a, v) => a / v).ToList();
            double Best(Action call) { call(); double best = double.MaxValue; for (int i = 0; i < reps; i++) { long t0 = System.Diagnostics.Stopwatch.GetTimestamp(); call(); best = Math.Min(best, System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds); } return best; }
            double fwd = Best(() => b.Conv2dForward(x, w, null, y, spec));
            double filt = Best(() => b.Conv2dBackwardFilter(x, y, w, null, spec, accumulate: false));
            Console.WriteLine(string.Create(inv, $"| {c}→{k}, {h}×{h}, {r}×{r} s2 | {tc.Min() * 1e3:F3} / {ImageBatching.Median(tc) * 1e3:F3} | {tp.Min() * 1e3:F3} / {ImageBatching.Median(tp) * 1e3:F3} | {flops / tc.Min() / 1e9:F1} → {flops / tp.Min() / 1e9:F1} | {tc.Min() / tp.Min():F2} | {ratios.Min():F2}–{ratios.Max():F2} | {ImageBatching.Median(ratios):F2} | {flops / fwd / 1e9:F1} / {flops / filt / 1e9:F1} |"));
        }
        Console.WriteLine($"\nload average at the end {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
    }
}
