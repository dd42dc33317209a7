namespace DeepTrain.Backends.Cpu;

/// <summary>
/// A convolution's Winograd-transformed weights U = G g Gᵀ, packed for the GEMM (<see cref="CpuWinograd.TransformWeights"/>),
/// made once for weights that no longer change: an inference session makes one per 3×3 convolution of the model it owns
/// when it loads, and every execution context reads it (read-only, so any number of threads may). A forward pass given these
/// computes exactly what it computes from the weights themselves, minus the transform.
/// </summary>
internal sealed unsafe class CpuWinogradWeights
{
    private readonly float[] _packed;     // on the pinned heap: its address is stable

    private CpuWinogradWeights(int k, int c, float[] packed) => (K, C, _packed) = (k, c, packed);

    /// <summary>Output channels of the weights.</summary>
    public int K { get; }

    /// <summary>Input channels of the weights.</summary>
    public int C { get; }

    /// <summary>Bytes held (what <see cref="Inference.InferenceMemoryReport.PreparedWeights"/> counts).</summary>
    public long Bytes => (long)_packed.Length * sizeof(float);

    /// <summary>The packed U, 16 positions of (K, C).</summary>
    public float* Packed => (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _packed[0]);

    /// <summary>Floats the transformed weights of a (K, C, 3, 3) convolution take.</summary>
    public static long Floats(int k, int c) => CpuWinograd.PackedSize(k, c) + 16;

    /// <summary>The transformed weights of <paramref name="w"/> (K, C, 3, 3), fp32 in host memory.</summary>
    /// <exception cref="ArgumentException"><paramref name="w"/> is not an fp32 (K, C, 3, 3) tensor in host memory.</exception>
    public static CpuWinogradWeights Of(Tensors.Tensor w)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.DType != Tensors.DType.Float32 || w.Device.Kind != Tensors.DeviceKind.Cpu || w.Shape.Rank != 4 || w.Shape.H != 3 || w.Shape.W != 3)
            throw new ArgumentException($"Winograd weights: expected an fp32 (K, C, 3, 3) tensor in host memory, got {w.DType} {w.Shape} on {w.Device}", nameof(w));
        int k = w.Shape.N, c = w.Shape.C;
        var packed = GC.AllocateUninitializedArray<float>(checked((int)Floats(k, c)), pinned: true);
        var scratch = new float[CpuWinograd.Positions * k * c];
        fixed (float* s = scratch)
            CpuWinograd.TransformWeights((float*)w.Pointer, k, c, (nint)c * 9, 9, rotate: false, s,
                (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref packed[0]));
        return new CpuWinogradWeights(k, c, packed);
    }
}
