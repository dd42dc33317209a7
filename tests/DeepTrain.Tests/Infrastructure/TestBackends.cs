using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Backends.Cuda;
using Xunit;

namespace DeepTrain.Tests.Infrastructure;

/// <summary>
/// The backends every backend-generic test runs on. A backend that is not available here
/// (no GPU, no driver, no cuDNN, no kernel library) makes its cases skip with the reason, never pass silently.
/// Tests that run on "cuda" must read results through <see cref="IBackend.CopyToHost{T}"/> (or
/// <see cref="TensorScope.Download"/>), never <c>Tensor.AsSpan</c>, which works on host memory only.
/// </summary>
public static class TestBackends
{
    /// <summary>Theory data: one row per backend name.</summary>
    public static TheoryData<string> All => new() { "cpu", "cuda" };

    /// <summary>Creates the named backend or skips the test, saying why.</summary>
    public static IBackend Create(string name)
    {
        switch (name)
        {
            case "cpu":
                return new CpuBackend();
            case "cuda":
                return Cuda();
            default:
                throw new ArgumentException($"unknown backend '{name}'", nameof(name));
        }
    }

    /// <summary>A CUDA backend on device 0 with <paramref name="options"/>, or a skip naming what is missing.</summary>
    public static CudaBackend Cuda(CudaBackendOptions? options = null)
    {
        var (backend, reason) = BackendFactory.TryCreate(DeepTrain.Tensors.Device.Cuda(0), options);
        Assert.SkipWhen(backend is null, $"CUDA backend unavailable: {reason}");
        return (CudaBackend)backend!;
    }
}
