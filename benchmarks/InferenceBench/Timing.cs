using System.Diagnostics;

namespace DeepTrain.InferenceBench;

/// <summary>Timing and order statistics shared by the modes.</summary>
internal static class Timing
{
    /// <summary>Runs <paramref name="once"/> WARMUP times, then times it ITERS times (milliseconds each).</summary>
    public static double[] Time(int iters, int warmup, Action once)
    {
        for (int i = 0; i < warmup; i++) once();
        var ms = new double[iters];
        for (int i = 0; i < iters; i++) { long t0 = Stopwatch.GetTimestamp(); once(); ms[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds; }
        return ms;
    }

    /// <summary>The q-quantile of <paramref name="v"/> by the nearest-rank rule (p99 of fewer than 100 samples is the maximum).</summary>
    public static double Quantile(IReadOnlyList<double> v, double q)
    {
        var s = v.Order().ToArray();
        return s[Math.Clamp((int)Math.Ceiling(q * s.Length) - 1, 0, s.Length - 1)];
    }

    /// <summary>The lower median.</summary>
    public static double Median(IReadOnlyList<double> v) { var s = v.Order().ToArray(); return s[(s.Length - 1) / 2]; }
}
