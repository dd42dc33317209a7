namespace DeepTrain.Backends.Cpu;

/// <summary>Adds the contributions of channels-last rows [r0, r1) into fp32 partial sums laid out (sums, C).</summary>
internal interface IRowAccumulator
{
    /// <summary>partial[k·C + c] += the rows' terms of sum k, channel c.</summary>
    void Accumulate(int r0, int r1, Span<float> partial);
}

/// <summary>The sum over channel c's N planes, in double.</summary>
internal interface IChannelSum
{
    /// <summary>Σ of channel <paramref name="c"/>'s terms.</summary>
    double Sum(int c);
}

/// <summary>
/// Per-channel reductions over a tensor read as (N, C, S) — bias gradients and batch-norm statistics —
/// accurate for large N·S: fp32 partials cover at most <see cref="BlockRows"/> rows (or one plane) and
/// are then widened into double, so the fp32 rounding never sees more than a short run of terms.
/// Parallel chunks are combined in a fixed order, so a result depends only on the thread count.
/// The callbacks are structs and every buffer is per-thread scratch, so a reduction allocates nothing.
/// </summary>
internal static unsafe class CpuReduce
{
    /// <summary>Rows summed in fp32 before the partial sums are widened to double.</summary>
    public const int BlockRows = 64;

    /// <summary>
    /// result[k·C + c] = Σ over every row of the fp32 partials that <paramref name="accumulate"/> adds for
    /// sum k, channel c, for a channels-last geometry (N·S rows of C values). <paramref name="result"/> holds
    /// <paramref name="sums"/>·C doubles.
    /// </summary>
    public static void Rows<TAcc>(ChannelGeometry g, double* result, int sums, in TAcc accumulate) where TAcc : struct, IRowAccumulator
    {
        int width = sums * g.C, rows = g.Rows;
        new Span<double>(result, width).Clear();
        if (rows == 0 || width == 0) return;
        int chunks = (int)Math.Clamp((long)rows * width / 32768, 1, Math.Min(CpuParallel.Threads, rows));
        // Chunk k's double partials (width each), summed below in chunk order.
        double* partials = (double*)CpuScratch.Current.Get(CpuScratch.Slot.Reduction, 2L * chunks * width);
        CpuParallel.For(chunks, long.MaxValue / chunks, new RowsBody<TAcc>(accumulate, partials, width, rows, chunks));
        for (int k = 0; k < chunks; k++)
            for (int j = 0; j < width; j++) result[j] += partials[(nint)k * width + j];
    }

    private readonly struct RowsBody<TAcc>(TAcc accumulate, double* partials, int width, int rows, int chunks) : IRangeBody
        where TAcc : struct, IRowAccumulator
    {
        public void Run(int k0, int k1)
        {
            // Slot.Output: the accumulators call span kernels only, never another scratch user.
            var f = new Span<float>(CpuScratch.Current.Get(CpuScratch.Slot.Output, width), width);
            for (int k = k0; k < k1; k++)
            {
                var part = new Span<double>(partials + (nint)k * width, width);
                part.Clear();
                int r0 = (int)((long)rows * k / chunks), r1 = (int)((long)rows * (k + 1) / chunks);
                for (int b = r0; b < r1; b += BlockRows)
                {
                    f.Clear();
                    accumulate.Accumulate(b, Math.Min(r1, b + BlockRows), f);
                    for (int j = 0; j < width; j++) part[j] += f[j];
                }
            }
        }
    }

    /// <summary>result[c] = <paramref name="channelSum"/>.Sum(c) for every channel, channels split across threads.</summary>
    public static void Planes<TSum>(ChannelGeometry g, double* result, in TSum channelSum) where TSum : struct, IChannelSum
        => CpuParallel.For(g.C, g.PerChannel, new PlanesBody<TSum>(channelSum, result));

    private readonly struct PlanesBody<TSum>(TSum channelSum, double* result) : IRangeBody where TSum : struct, IChannelSum
    {
        public void Run(int c0, int c1)
        {
            for (int c = c0; c < c1; c++) result[c] = channelSum.Sum(c);
        }
    }
}
