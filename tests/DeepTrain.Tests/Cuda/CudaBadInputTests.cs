using DeepTrain.Backends;
using DeepTrain.Backends.Cuda;
using DeepTrain.Interop;
using DeepTrain.Memory;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Cuda;

/// <summary>
/// Issue #3 item 11: bad input to the CUDA backend fails with an exception that names the operation, the argument and
/// what was wrong — never a crash, never a silently wrong result. Also memory accounting and determinism.
/// </summary>
public class CudaBadInputTests
{
    /// <summary>A buffer that claims to live on another device; its address is never dereferenced (the checks come first).</summary>
    private sealed class ForeignBuffer(Device device, long bytes) : DeviceBuffer
    {
        public override Device Device => device;
        public override long Bytes => bytes;
        public override nint Pointer => 4096;
        public override bool IsDisposed => false;
        public override void Dispose() { }
    }

    [Fact]
    public void HostTensor_PassedToCuda_ThrowsNamingOperationArgumentAndDevice()
    {
        using var b = TestBackends.Cuda();
        using var s = new TensorScope(b);
        using var host = Tensor.Create(Shape.Of(2, 3, 8, 8));
        var w = s.Zeros(Shape.Of(4, 3, 3, 3));
        var y = s.Zeros(Shape.Of(2, 4, 6, 6));
        var e = Assert.Throws<ArgumentException>(() => b.Conv2dForward(host, w, null, y, new ConvSpec()));
        Assert.Contains("Conv2dForward", e.Message);
        Assert.Contains("x is on cpu", e.Message);
        Assert.Equal("x", e.ParamName);

        var e2 = Assert.Throws<ArgumentException>(() => b.Fill(host, 1f));
        Assert.Contains("Fill: t is on cpu", e2.Message);
    }

    [Fact]
    public void TensorOnAnotherGpu_ThrowsNamingItsDevice()
    {
        using var b = TestBackends.Cuda();
        using var s = new TensorScope(b);
        var foreign = new Tensor(new ForeignBuffer(Device.Cuda(7), 4096), 0, Shape.Of(16));
        var mine = s.Zeros(Shape.Of(16));
        var e = Assert.Throws<ArgumentException>(() => b.Add(mine, foreign, mine));
        Assert.Contains("Add: b is on cuda:7", e.Message);
        Assert.Contains("cuda:0", e.Message);
    }

    [Fact]
    public void GpuTensor_PassedToCpu_Throws()
    {
        using var b = TestBackends.Cuda();
        using var s = new TensorScope(b);
        using var cpu = new DeepTrain.Backends.Cpu.CpuBackend();
        var t = s.Zeros(Shape.Of(8));
        var e = Assert.Throws<ArgumentException>(() => cpu.Fill(t, 1f));
        Assert.Contains("Fill", e.Message);
        Assert.Contains("cuda:0", e.Message);
    }

    [Fact]
    public void ShapeMismatch_IsCaughtBeforeCudnn_WithTheCpuBackendsMessage()
    {
        using var b = TestBackends.Cuda();
        using var s = new TensorScope(b);
        using var cpu = new DeepTrain.Backends.Cpu.CpuBackend();
        using var cs = new TensorScope(cpu);
        var spec = ConvSpec.Square(1, 1);
        var gpuError = Assert.Throws<ArgumentException>(() => b.Conv2dForward(s.Zeros(Shape.Of(2, 3, 8, 8)), s.Zeros(Shape.Of(4, 3, 3, 3)), null, s.Zeros(Shape.Of(2, 4, 7, 7)), spec));
        var cpuError = Assert.Throws<ArgumentException>(() => cpu.Conv2dForward(cs.Zeros(Shape.Of(2, 3, 8, 8)), cs.Zeros(Shape.Of(4, 3, 3, 3)), null, cs.Zeros(Shape.Of(2, 4, 7, 7)), spec));
        Assert.Equal(cpuError.Message, gpuError.Message);
    }

