using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Backends.Cuda;
using DeepTrain.Losses;
using DeepTrain.Memory;
using DeepTrain.Modeling;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Zoo;
using Xunit;

namespace DeepTrain.Tests.Cuda;

/// <summary>
/// The plan-versus-memory check on the GPU (issue 13 item 3): the device's figure is cudaMemGetInfo's free bytes plus
/// what the memory pool holds idle, and a plan larger than it is refused before its arena is allocated, with both
/// figures. The arithmetic and the refusal run without a GPU (the figures injected); the device's own figures are read
/// where a GPU exists.
/// </summary>
public class CudaPlanMemoryCheckTests
{
    private const ulong MiB = 1UL << 20, GiB = 1UL << 30;

    [Theory]
    [InlineData(512 * MiB, 80 * GiB, 0UL, 0UL, 512 * MiB)]                // no pool: what cudaMemGetInfo says
    [InlineData(512 * MiB, 80 * GiB, 300 * MiB, 100 * MiB, 712 * MiB)]   // an idle 200 MiB in the pool is available too
    [InlineData(512 * MiB, 80 * GiB, 100 * MiB, 300 * MiB, 512 * MiB)]   // used above reserved (a racing read): no idle bytes
    [InlineData(79 * GiB, 80 * GiB, 2 * GiB, 0UL, 80 * GiB)]             // never more than the device holds
    [InlineData(ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, 0UL, long.MaxValue)]
    public void Available_IsFreePlusThePoolsIdleBytes(ulong free, ulong total, ulong reserved, ulong used, ulong expected)
        => Assert.Equal((long)expected, new DeviceMemoryFigure(free, total, reserved, used).Available);

    /// <summary>A CPU model standing in for a GPU whose figures are injected.</summary>
    private sealed class InjectedGpu(IBackend inner, DeviceMemoryFigure figure) : ForwardingBackend(inner)
    {
        public override string Description => "cuda:0 (injected, 80 GiB)";
        public override long? AvailableMemoryBytes => figure.Available;
    }

    [Fact]
    public void APlanLargerThanTheInjectedFreeFigure_IsRefusedWithBothFigures_BeforeItsArena()
    {
        using var cpu = new CpuBackend();
        var gpu = new InjectedGpu(cpu, new DeviceMemoryFigure(Free: 48 * MiB, Total: 80 * GiB, PoolReserved: 16 * MiB, PoolUsed: 8 * MiB));
        using var model = new Model(ModelZoo.Create("resnet20"), gpu);
        long before = cpu.LiveBytes;
        var e = Assert.Throws<InsufficientMemoryForPlanException>(() => model.Compile(4096, training: true, new CrossEntropyLoss()));
        Assert.Equal(before, cpu.LiveBytes);
        Assert.Equal((long)(56 * MiB), e.AvailableBytes);
        Assert.True(e.PlannedBytes > e.AvailableBytes);
        Assert.Contains($"({e.PlannedBytes} bytes:", e.Message);
        Assert.Contains($"but cuda:0 (injected, 80 GiB) has 56.00 MiB ({56 * MiB} bytes) available", e.Message);
        using var fits = model.Compile(8, training: true, new CrossEntropyLoss());   // a small batch still compiles
    }

    /// <summary>A CUDA backend, or a skip saying why there is none.</summary>
    private static CudaBackend Gpu()
    {
        var (backend, reason) = BackendFactory.TryCreate(Device.Cuda(0), null);
        Assert.SkipWhen(backend is null, $"no CUDA backend: {reason}");
        return (CudaBackend)backend!;
    }

    [Fact]
    public void OnTheGpu_TheFigureIsReadFromTheDevice_AndAnInjectedOneRefusesThePlan()
    {
        using var gpu = Gpu();
        var read = gpu.ReadMemoryFigure();
        Assert.InRange(gpu.AvailableMemoryBytes!.Value, 1, (long)read.Total);
        using var model = new Model(ModelZoo.Create("resnet20"), gpu);
        using (var plan = model.Compile(64, training: true, new CrossEntropyLoss())) { }
        gpu.MemoryFigureOverride = () => new DeviceMemoryFigure(Free: 32 * MiB, Total: read.Total);
        long before = gpu.LiveBytes;
        var e = Assert.Throws<InsufficientMemoryForPlanException>(() => model.Compile(4096, training: true, new CrossEntropyLoss()));
        Assert.Equal(before, gpu.LiveBytes);
        Assert.Equal((long)(32 * MiB), e.AvailableBytes);
        Assert.Contains(gpu.Description, e.Message);
    }
}
