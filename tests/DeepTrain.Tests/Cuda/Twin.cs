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
    public Pair Zeros(Shape shape, Layout layout = Layout.NCHW) => new(_c.Zeros(shape, layout), _g.Zeros(shape, layout));

    /// <summary>Both copies in memory order.</summary>
    public (float[] Cpu, float[] Gpu) Download(Pair p) => (_c.Download(p.Cpu), _g.Download(p.Gpu));

    /// <summary>Asserts the GPU result is within <paramref name="op"/>'s tolerance (<see cref="CudaVsCpuTests.Tolerances"/>) of the CPU's.</summary>
    public void Check(string op, Pair p, string what)
    {
        var (atol, rtol) = CudaVsCpuTests.Tolerances[op];
        var (c, g) = Download(p);
        Tolerance.AssertClose(c, g, atol, rtol, $"{op} {what}");
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
