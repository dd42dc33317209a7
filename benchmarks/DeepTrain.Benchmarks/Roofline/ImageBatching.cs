using System.Diagnostics;
using System.Globalization;
using DeepTrain.Backends.Cpu;

namespace DeepTrain.Benchmarks.Roofline;

/// <summary>
/// Would the 3×3 stride-1 convolutions gain from handing the GEMM several images at once? Today the implicit-im2col
/// path runs one GEMM per image, n = OH·Wq columns (Wq = W + 2 the padded width). Stacking eight padded images per
/// channel gives one GEMM of n = (8·Hq − 2)·Wq columns (Hq = H + 2) whose rows straddling two images are thrown away:
/// more wasted columns, but a wider B panel per packed A block. Both sides are timed on the useful FLOPs
/// (2·K·C·9·8·OH·OW), alternating over rounds on one thread; prints each round's ratio and the median.
/// </summary>
internal static unsafe class ImageBatching
{
    public static void Run(int rounds)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine("\n## One GEMM per image against one per eight images (3×3 stride 1, implicit im2col shapes, 1 thread)\n");
        Console.WriteLine("| layer shape (C→K, H×W) | per image GFLOP/s (median) | 8 images GFLOP/s (median) | per-round ratios 8 images / per image | median |\n|---|---|---|---|---|");
        foreach (var (c, k, h) in new[] { (16, 16, 28), (32, 32, 14), (64, 64, 7) })
        {
            int depth = c * 9, hq = h + 2, wq = h + 2, one = h * wq, eight = (8 * hq - 2) * wq;
            var a = Seeded(k * depth, 1); var b = Seeded(depth * eight, 2); var y = new float[k * eight];
            double useful = 2.0 * k * depth * 8 * h * h;
            int reps = (int)Math.Max(1, 1.5e9 / useful);   // ~0.1 s a side at 15 GFLOP/s: longer than a scheduler slice
            double PerImage() => Time(() => { for (int r = 0; r < reps; r++) for (int i = 0; i < 8; i++) Gemm(k, one, depth, a, b, eight, y); }) ;
            double Batched() => Time(() => { for (int r = 0; r < reps; r++) Gemm(k, eight, depth, a, b, eight, y); });
            PerImage(); Batched();
            var p = new List<double>(); var q = new List<double>(); var ratios = new List<double>();
            for (int r = 0; r < rounds; r++)
            {
                double tp = r % 2 == 0 ? PerImage() : 0, tb = Batched();
                if (r % 2 == 1) tp = PerImage();
                p.Add(useful * reps / tp / 1e9); q.Add(useful * reps / tb / 1e9); ratios.Add(tp / tb);
            }
            Console.WriteLine(string.Create(inv, $"| {c}→{k}, {h}×{h} | {Median(p):F1} | {Median(q):F1} | {string.Join(" ", ratios.Select(x => x.ToString("F2", inv)))} | {Median(ratios):F2} |"));
        }
    }

    /// <summary>C (m×n) = A (m×k) · B (k×n), B's rows <paramref name="ldb"/> apart.</summary>
    private static void Gemm(int m, int n, int k, float[] a, float[] b, int ldb, float[] c)
    {
        fixed (float* pa = a, pb = b, pc = c) CpuGemm.Sgemm(m, n, k, 1f, pa, k, 1, pb, ldb, 1, 0f, pc, n, 1);
    }

    private static double Time(Action run)
    {
        long t0 = Stopwatch.GetTimestamp();
        run();
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    internal static double Median(List<double> v) { var s = v.Order().ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }

    private static float[] Seeded(int n, int seed)
    {
        var rng = new Random(seed); var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
