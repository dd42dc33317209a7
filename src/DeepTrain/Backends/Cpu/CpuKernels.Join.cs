namespace DeepTrain.Backends.Cpu;

internal static partial class CpuKernels
{
    private const int TransposeTile = 32;

    /// <summary>
    /// dst (cols, rows) = srcᵀ for a row-major src (rows, cols): the NCHW → NHWC conversion of one
    /// sample is rows = C, cols = H·W, and NHWC → NCHW is rows = H·W, cols = C. Works in 32×32 tiles so
    /// both sides stay in cache.
    /// </summary>
    /// <exception cref="ArgumentException">A span is not rows·cols long.</exception>
    public static void Transpose<T>(ReadOnlySpan<T> src, Span<T> dst, int rows, int cols) where T : unmanaged
    {
        CheckLength(rows * cols, src.Length, nameof(src));
        CheckLength(rows * cols, dst.Length, nameof(dst));
        for (int r0 = 0; r0 < rows; r0 += TransposeTile)
        {
            int r1 = Math.Min(rows, r0 + TransposeTile);
            for (int c0 = 0; c0 < cols; c0 += TransposeTile)
            {
                int c1 = Math.Min(cols, c0 + TransposeTile);
                for (int r = r0; r < r1; r++)
                    for (int c = c0; c < c1; c++)
                        dst[c * rows + r] = src[r * cols + c];
            }
        }
    }

    /// <summary>dst[j] (+)= src[j·stride] for j in [0, dst.Length): one row of a subsampling copy.</summary>
    /// <exception cref="ArgumentException">src is too short for the last sample.</exception>
    public static void StridedGather(ReadOnlySpan<float> src, int stride, Span<float> dst, bool accumulate)
    {
        if (dst.Length > 0 && (long)(dst.Length - 1) * stride >= src.Length) CheckLength(dst.Length, src.Length, nameof(src));
        if (stride == 1)
        {
            if (accumulate) AddInPlace(dst, src[..dst.Length]);
            else src[..dst.Length].CopyTo(dst);
            return;
        }
        for (int j = 0; j < dst.Length; j++) dst[j] = accumulate ? dst[j] + src[j * stride] : src[j * stride];
    }

    /// <summary>dst[j·stride] += src[j] for j in [0, src.Length): the adjoint of <see cref="StridedGather"/>.</summary>
    /// <exception cref="ArgumentException">dst is too short for the last sample.</exception>
    public static void StridedScatterAdd(ReadOnlySpan<float> src, int stride, Span<float> dst)
    {
        if (src.Length > 0 && (long)(src.Length - 1) * stride >= dst.Length) CheckLength(src.Length, dst.Length, nameof(dst));
        if (stride == 1) { AddInPlace(dst[..src.Length], src); return; }
        for (int j = 0; j < src.Length; j++) dst[j * stride] += src[j];
    }
}
