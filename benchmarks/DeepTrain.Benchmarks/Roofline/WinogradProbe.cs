using System.Diagnostics;
using System.Globalization;
using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Tensors;

namespace DeepTrain.Benchmarks.Roofline;

/// <summary>
/// Where does Winograd F(2×2, 3×3) beat implicit im2col? For 3×3 stride-1 pad-1 shapes (C = K channels, H×W input) at
/// batches 1, 8 and 128, times the forward and the data gradient both ways, alternating the two paths round by round,
/// and prints effective GFLOP/s (2·N·K·C·9·H·W, the direct convolution's flops, for both; each side's fastest call of a
/// round, the figure least disturbed by other load on a shared machine) with each round's ratio
/// Winograd / im2col (time of im2col over time of Winograd: above 1, Winograd is faster). The auto rule
/// (<c>CpuBackend.UseWinograd</c>) is set from this table.
/// </summary>
internal static class WinogradProbe
{
    public static void Run(int threads, int rounds)
    {
        var inv = CultureInfo.InvariantCulture;
        CpuBackend.Threads = threads;
        Console.WriteLine($"\n## Winograd F(2×2,3×3) against implicit im2col (3×3 s1 p1, {threads} threads, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})\n");
        Console.WriteLine("| C→K, H×W | batch | pass | im2col GFLOP/s | Winograd GFLOP/s | per-round ratios | median |\n|---|---|---|---|---|---|---|");
        using var b = new CpuBackend();
        foreach (var (c, h) in new[] { (4, 28), (8, 28), (16, 28), (32, 14), (64, 7), (16, 32), (32, 16), (64, 8), (128, 14), (256, 7) })
            foreach (int n in new[] { 1, 8, 128 })
            {
                if (n == 128 && c > 64) continue;
                var x = Tensor.Create(Shape.Of(n, c, h, h)); var y = Tensor.Create(Shape.Of(n, c, h, h));
                var w = Tensor.Create(Shape.Of(c, c, 3, 3)); var bias = Tensor.Create(Shape.Of(c));
                Fill(x, 1); Fill(w, 2); Fill(y, 3); Fill(bias, 4);
                var spec = ConvSpec.Square(1, 1);
                double flops = 2.0 * n * c * c * 9 * h * h;
                int reps = (int)Math.Clamp(1.5e8 / flops, 3, 500);
                foreach (string pass in new[] { "forward", "data grad" })
                {
                    void Call() { if (pass == "forward") b.Conv2dForward(x, w, bias, y, spec); else b.Conv2dBackwardData(y, w, x, spec, accumulate: false); }
                    var (ti, tw) = Alternate(Call, reps, rounds);
                    var ratios = ti.Zip(tw, (a, v) => a / v).ToList();
                    Console.WriteLine(string.Create(inv, $"| {c}→{c}, {h}×{h} | {n} | {pass} | {flops / ImageBatching.Median(ti) / 1e9:F1} | {flops / ImageBatching.Median(tw) / 1e9:F1} | {string.Join(" ", ratios.Select(v => v.ToString("F2", inv)))} | {ImageBatching.Median(ratios):F2} |"));
                }
                x.Dispose(); y.Dispose(); w.Dispose(); bias.Dispose();
            }
    }

