using System.Buffers;

namespace DeepTrain.Backends.Cpu;

/// <summary>Adds the contributions of channels-last rows [r0, r1) into fp32 partial sums laid out (sums, C).</summary>
internal delegate void RowAccumulator(int r0, int r1, Span<float> partial);

/// <summary>
/// Per-channel reductions over a tensor read as (N, C, S) — bias gradients and batch-norm statistics —
/// accurate for large N·S: fp32 partials cover at most <see cref="BlockRows"/> rows (or one plane) and
/// are then widened into double, so the fp32 rounding never sees more than a short run of terms.
/// Parallel chunks are combined in a fixed order, so a result depends only on the thread count.
/// </summary>
internal static class CpuReduce
{
    /// <summary>Rows summed in fp32 before the partial sums are widened to double.</summary>
    public const int BlockRows = 64;

    /// <summary>
    /// result[k·C + c] = Σ over every row of the fp32 partials that <paramref name="accumulate"/> adds for
    /// sum k, channel c, for a channels-last geometry (N·S rows of C values).
    /// </summary>
    public static void Rows(ChannelGeometry g, double[] result, int sums, RowAccumulator accumulate)
    {
        int width = sums * g.C, rows = g.Rows;
        Array.Clear(result, 0, width);
        if (rows == 0 || width == 0) return;
        int chunks = (int)Math.Clamp((long)rows * width / 32768, 1, Math.Min(CpuParallel.Threads, rows));
        double[] partials = ArrayPool<double>.Shared.Rent(chunks * width);
        try
        {
            CpuParallel.For(chunks, long.MaxValue / chunks, (k0, k1) =>
            {
                float[] block = ArrayPool<float>.Shared.Rent(width);
                try
                {
                    for (int k = k0; k < k1; k++)
                    {
                        Span<double> part = partials.AsSpan(k * width, width);
                        part.Clear();
                        int r0 = (int)((long)rows * k / chunks), r1 = (int)((long)rows * (k + 1) / chunks);
                        for (int b = r0; b < r1; b += BlockRows)
                        {
                            Span<float> f = block.AsSpan(0, width);
                            f.Clear();
                            accumulate(b, Math.Min(r1, b + BlockRows), f);
                            for (int j = 0; j < width; j++) part[j] += f[j];
                        }
                    }
                }
                finally { ArrayPool<float>.Shared.Return(block); }
            });
            for (int k = 0; k < chunks; k++)
                for (int j = 0; j < width; j++) result[j] += partials[k * width + j];
        }
        finally { ArrayPool<double>.Shared.Return(partials); }
    }

    /// <summary>result[c] = <paramref name="channelSum"/>(c) for every channel, channels split across threads.</summary>
    public static void Planes(ChannelGeometry g, double[] result, Func<int, double> channelSum)
        => CpuParallel.For(g.C, g.PerChannel, (c0, c1) =>
        {
            for (int c = c0; c < c1; c++) result[c] = channelSum(c);
        });
}
