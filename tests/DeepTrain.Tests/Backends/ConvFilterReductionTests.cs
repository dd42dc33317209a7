using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Backends;

/// <summary>
/// The CPU filter gradient sums its per-chunk partials in chunk order, so a run repeats bit for bit for a given thread
/// count however the chunks' finishing order falls. With accumulate, ((dw + p0) + p1) and ((dw + p1) + p0) round
/// differently; the old reduction added whichever chunk finished first (found by a gradient-accumulation test that
/// failed once under load).
/// </summary>
public class ConvFilterReductionTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void BackwardFilter_RepeatsBitForBit_WhateverOrderTheChunksFinish(bool accumulate, bool implicitPath)
    {
        Assert.SkipWhen(CpuBackend.Threads < 2, "one CPU thread: no chunks to order");
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var rng = new Random(7);
        // Values of mixed magnitudes, so the order of the adds shows in the last bits.
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-3, 3)))).ToArray();
        // A 3×3 convolution (implicit im2col) or a 1×1 (pointwise), 32 images: two chunks of equal work on two threads.
        int k = implicitPath ? 3 : 1;
        var xShape = Shape.Of(32, 8, 10, 10);
        var wShape = Shape.Of(16, 8, k, k);
        var spec = ConvSpec.Square(1, implicitPath ? 1 : 0);
        var x = s.Upload(R((int)xShape.Elements), xShape);
        var dy = s.Upload(R(32 * 16 * 10 * 10), Shape.Of(32, 16, 10, 10));
        float[] start = R((int)wShape.Elements);
        float[]? first = null;
        for (int rep = 0; rep < 300; rep++)
        {
            var dw = s.Upload(start, wShape);
            b.Conv2dBackwardFilter(x, dy, dw, null, spec, accumulate);
            float[] got = dw.AsSpan<float>().ToArray();
            if (first is null) first = got;
            else Assert.True(first.AsSpan().SequenceEqual(got), $"repetition {rep} differs from the first in the last bits");
        }
    }
}
