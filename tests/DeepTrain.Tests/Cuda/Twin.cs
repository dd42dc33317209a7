using DeepTrain.Backends.Cpu;
using DeepTrain.Backends.Cuda;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;

namespace DeepTrain.Tests.Cuda;

/// <summary>One tensor uploaded to both backends from the same host values.</summary>
public readonly record struct Pair(Tensor Cpu, Tensor Gpu);

/// <summary>
/// A CPU backend and a CUDA backend side by side, for running one operation on both with the same inputs. Creating it
/// skips the test (with the reason) where no CUDA backend can be made; disposing frees every tensor on both.
/// </summary>
public sealed class Twin : IDisposable
{
    private readonly TensorScope _c, _g;

    /// <summary>Creates the pair; skips when CUDA is unavailable.</summary>
    public Twin(CudaBackendOptions? options = null)
    {
        Gpu = TestBackends.Cuda(options);
        Cpu = new CpuBackend();
        _c = new TensorScope(Cpu);
        _g = new TensorScope(Gpu);
    }

    /// <summary>The reference.</summary>
    public CpuBackend Cpu { get; }
    /// <summary>The backend under test.</summary>
    public CudaBackend Gpu { get; }

    /// <summary>The same fp32 values (memory order) on both.</summary>
    public Pair Up(float[] memoryOrder, Shape shape, Layout layout = Layout.NCHW) => new(_c.Upload(memoryOrder, shape, layout), _g.Upload(memoryOrder, shape, layout));

    /// <summary>Seeded standard-normal values on both.</summary>
    public Pair Normal(int seed, Shape shape, Layout layout = Layout.NCHW) => Up(TestData.Normal(seed, shape.Dims.ToArray()), shape, layout);

    /// <summary>The same int32 values on both.</summary>
    public Pair Up(int[] data, Shape shape) => new(_c.Upload(data, shape), _g.Upload(data, shape));

    /// <summary>Zeros on both.</summary>
    public Pair Zeros(Shape shape, Layout layout = Layout.NCHW, DType dtype = DType.Float32) => new(_c.Zeros(shape, layout, dtype), _g.Zeros(shape, layout, dtype));

    /// <summary>
    /// <paramref name="p"/>'s values stored as <paramref name="dtype"/> on both (each backend's Copy rounds to nearest even,
    /// so both hold the same bits); fp32 returns <paramref name="p"/> itself.
    /// </summary>
    public Pair As(DType dtype, Pair p)
    {
        if (dtype == p.Cpu.DType) return p;
        var q = Zeros(p.Cpu.Shape, p.Cpu.Layout, dtype);
        Cpu.Copy(p.Cpu, q.Cpu);
        Gpu.Copy(p.Gpu, q.Gpu);
        return q;
    }

    /// <summary>Seeded standard-normal values stored as <paramref name="dtype"/> on both.</summary>
    public Pair Normal(int seed, Shape shape, Layout layout, DType dtype) => As(dtype, Normal(seed, shape, layout));

    /// <summary>Both copies in memory order, widened to fp32 when stored in 16 bits (exact).</summary>
    public (float[] Cpu, float[] Gpu) Download(Pair p) => p.Cpu.DType == DType.Float32
        ? (_c.Download(p.Cpu), _g.Download(p.Gpu))
        : Download(As(DType.Float32, p));

    /// <summary>Asserts the GPU result is within <paramref name="op"/>'s tolerance (<see cref="CudaVsCpuTests.Tolerances"/>) of the CPU's.</summary>
    public void Check(string op, Pair p, string what)
    {
        var (atol, rtol) = CudaVsCpuTests.Tolerances[op];
        var (c, g) = Download(p);
        Tolerance.AssertClose(c, g, atol, rtol, $"{op} {what}");
    }

    /// <summary>
    /// Asserts the GPU result is within <paramref name="op"/>'s 16-bit tolerance (<see cref="CudaMixedVsCpuTests.Tolerance16"/>)
    /// of the CPU's.
    /// </summary>
    public void Check16(string op, DType dtype, Pair p, string what)
    {
        var (atol, rtol) = CudaMixedVsCpuTests.Tolerance16(op, dtype);
        var (c, g) = Download(p);
        Tolerance.AssertClose(c, g, atol, rtol, $"{op} {dtype} {what}");
    }

    /// <summary>
    /// Asserts both backends hold the same values bit for bit (compared widened to fp32, which is exact), except that any
    /// NaN equals any NaN: x86 keeps an input NaN's sign and payload through arithmetic, the GPU returns its canonical NaN.
    /// </summary>
    public void Identical(Pair p, string what)
    {
        var (c, g) = Download(p);
        for (int i = 0; i < c.Length; i++)
            if (BitConverter.SingleToInt32Bits(c[i]) != BitConverter.SingleToInt32Bits(g[i]) && !(float.IsNaN(c[i]) && float.IsNaN(g[i])))
                Xunit.Assert.Fail($"{what}: element {i} is {g[i]:R} on the GPU but {c[i]:R} on the CPU (expected the same bits)");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _c.Dispose();
        _g.Dispose();
        Cpu.Dispose();
        Gpu.Dispose();
    }
}