    /// <summary>
    /// The ResNet-20/56 shapes (16, 32, 64 channels at 28/14/7 and 32/16/8 pixels, 3×3 s1 p1) at batches 128, 32 and 8, each
    /// call kind (forward, data gradient, filter gradient) timed both ways over <paramref name="rounds"/> alternating rounds
    /// (the order flips every round; each side's fastest of a few calls per round): each side's fastest and median
    /// milliseconds, and the ratio im2col ÷ Winograd of the fastest times and the median of the per-round ratios. Sets
    /// <c>CpuBackend.UseWinograd</c>'s per-pass floors (<c>roofline winograd-rule</c>).
    /// </summary>
    public static void RunRule(int threads, int rounds)
    {
        var inv = CultureInfo.InvariantCulture;
        CpuBackend.Threads = threads;
        Console.WriteLine($"\n## Winograd against im2col per call kind ({threads} threads, {rounds} rounds, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})\n");
        Console.WriteLine("| C→K, H×W | batch | pass | im2col ms min / median | Winograd ms min / median | ratio of mins | per-round ratios min–max | median ratio |\n|---|---|---|---|---|---|---|---|");
        using var b = new CpuBackend();
        EachCall(b, [(16, 28), (32, 14), (64, 7), (16, 32), (32, 16), (64, 8)], (c, h, n, pass, call, reps) =>
        {
            var (ti, tw) = Alternate(call, reps, rounds);
            PrintRow(c, h, n, pass, ti, tw);
        });
        Console.WriteLine($"\nload average at the end {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
    }

    /// <summary>
    /// Several tile rows per Winograd transform vector against one (<c>CpuWinograd.OneRowPerVector</c>): at batches 128, 32 and 8,
    /// every call kind on Winograd, over <paramref name="rounds"/> alternating rounds (the order flips every round; each side's
    /// fastest of a few calls per round). Ratio = one row ÷ several: above 1, several rows per vector is faster. Same bits either
    /// way. <paramref name="pairs"/> false: four rows, the 64-channel 7×7 and 8×8 shapes (<c>roofline winograd-quad</c>); true:
    /// two rows, the 32-channel 14×14 and 16×16 shapes (<c>roofline winograd-pair</c>).
    /// </summary>
    public static void RunRows(int threads, int rounds, bool pairs)
    {
        CpuBackend.Threads = threads;
        string many = pairs ? "two" : "four";
        Console.WriteLine($"\n## Winograd transforms: {many} tile rows per vector against one ({threads} threads, {rounds} rounds, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})\n");
        Console.WriteLine($"| C→K, H×W | batch | pass | one row ms min / median | {many} rows ms min / median | ratio of mins | per-round ratios min–max | median ratio |\n|---|---|---|---|---|---|---|---|");
        using var b = new CpuBackend();
        using var scope = CpuBackend.UseConvAlgorithm(CpuConvAlgorithm.Winograd);
        EachCall(b, pairs ? [(32, 14), (32, 16)] : [(64, 7), (64, 8)], (c, h, n, pass, call, reps) =>
        {
            var (one, several) = Alternate(call, reps, rounds, multi => { CpuWinograd.OneRowPerVector = !multi; return null; });
            CpuWinograd.OneRowPerVector = false;
            PrintRow(c, h, n, pass, one, several);
        });
        Console.WriteLine($"\nload average at the end {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
    }

    /// <summary>One table row: each side's fastest and median ms, the ratio of the fastest, and the per-round ratios a ÷ b.</summary>
    private static void PrintRow(int c, int h, int n, string pass, List<double> a, List<double> b)
    {
        var ratios = a.Zip(b, (x, y) => x / y).ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {c}→{c}, {h}×{h} | {n} | {pass} | {a.Min() * 1e3:F3} / {ImageBatching.Median(a) * 1e3:F3} | {b.Min() * 1e3:F3} / {ImageBatching.Median(b) * 1e3:F3} | {a.Min() / b.Min():F2} | {ratios.Min():F2}–{ratios.Max():F2} | {ImageBatching.Median(ratios):F2} |"));
    }

    /// <summary>
    /// For each (C, H) shape (3×3 s1 p1, C = K, seeded data) at batches 128, 32 and 8, and each call kind (forward, data gradient,
    /// filter gradient): <paramref name="row"/>(C, H, batch, pass, the call, calls per timing).
    /// </summary>
    private static void EachCall(CpuBackend b, (int C, int H)[] shapes, Action<int, int, int, string, Action, int> row)
    {
        foreach (var (c, h) in shapes)
            foreach (int n in new[] { 128, 32, 8 })
            {
                using var x = Tensor.Create(Shape.Of(n, c, h, h)); using var y = Tensor.Create(Shape.Of(n, c, h, h));
                using var w = Tensor.Create(Shape.Of(c, c, 3, 3));
                Fill(x, 1); Fill(w, 2); Fill(y, 3);
                var spec = ConvSpec.Square(1, 1);
                int reps = (int)Math.Clamp(1.5e8 / (2.0 * n * c * c * 9 * h * h), 3, 100);
                foreach (string pass in new[] { "forward", "data grad", "filter grad" })
                {
                    void Call()
                    {
                        if (pass == "forward") b.Conv2dForward(x, w, null, y, spec);
                        else if (pass == "data grad") b.Conv2dBackwardData(y, w, x, spec, accumulate: false);
                        else b.Conv2dBackwardFilter(x, y, w, null, spec, accumulate: false);
                    }
                    row(c, h, n, pass, Call, reps);
                }
            }
    }

    /// <summary>
    /// Each round times <paramref name="call"/> on im2col and on Winograd (im2col first in even rounds), each side's fastest of
    /// <paramref name="reps"/> calls after one warm-up: the per-round seconds of both sides.
    /// </summary>
    internal static (List<double> Im2Col, List<double> Winograd) Alternate(Action call, int reps, int rounds)
        => Alternate(call, reps, rounds, winograd => CpuBackend.UseConvAlgorithm(winograd ? CpuConvAlgorithm.Winograd : CpuConvAlgorithm.Im2Col));

    /// <summary>
    /// Each round times <paramref name="call"/> on side A and side B (<paramref name="side"/>(false), (true): sets a side up, returns
    /// what undoes it or null; A first in even rounds), each side's fastest of <paramref name="reps"/> calls after one warm-up.
    /// </summary>
    private static (List<double> A, List<double> B) Alternate(Action call, int reps, int rounds, Func<bool, IDisposable?> side)
    {
        double Time(bool sideB)
        {
            using var scope = side(sideB);
            call();
            double best = double.MaxValue;
            for (int r = 0; r < reps; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                call();
                best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            }
            return best;
        }
        var ti = new List<double>(); var tw = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            double a, wv;
            if (r % 2 == 0) { a = Time(false); wv = Time(true); }
            else { wv = Time(true); a = Time(false); }
            ti.Add(a); tw.Add(wv);
        }
        return (ti, tw);
    }

    internal static void Fill(Tensor t, int seed)
    {
        var rng = new Random(seed);
        var s = t.AsSpan<float>();
        for (int i = 0; i < s.Length; i++) s[i] = (float)(rng.NextDouble() * 2 - 1);
    }
}