    [Fact]
    public void ShapeCudnnRejects_ThrowsCudaOperationException_WrappingCudnnException()
    {
        using var b = TestBackends.Cuda();
        // 50000 × 50000 = 2.5·10⁹ elements: over the 2³¹-element limit of cuDNN's legacy tensor descriptors. Only the
        // descriptors and heuristics are touched (no memory), so nothing can crash if a future cuDNN accepted it.
        var x = Shape.Of(1, 1, 50_000, 50_000);
        var e = Assert.Throws<CudaOperationException>(() => b.Conv2dWorkspaceBytes(x, Shape.Of(1, 1, 1, 1), new ConvSpec(), Layout.NCHW, DType.Float32));
        Assert.Equal("Conv2dWorkspaceBytes", e.Operation);
        Assert.Contains("50000", e.Message);
        Assert.IsType<CudnnException>(e.InnerException);
    }

    [Fact]
    public void WorkspaceLimit_TooSmall_ThrowsNamingNeededAndAllowed_OrUsesAZeroWorkspaceAlgorithm()
    {
        // A zero limit leaves only algorithms that need no workspace. Whether cuDNN has one for a direction depends on
        // its version and GPU; either the result is right, or the exception names the operation, shapes and both sizes.
        using var t = new Twin(new CudaBackendOptions(ConvWorkspaceLimitBytes: 0, Deterministic: true));
        var xs = Shape.Of(4, 16, 16, 16);
        var ws = Shape.Of(32, 16, 3, 3);
        var spec = ConvSpec.Square(1, 1);
        var x = t.Normal(1, xs, Layout.NHWC);
        var w = t.Normal(2, ws);
        var y = t.Zeros(Shape.Of(4, 32, 16, 16), Layout.NHWC);
        var dw = t.Zeros(ws);
        int limited = 0;
        foreach (var (name, cpu, gpu, result) in new (string, Action, Action, Pair)[]
        {
            ("Conv2dForward", () => t.Cpu.Conv2dForward(x.Cpu, w.Cpu, null, y.Cpu, spec), () => t.Gpu.Conv2dForward(x.Gpu, w.Gpu, null, y.Gpu, spec), y),
            ("Conv2dBackwardFilter", () => t.Cpu.Conv2dBackwardFilter(x.Cpu, y.Cpu, dw.Cpu, null, spec, false), () => t.Gpu.Conv2dBackwardFilter(x.Gpu, y.Gpu, dw.Gpu, null, spec, false), dw),
        })
        {
            cpu();
            try
            {
                gpu();
                t.Check(name, result, "with a zero workspace limit");
            }
            catch (ConvWorkspaceLimitException e)
            {
                limited++;
                Assert.Equal(name, e.Operation);
                Assert.Equal(0, e.AllowedBytes);
                Assert.True(e.NeededBytes > 0, e.Message);
                Assert.Contains($"{xs}", e.Message);
                Assert.Contains("ConvWorkspaceLimitBytes", e.Message);
            }
        }
        Assert.InRange(limited, 0, 2);
    }

    [Fact]
    public void HugeAllocation_ThrowsCudaException_AndTheBackendStaysUsable()
    {
        using var b = TestBackends.Cuda();
        var e = Assert.Throws<CudaException>(() => b.Allocate(1L << 50));
        Assert.Equal(cudaError_t.cudaErrorMemoryAllocation, e.Status);
        using var s = new TensorScope(b);
        var t = s.Upload([1f, 2f, 3f], Shape.Of(3));
        b.Axpby(2f, t, 0f, t);
        Assert.Equal([2f, 4f, 6f], s.Download(t));
    }

