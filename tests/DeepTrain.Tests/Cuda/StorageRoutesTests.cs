using DeepTrain.Backends.Cuda;
using DeepTrain.Tensors;
using Xunit;

namespace DeepTrain.Tests.Cuda;

/// <summary>
/// CudaBackend's routing of operand storage types (native, 16-bit scratch into fp32, widened), which needs no GPU: the
/// mixes a mixed-precision plan makes take the fast paths, and every other mix of fp32/fp16/bf16 ends on the fp32 path
/// after one widening (no call widens twice, none recurses forever).
/// </summary>
public class StorageRoutesTests
{
    private const DType F32 = DType.Float32, F16 = DType.Float16, BF16 = DType.BFloat16;
    private static readonly DType[] Floats = [F32, F16, BF16];

    /// <summary>Every combination of <paramref name="arity"/> floating storage types.</summary>
    private static IEnumerable<DType[]> Combinations(int arity)
    {
        if (arity == 0) { yield return []; yield break; }
        foreach (var rest in Combinations(arity - 1))
            foreach (var t in Floats)
                yield return [.. rest, t];
    }

    private static DType[] Widened(DType[] types) => types.Select(StorageRoutes.Widen).ToArray();

    [Theory]
    [InlineData(F16)]
    [InlineData(BF16)]
    public void TheMixedPlansCalls_TakeTheFastPaths(DType half)
    {
        // Convolutions and activations: one 16-bit type throughout.
        Assert.Equal(StorageRoute.Native, StorageRoutes.OneType([half, half, half]));
        // Weight and bias gradients of 16-bit x/dy into the fp32 flat gradient buffer.
        Assert.Equal(StorageRoute.Into32, StorageRoutes.ConvBackwardFilter(half, half, F32, null));
        Assert.Equal(StorageRoute.Into32, StorageRoutes.ConvBackwardFilter(half, half, F32, F32));
        Assert.Equal(StorageRoute.Into32, StorageRoutes.BiasBackward(half, F32));
        // Batch norm: 16-bit x/y/dy/dx, fp32 γ, β and statistics.
        Assert.Equal(StorageRoute.Native, StorageRoutes.BatchNorm(half, half, null, [F32, F32, F32, F32, F32, F32]));
        Assert.Equal(StorageRoute.Native, StorageRoutes.BatchNorm(half, half, half, [F32, F32, F32, F32, F32]));
        // The classifier: 16-bit features · 16-bit weights into fp32 logits (and 16-bit into 16-bit for hidden layers).
        Assert.Equal(StorageRoute.Native, StorageRoutes.Gemm(half, half, F32));
        Assert.Equal(StorageRoute.Native, StorageRoutes.Gemm(half, half, half));
        // Its backward reads the fp32 logits gradient against 16-bit operands: widened, as on the CPU.
        Assert.Equal(StorageRoute.Widened, StorageRoutes.Gemm(F32, half, F32));
        Assert.Equal(StorageRoute.Widened, StorageRoutes.Gemm(F32, half, half));
        Assert.Equal(StorageRoute.Widened, StorageRoutes.OneType([F32, half]));   // AddBias(fp32 logits, 16-bit bias)
        // The losses read fp32 logits.
        Assert.Equal(StorageRoute.Native, StorageRoutes.Fp32Only([F32, F32, F32, F32]));
    }

