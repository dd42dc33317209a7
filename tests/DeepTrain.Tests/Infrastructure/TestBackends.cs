using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using Xunit;

namespace DeepTrain.Tests.Infrastructure;

/// <summary>
/// The backends every backend-generic test runs on. A backend that is not available here
/// (no GPU, no driver, no cuDNN) makes its cases skip with the reason, never pass silently.
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
                var (backend, reason) = BackendFactory.TryCreate(DeepTrain.Tensors.Device.Cuda(0));
                Assert.SkipWhen(backend is null, $"CUDA backend unavailable: {reason}");
                return backend!;
            default:
                throw new ArgumentException($"unknown backend '{name}'", nameof(name));
        }
    }
}
