using DeepTrain.Backends;
using DeepTrain.Backends.Cuda;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using Xunit;

namespace DeepTrain.Tests.Cuda;

/// <summary>
/// CudaBackend's convolution scratch: the planned figure covers what the three directions grow the workspace to in the
/// plan's layout and dtype, and an exhaustive search neither fails on a huge limit nor leaves the workspace at it.
/// Skipped without a GPU.
/// </summary>
public class CudaWorkspaceTests
{
    public static TheoryData<Layout, DType> LayoutsAndDTypes() => new()
    {
        { Layout.NCHW, DType.Float32 }, { Layout.NHWC, DType.Float32 }, { Layout.NCHW, DType.Float16 }, { Layout.NHWC, DType.Float16 },
    };

    private static readonly Shape Xs = Shape.Of(8, 32, 28, 28), Ws = Shape.Of(64, 32, 3, 3), Ys = Shape.Of(8, 64, 28, 28);
    private static readonly ConvSpec Spec = ConvSpec.Square(1, 1);
    private const long OneMiB = 1L << 20;

    /// <summary>The backend's own workspace (ScratchBytes less cuBLAS's fixed 32 MiB).</summary>
    private static long Workspace(CudaBackend b) => b.ScratchBytes - (32L << 20);

    /// <summary>
    /// Forward, backward-data and backward-filter (16-bit data into an fp32 dw and dbias, accumulating, as a mixed plan
    /// runs it) grow the workspace to no more than the planned figure (the workspace's 1 MiB minimum aside).
    /// </summary>
    [Theory, MemberData(nameof(LayoutsAndDTypes))]
    public void PlannedFigure_CoversWhatThePlansLayoutAndDTypeUse(Layout layout, DType dtype)
    {
        using var t = new Twin();
        if (dtype != DType.Float32) Assert.SkipUnless(t.Gpu.SupportsPrecision(Precision.Float16, out string reason), reason);
        long planned = t.Gpu.Conv2dWorkspaceBytes(Xs, Ws, Spec, layout, dtype);
        Assert.True(planned >= 0);
        var x = t.Normal(1, Xs, layout, dtype);
        var w = t.Normal(2, Ws, Layout.NCHW, dtype);
        var y = t.Zeros(Ys, layout, dtype);
        var dx = t.Zeros(Xs, layout, dtype);
        var dw = t.Zeros(Ws);
        var db = t.Zeros(Shape.Of(Ws.N));
        t.Gpu.Conv2dForward(x.Gpu, w.Gpu, null, y.Gpu, Spec);
        t.Gpu.Conv2dBackwardData(y.Gpu, w.Gpu, dx.Gpu, Spec, accumulate: false);
        t.Gpu.Conv2dBackwardFilter(x.Gpu, y.Gpu, dw.Gpu, db.Gpu, Spec, accumulate: true);
        t.Gpu.Synchronize();
        Assert.True(Workspace(t.Gpu) <= Math.Max(planned, OneMiB),
            $"{layout} {dtype}: the convolutions grew the workspace to {Workspace(t.Gpu)} bytes, the plan reported {planned}");
    }

    /// <summary>
    /// An exhaustive search with a limit far above the device's memory (meant as "no limit") runs, gives the CPU's
    /// result, and leaves the persistent workspace at the chosen algorithm's need, not at the limit.
    /// </summary>
    [Fact]
    public void ExhaustiveSearch_HugeLimit_RunsAndKeepsOnlyTheChosenAlgorithmsWorkspace()
    {
        const long huge = 1L << 50;
        using var t = new Twin(new CudaBackendOptions(ConvWorkspaceLimitBytes: huge, AlgorithmSearch: ConvAlgorithmSearch.Exhaustive));
        var x = t.Normal(1, Xs);
        var w = t.Normal(2, Ws);
        var y = t.Zeros(Ys);
        t.Cpu.Conv2dForward(x.Cpu, w.Cpu, null, y.Cpu, Spec);
        t.Gpu.Conv2dForward(x.Gpu, w.Gpu, null, y.Gpu, Spec);
        t.Check("Conv2dForward", y, "after an exhaustive search with a 1 PiB limit");
        long chosen = t.Gpu.Conv2dWorkspaceBytes(Xs, Ws, Spec, Layout.NCHW, DType.Float32);   // the cached forward choice counts
        Assert.True(Workspace(t.Gpu) <= Math.Max(chosen, OneMiB),
            $"the workspace is {Workspace(t.Gpu)} bytes after the search; the chosen algorithms need at most {chosen}");
    }
}
