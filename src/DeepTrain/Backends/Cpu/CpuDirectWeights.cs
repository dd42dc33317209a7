namespace DeepTrain.Backends.Cpu;

/// <summary>
/// A convolution's weights in the direct kernel's layout (<see cref="CpuDirectConv.Pack"/>: 32-channel columns, tap by tap),
/// made once for weights that no longer change: an inference session makes one per convolution the direct path fits when
/// it loads, as it makes <see cref="CpuWinogradWeights"/>, and every execution context reads it (read-only).
/// </summary>
internal sealed unsafe class CpuDirectWeights
{
    private readonly float[] _packed;     // on the pinned heap: its address is stable

    private CpuDirectWeights(int k, int crs, float[] packed) => (K, Crs, _packed) = (k, crs, packed);

    /// <summary>Output channels K.</summary>
    public int K { get; }

    /// <summary>Taps per output channel: C·R·S.</summary>
    public int Crs { get; }

    /// <summary>Bytes held (what <see cref="Inference.InferenceMemoryReport.PreparedWeights"/> counts).</summary>
    public long Bytes => (long)_packed.Length * sizeof(float);

    /// <summary>The packed weights, from the first 64-byte boundary of the array (its 16 spare floats leave room).</summary>
    public float* Packed => (float*)(((nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _packed[0]) + 63) & ~(nint)63);

    /// <summary>Whether these were made from weights of shape (k, Crs).</summary>
    public bool Fits(int k, int crs) => K == k && Crs == crs;

    /// <summary>Floats held for a (K, C, R, S) weight: the layout and 16 spare, so its start can sit on a 64-byte boundary.</summary>
    public static long Floats(int k, int crs) => CpuDirectConv.Floats(k, crs) + 16;

    /// <summary>Whether <paramref name="k"/> output channels in <paramref name="groups"/> groups fit the direct kernel.</summary>
    public static bool Applies(int k, int groups) => groups == 1 && k % CpuDirectConv.KBlock == 0;

    /// <summary>The direct layout of <paramref name="w"/> (K, C, R, S), fp32 in host memory, K a multiple of 32.</summary>
    /// <exception cref="ArgumentException"><paramref name="w"/> is not an fp32 rank-4 tensor in host memory with K a multiple of 32.</exception>
    public static CpuDirectWeights Of(Tensors.Tensor w)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.DType != Tensors.DType.Float32 || w.Device.Kind != Tensors.DeviceKind.Cpu || w.Shape.Rank != 4 || w.Shape.N % CpuDirectConv.KBlock != 0)
            throw new ArgumentException($"direct convolution weights: expected an fp32 (K, C, R, S) tensor in host memory with K a multiple of {CpuDirectConv.KBlock}, got {w.DType} {w.Shape} on {w.Device}", nameof(w));
        int k = w.Shape.N, crs = w.Shape.C * w.Shape.H * w.Shape.W;
        var result = new CpuDirectWeights(k, crs, GC.AllocateUninitializedArray<float>(checked((int)Floats(k, crs)), pinned: true));
        CpuDirectConv.Pack((float*)w.Pointer, k, crs, result.Packed);
        return result;
    }
}
