using System.Runtime.CompilerServices;

namespace DeepTrain.Backends.Cpu;

/// <summary>
/// Per-thread scratch memory of the CPU kernels (GEMM packing panels, im2col columns, partial
/// weight gradients). Each thread owns its buffers, so concurrent callers never share one; a
/// buffer grows on demand and is kept, so a steady-state training step allocates none.
/// Buffers live on the pinned object heap: their addresses are stable without <c>fixed</c>.
/// </summary>
internal sealed unsafe class CpuScratch
{
    /// <summary>
    /// The buffers one kernel family may hold at once; distinct slots never alias. <see cref="Slot.Shared"/>
    /// holds data the calling thread prepares for all workers of one call (e.g. packed weights);
    /// <see cref="Slot.Statistics"/> the calling thread's per-channel results of a normalisation or bias
    /// gradient, <see cref="Slot.Reduction"/> the per-chunk partial sums of <see cref="CpuReduce"/>, and <see cref="Slot.Rows"/>
    /// the zero-padded input rows of a Winograd block (<see cref="CpuWinograd"/>).
    /// </summary>
    public enum Slot { PackA, PackB, Columns, PartialGrad, Output, Shared, Offsets, Statistics, Reduction, Rows, Count }

    [ThreadStatic] private static CpuScratch? t_current;
    private readonly float[]?[] _arrays = new float[]?[(int)Slot.Count];

    /// <summary>This thread's scratch.</summary>
    public static CpuScratch Current => t_current ??= new CpuScratch();

    /// <summary>
    /// A 64-byte-aligned buffer of at least <paramref name="count"/> floats for <paramref name="slot"/>.
    /// Its contents are unspecified; it stays valid until the same slot is requested again on this thread.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Get(Slot slot, long count)
    {
        var a = _arrays[(int)slot];
        if (a is null || a.Length < count + 16) a = Grow(slot, count);
        // Pinned-heap arrays never move; align the start to a cache line (16 floats of slack).
        float* p = (float*)Unsafe.AsPointer(ref a[0]);
        return (float*)(((nint)p + 63) & ~(nint)63);
    }

    /// <summary><see cref="Get"/> for <paramref name="count"/> doubles (64-byte aligned too).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double* GetDoubles(Slot slot, long count) => (double*)Get(slot, 2 * count);

    private float[] Grow(Slot slot, long count)
    {
        long want = Math.Max(count + 16, (long)((_arrays[(int)slot]?.Length ?? 0) * 1.5));
        var a = GC.AllocateUninitializedArray<float>(checked((int)want), pinned: true);
        _arrays[(int)slot] = a;
        return a;
    }
}
