using BenchmarkDotNet.Attributes;
using DeepTrain.Backends.Cpu;
using DeepTrain.Tensors;

namespace DeepTrain.Benchmarks.Cpu;

/// <summary>
/// Square fp32 GEMM c = a·op(b) on the managed CPU backend (multi-threaded over blocks of c): 2·N³ FLOPs
/// per call. TransB is the Linear layer's forward, y = x·wᵀ.
/// </summary>
[MemoryDiagnoser, BenchmarkCategory("cpu", "gemm")]
public class GemmBench
{
    /// <summary>M = N = K; 1023 leaves a tail in every tile and cache block.</summary>
    [Params(128, 512, 1023)]
    public int N { get; set; }

    /// <summary>Whether b is read transposed.</summary>
    [Params(false, true)]
    public bool TransB { get; set; }

    private readonly CpuBackend _backend = new();
    private Tensor _a = null!, _b = null!, _c = null!;

    /// <summary>Seeded inputs.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        _a = Filled(Shape.Of(N, N), rng);
        _b = Filled(Shape.Of(N, N), rng);
        _c = Tensor.Create(Shape.Of(N, N));
    }

    private static Tensor Filled(Shape s, Random rng)
    {
        var t = Tensor.Create(s);
        var span = t.AsSpan<float>();
        for (int i = 0; i < span.Length; i++) span[i] = (float)(rng.NextDouble() * 2 - 1);
        return t;
    }

    /// <summary>c = a·op(b).</summary>
    [Benchmark]
    public float Gemm()
    {
        _backend.Gemm(false, TransB, 1f, _a, _b, 0f, _c);
        return _c.AsSpan<float>()[0];
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Dispose();
        _b.Dispose();
        _c.Dispose();
    }
}
