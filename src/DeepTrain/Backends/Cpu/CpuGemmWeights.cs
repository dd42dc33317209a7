namespace DeepTrain.Backends.Cpu;

/// <summary>
/// A convolution's weights packed once into the GEMM's A layout (<see cref="CpuGemm.PackAll"/>, one (Kg, Cg·R·S) matrix per
/// group, back to back), for weights that no longer change: an inference session makes one per convolution of the model it
/// owns when it loads, as it makes <see cref="CpuWinogradWeights"/>, and every execution context reads it (read-only, so any
/// number of threads may). The im2col forward given these skips its per-call packing and computes the same bits: the packed
/// matrix is exactly what the call would have packed (CpuGemmWeightsTests).
/// </summary>
internal sealed unsafe class CpuGemmWeights
{
    private readonly float[] _packed;     // on the pinned heap: its address is stable

    private CpuGemmWeights(int k, int crs, int groups, float[] packed) => (K, Crs, Groups, _packed) = (k, crs, groups, packed);

    /// <summary>Output channels K (all groups).</summary>
    public int K { get; }

    /// <summary>Columns of one group's matrix: Cg·R·S.</summary>
    public int Crs { get; }

    /// <summary>Groups of the convolution.</summary>
    public int Groups { get; }

    /// <summary>Floats of one group's packed matrix (<see cref="CpuGemm.PackedASize"/> of (K/groups, Crs)).</summary>
    public long PerGroup => CpuGemm.PackedASize(K / Groups, Crs);

    /// <summary>Bytes held (what <see cref="Inference.InferenceMemoryReport.PreparedWeights"/> counts).</summary>
    public long Bytes => (long)_packed.Length * sizeof(float);

    /// <summary>The packed matrices, group after group.</summary>
    public float* Packed => (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _packed[0]);

    /// <summary>Whether these were packed from weights of shape (k, Crs) in <paramref name="groups"/> groups.</summary>
    public bool Fits(int k, int crs, int groups) => K == k && Crs == crs && Groups == groups;

    /// <summary>Floats the packing of a (K, C/groups, R, S) weight takes.</summary>
    public static long Floats(int k, int crs, int groups) => CpuGemm.PackedASize(k / groups, crs) * groups;

    /// <summary>The packed form of <paramref name="w"/> (K, C/groups, R, S), fp32 in host memory.</summary>
    /// <exception cref="ArgumentException"><paramref name="w"/> is not an fp32 rank-4 tensor in host memory, or its output
    /// channels are not divisible by <paramref name="groups"/>.</exception>
    public static CpuGemmWeights Of(Tensors.Tensor w, int groups)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.DType != Tensors.DType.Float32 || w.Device.Kind != Tensors.DeviceKind.Cpu || w.Shape.Rank != 4 || groups < 1 || w.Shape.N % groups != 0)
            throw new ArgumentException($"packed convolution weights: expected an fp32 (K, C/groups, R, S) tensor in host memory with K divisible by groups {groups}, got {w.DType} {w.Shape} on {w.Device}", nameof(w));
        int k = w.Shape.N, crs = w.Shape.C * w.Shape.H * w.Shape.W, kg = k / groups;
        var result = new CpuGemmWeights(k, crs, groups, GC.AllocateUninitializedArray<float>(checked((int)Floats(k, crs, groups)), pinned: true));
        float* src = (float*)w.Pointer;
        for (int gi = 0; gi < groups; gi++)
            CpuGemm.PackAll(kg, crs, src + (nint)gi * kg * crs, crs, 1, result.Packed + gi * result.PerGroup);
        return result;
    }
}