    [Fact]
    public void BadLabel_Immediate_ThrowsNamingIndexAndValue_LikeTheCpuBackend()
    {
        using var b = TestBackends.Cuda(new CudaBackendOptions(CheckLabels: LabelCheck.Immediate));
        using var s = new TensorScope(b);
        var z = s.Upload(TestData.Normal(1, 4, 3), Shape.Of(4, 3));
        var labels = s.Upload([0, 2, 3, 1], Shape.Of(4));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => b.SoftmaxCrossEntropy(z, labels, s.Zeros(Shape.Of(1)), null, null, 1f));
        Assert.Contains("labels[2] = 3 is outside [0, 3)", e.Message);
    }

    /// <summary>
    /// Logits with no classes, (N, 0): every label is outside [0, 0). Both backends throw the CPU's exception naming the
    /// first label (dt_softmax_xent_f32 refuses K = 0 with cudaErrorInvalidValue, so CudaBackend answers first; issue 9).
    /// </summary>
    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void SoftmaxCrossEntropy_NoClasses_ThrowsTheBadLabel_OnEveryBackend(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var z = s.Zeros(Shape.Of(4, 0));
        var labels = s.Upload([0, 0, 0, 0], Shape.Of(4));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => b.SoftmaxCrossEntropy(z, labels, s.Zeros(Shape.Of(1)), null, null, 1f));
        Assert.Contains("labels[0] = 0 is outside [0, 0)", e.Message);
    }

    /// <summary>The default check adds no synchronisation: the loss call returns, and the next host read throws, once.</summary>
    [Fact]
    public void BadLabel_Deferred_ThrowsAtTheNextHostRead_Once()
    {
        using var b = TestBackends.Cuda();
        using var s = new TensorScope(b);
        var z = s.Upload(TestData.Normal(1, 4, 3), Shape.Of(4, 3));
        var labels = s.Upload([0, 2, 3, 1], Shape.Of(4));
        var loss = s.Zeros(Shape.Of(1));
        b.SoftmaxCrossEntropy(z, labels, loss, null, null, 1f);   // no throw here
        var host = new float[1];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => b.CopyToHost<float>(loss, host));
        Assert.Contains("outside [0, K)", e.Message);
        b.CopyToHost<float>(loss, host);   // reported once; the flag is cleared
        var good = s.Upload([0, 2, 1, 1], Shape.Of(4));
        b.SoftmaxCrossEntropy(z, good, loss, null, null, 1f);
        b.Synchronize();
    }

    [Fact]
    public void Allocations_AreZeroed_Counted_AndFreed()
    {
        using var b = TestBackends.Cuda();
        var buf = b.Allocate(1000);
        Assert.Equal(1000, b.LiveBytes);
        var t = new Tensor(buf, 0, Shape.Of(250));
        var host = new float[250];
        Array.Fill(host, 7f);
        b.CopyToHost<float>(t, host);
        Assert.All(host, v => Assert.Equal(0f, v));
        buf.Dispose();
        Assert.Equal(0, b.LiveBytes);
        Assert.Equal(0, b.LeakedBuffers);
    }

    [Fact]
    public void UndisposedBuffer_IsCountedAsALeak_NeverFreedByTheFinalizer()
    {
        using var b = TestBackends.Cuda();
        long leaksBefore = MemoryTracker.Leaks;
        AllocateAndDrop(b);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(1, b.LeakedBuffers);
        Assert.Equal(1024, b.LeakedBytes);
        Assert.True(MemoryTracker.Leaks > leaksBefore);
        Assert.Equal(1024, b.LiveBytes);   // still counted as live: the memory was not freed behind the owner's back

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        static void AllocateAndDrop(CudaBackend backend) => backend.Allocate(1024);
    }

    [Fact]
    public void DeterministicMode_GivesBitIdenticalGradients()
    {
        using var t = new Twin(new CudaBackendOptions(Deterministic: true));
        var xs = Shape.Of(8, 16, 12, 12);
        var ws = Shape.Of(16, 16, 3, 3);
        var spec = ConvSpec.Square(1, 1);
        var x = t.Normal(1, xs, Layout.NHWC);
        var dy = t.Normal(2, Shape.Of(8, 16, 12, 12), Layout.NHWC);
        var w = t.Normal(3, ws);
        var dw1 = t.Zeros(ws);
        var dw2 = t.Zeros(ws);
        var dx1 = t.Zeros(xs, Layout.NHWC);
        var dx2 = t.Zeros(xs, Layout.NHWC);
        t.Gpu.Conv2dBackwardFilter(x.Gpu, dy.Gpu, dw1.Gpu, null, spec, false);
        t.Gpu.Conv2dBackwardFilter(x.Gpu, dy.Gpu, dw2.Gpu, null, spec, false);
        t.Gpu.Conv2dBackwardData(dy.Gpu, w.Gpu, dx1.Gpu, spec, false);
        t.Gpu.Conv2dBackwardData(dy.Gpu, w.Gpu, dx2.Gpu, spec, false);
        Assert.Equal(t.Download(dw1).Gpu, t.Download(dw2).Gpu);
        Assert.Equal(t.Download(dx1).Gpu, t.Download(dx2).Gpu);
    }
}
