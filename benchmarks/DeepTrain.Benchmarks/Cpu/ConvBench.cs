using BenchmarkDotNet.Attributes;
using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Tensors;

namespace DeepTrain.Benchmarks.Cpu;

/// <summary>
/// The convolutions of a CIFAR-style ResNet-20 on 28×28 Fashion-MNIST (He et al. 2016, §4.2) at batch 128,
/// forward and both backwards, on the managed CPU backend with every core. FLOPs per call are
/// 2·N·K·(C/groups)·R·S·OH·OW; divide by the mean time for GFLOP/s.
/// </summary>
[MemoryDiagnoser, BenchmarkCategory("cpu", "conv")]
public class ConvBench
{
    // name → (C, H=W, K, kernel, stride, pad). The last is a tail case: no size is a multiple of any tile.
    private static readonly Dictionary<string, (int C, int H, int K, int R, int Stride, int Pad)> Layers = new()
    {
        ["stem 1-16@28"] = (1, 28, 16, 3, 1, 1),
        ["16-16@28"] = (16, 28, 16, 3, 1, 1),
        ["16-32 s2@28"] = (16, 28, 32, 3, 2, 1),
        ["32-32@14"] = (32, 14, 32, 3, 1, 1),
        ["32-64 s2@14"] = (32, 14, 64, 3, 2, 1),
        ["64-64@7"] = (64, 7, 64, 3, 1, 1),
        ["1x1 16-32 s2@28"] = (16, 28, 32, 1, 2, 0),
        ["tail 13-24@11"] = (13, 11, 24, 3, 1, 1),
    };

    /// <summary>The layer shape.</summary>
    [Params("stem 1-16@28", "16-16@28", "16-32 s2@28", "32-32@14", "32-64 s2@14", "64-64@7", "1x1 16-32 s2@28", "tail 13-24@11")]
    public string Layer { get; set; } = "16-16@28";

    /// <summary>Images per call (the training batch).</summary>
    [Params(128)]
    public int Batch { get; set; }

    private readonly CpuBackend _backend = new();
    private Tensor _x = null!, _w = null!, _y = null!, _dy = null!, _dx = null!, _dw = null!;
    private ConvSpec _spec;

    /// <summary>Seeded inputs.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var (c, h, k, r, stride, pad) = Layers[Layer];
        _spec = ConvSpec.Square(stride, pad);
        int oh = _spec.OutH(h, r);
        var rng = new Random(42);
        _x = Filled(Shape.Of(Batch, c, h, h), rng);
        _w = Filled(Shape.Of(k, c, r, r), rng);
        _dy = Filled(Shape.Of(Batch, k, oh, oh), rng);
        _y = Tensor.Create(_dy.Shape);
        _dx = Tensor.Create(_x.Shape);
        _dw = Tensor.Create(_w.Shape);
    }

    private static Tensor Filled(Shape s, Random rng)
    {
        var t = Tensor.Create(s);
        var span = t.AsSpan<float>();
        for (int i = 0; i < span.Length; i++) span[i] = (float)(rng.NextDouble() * 2 - 1);
        return t;
    }

    /// <summary>y = conv(x, w).</summary>
    [Benchmark]
    public float Forward()
    {
        _backend.Conv2dForward(_x, _w, null, _y, _spec);
        return _y.AsSpan<float>()[0];
    }

    /// <summary>dx = conv_transpose(dy, w).</summary>
    [Benchmark]
    public float BackwardData()
    {
        _backend.Conv2dBackwardData(_dy, _w, _dx, _spec, accumulate: false);
        return _dx.AsSpan<float>()[0];
    }

    /// <summary>dw = Σ over the batch of dy ⋆ x.</summary>
    [Benchmark]
    public float BackwardFilter()
    {
        _backend.Conv2dBackwardFilter(_x, _dy, _dw, null, _spec, accumulate: false);
        return _dw.AsSpan<float>()[0];
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _x, _w, _y, _dy, _dx, _dw }) t.Dispose();
    }
}
