using BenchmarkDotNet.Attributes;
using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Tensors;

namespace DeepTrain.Benchmarks.Cpu;

/// <summary>
/// Every convolution of one ResNet-20 training step on 28×28 Fashion-MNIST at batch 128: forward, backward
/// data and backward filter of the 19 3×3 layers (1×(1→16@28), 6×(16→16@28), 1×(16→32 s2), 5×(32→32@14),
/// 1×(32→64 s2), 5×(64→64@7)). About 23.6 GFLOP; compare with a whole PyTorch step on the same machine.
/// </summary>
[MemoryDiagnoser, BenchmarkCategory("cpu", "conv")]
public class ConvStepBench
{
    private static readonly (int C, int H, int K, int Stride, int Count)[] Layers =
        [(1, 28, 16, 1, 1), (16, 28, 16, 1, 6), (16, 28, 32, 2, 1), (32, 14, 32, 1, 5), (32, 14, 64, 2, 1), (64, 7, 64, 1, 5)];

    /// <summary>Images per step.</summary>
    [Params(128)]
    public int Batch { get; set; }

    private readonly CpuBackend _backend = new();
    private readonly List<(Tensor X, Tensor W, Tensor Y, Tensor Dy, Tensor Dx, Tensor Dw, ConvSpec Spec, int Count)> _layers = [];

    /// <summary>Seeded inputs, one set per distinct layer shape.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        foreach (var (c, h, k, stride, count) in Layers)
        {
            var spec = ConvSpec.Square(stride, 1);
            int oh = spec.OutH(h, 3);
            var dy = Filled(Shape.Of(Batch, k, oh, oh), rng);
            _layers.Add((Filled(Shape.Of(Batch, c, h, h), rng), Filled(Shape.Of(k, c, 3, 3), rng), Tensor.Create(dy.Shape), dy,
                Tensor.Create(Shape.Of(Batch, c, h, h)), Tensor.Create(Shape.Of(k, c, 3, 3)), spec, count));
        }
    }

    private static Tensor Filled(Shape s, Random rng)
    {
        var t = Tensor.Create(s);
        var span = t.AsSpan<float>();
        for (int i = 0; i < span.Length; i++) span[i] = (float)(rng.NextDouble() * 2 - 1);
        return t;
    }

    /// <summary>All 19 layers' forward, backward data and backward filter.</summary>
    [Benchmark]
    public float Step()
    {
        float sum = 0;
        foreach (var l in _layers)
            for (int i = 0; i < l.Count; i++)
            {
                _backend.Conv2dForward(l.X, l.W, null, l.Y, l.Spec);
                _backend.Conv2dBackwardData(l.Dy, l.W, l.Dx, l.Spec, accumulate: false);
                _backend.Conv2dBackwardFilter(l.X, l.Dy, l.Dw, null, l.Spec, accumulate: false);
                sum += l.Dw.AsSpan<float>()[0];
            }
        return sum;
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var l in _layers)
            foreach (var t in new[] { l.X, l.W, l.Y, l.Dy, l.Dx, l.Dw }) t.Dispose();
    }
}