    [Fact]
    public void MixesCuDnnCannotTake_AreWidened()
    {
        Assert.Equal(StorageRoute.Widened, StorageRoutes.ConvBackwardFilter(F16, BF16, F32, null));   // x and dy differ
        Assert.Equal(StorageRoute.Widened, StorageRoutes.ConvBackwardFilter(F32, F32, F16, null));    // fp32 data, 16-bit dw
        Assert.Equal(StorageRoute.Widened, StorageRoutes.ConvBackwardFilter(F16, F16, F32, BF16));    // a third type for dbias
        Assert.Equal(StorageRoute.Native, StorageRoutes.ConvBackwardFilter(F16, F16, F16, F16));
        Assert.Equal(StorageRoute.Widened, StorageRoutes.ConvBackwardFilter(F16, F16, F16, F32));     // 16-bit dw, fp32 dbias
        Assert.Equal(StorageRoute.Widened, StorageRoutes.BatchNorm(F16, F16, null, [F16, F32]));      // 16-bit γ
        Assert.Equal(StorageRoute.Widened, StorageRoutes.BatchNorm(F16, BF16, null, [F32, F32]));     // x and y differ
        Assert.Equal(StorageRoute.Widened, StorageRoutes.BatchNorm(F16, F16, F32, [F32, F32]));       // fp32 dx of 16-bit x
        Assert.Equal(StorageRoute.Widened, StorageRoutes.BatchNorm(F32, F32, null, [F16, F32]));      // fp32 data, 16-bit γ
        Assert.Equal(StorageRoute.Widened, StorageRoutes.Gemm(BF16, BF16, F16));
        Assert.Equal(StorageRoute.Widened, StorageRoutes.Fp32Only([F32, F16]));
        Assert.Equal(StorageRoute.Native, StorageRoutes.OneType([F32, DType.Int32]));   // nothing 16-bit: the fp32 checks judge it
    }

    /// <summary>
    /// For every mix of fp32/fp16/bf16 operands of every routing decision: a widened call's operands (16-bit → fp32)
    /// route natively, an all-fp32 call is native, and Into32 is taken only for one 16-bit type of x and dy into fp32.
    /// </summary>
    [Fact]
    public void EveryMix_EndsOnTheFp32PathAfterOneWidening()
    {
        int widened = 0;
        void Check(string what, DType[] types, Func<DType[], StorageRoute> route)
        {
            var r = route(types);
            if (types.All(t => t == F32)) Assert.True(r == StorageRoute.Native, $"{what}({string.Join(", ", types)}): all fp32 must be native, got {r}");
            if (r != StorageRoute.Widened) return;
            widened++;
            var again = route(Widened(types));
            Assert.True(again == StorageRoute.Native, $"{what}({string.Join(", ", types)}) widens to ({string.Join(", ", Widened(types))}), which routes {again}");
        }
        for (int arity = 1; arity <= 8; arity++)
            foreach (var c in Combinations(arity))
            {
                Check("OneType", c, t => StorageRoutes.OneType(t));
                Check("Fp32Only", c, t => StorageRoutes.Fp32Only(t));
                if (arity >= 2) Check("BatchNorm", c, t => StorageRoutes.BatchNorm(t[0], t[1], null, t.AsSpan(2)));
                if (arity >= 3) Check("BatchNorm with dx", c, t => StorageRoutes.BatchNorm(t[0], t[1], t[2], t.AsSpan(3)));
            }
        foreach (var c in Combinations(3))
        {
            Check("Gemm", c, t => StorageRoutes.Gemm(t[0], t[1], t[2]));
            Check("ConvBackwardFilter", c, t => StorageRoutes.ConvBackwardFilter(t[0], t[1], t[2], null));
        }
        foreach (var c in Combinations(4))
        {
            Check("ConvBackwardFilter with dbias", c, t => StorageRoutes.ConvBackwardFilter(t[0], t[1], t[2], t[3]));
            var r = StorageRoutes.ConvBackwardFilter(c[0], c[1], c[2], c[3]);
            if (r == StorageRoute.Into32)
                Assert.True(StorageRoutes.IsReduced(c[0]) && c[1] == c[0] && c[2] == F32, $"ConvBackwardFilter({string.Join(", ", c)}) → Into32");
        }
        foreach (var c in Combinations(2))
        {
            Check("BiasBackward", c, t => StorageRoutes.BiasBackward(t[0], t[1]));
            if (StorageRoutes.BiasBackward(c[0], c[1]) == StorageRoute.Into32)
                Assert.True(StorageRoutes.IsReduced(c[0]) && c[1] == F32, $"BiasBackward({c[0]}, {c[1]}) → Into32");
        }
        Assert.True(widened > 1000, $"only {widened} widened mixes were checked");
    }
}
