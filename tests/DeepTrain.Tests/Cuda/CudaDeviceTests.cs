using DeepTrain.Backends;
using DeepTrain.Backends.Cuda;
using DeepTrain.Interop;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Cuda;

/// <summary>
/// A backend on a device other than 0: its cuDNN, cuBLAS and kernel-library work runs there whatever the calling thread
/// had selected, in either CUDA runtime of the process. Needs two GPUs; skipped otherwise.
/// </summary>
public class CudaDeviceTests
{
    /// <summary>A backend on cuda:1, or a skip saying why there is none.</summary>
    private static CudaBackend OnSecondDevice()
    {
        var (backend, reason) = BackendFactory.TryCreate(Device.Cuda(1), null);
        Assert.SkipWhen(backend is null, $"no CUDA backend on cuda:1: {reason}");
        return (CudaBackend)backend!;
    }

    /// <summary>
    /// Fill and Activation (kernel library), AddBias (cuDNN) and Gemm (cuBLAS) on cuda:1 give the CPU's values, from the
    /// creating thread after other code selected device 0 there, and from a fresh thread (where both runtimes start on
    /// device 0).
    /// </summary>
    [Fact]
    public void SecondDevice_KernelsCudnnAndCublas_RunThere_WhateverTheThreadSelected()
    {
        using var gpu = OnSecondDevice();
        Check(gpu, "after cudaSetDevice(0) on the creating thread", selectZeroFirst: true);
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try { Check(gpu, "on a fresh thread", selectZeroFirst: false); }
            catch (Exception e) { failure = e; }
        });
        thread.Start();
        thread.Join();
        if (failure is not null) throw new Xunit.Sdk.XunitException($"on a fresh thread: {failure}");
    }

    private static void Check(CudaBackend gpu, string what, bool selectZeroFirst)
    {
        using var s = new TensorScope(gpu);
        var x = TestData.Normal(1, 4, 6);
        var w = TestData.Normal(2, 3, 6);
        var bias = TestData.Normal(3, 3);
        if (selectZeroFirst) Interop.Checks.Check(Cudart.cudaSetDevice(0));

        var xt = s.Upload(x, Shape.Of(4, 6));
        var relu = s.Zeros(Shape.Of(4, 6));
        gpu.Activation(ActivationKind.Relu, 0f, xt, relu);
        var y = s.Zeros(Shape.Of(4, 3));
        gpu.Gemm(false, true, 1f, relu, s.Upload(w, Shape.Of(3, 6)), 0f, y);
        gpu.AddBias(y, s.Upload(bias, Shape.Of(3)));
        var filled = s.Zeros(Shape.Of(5));
        gpu.Fill(filled, 2.5f);
        Interop.Checks.Check(Cudart.cudaGetDevice(out int current));
        Assert.Equal(1, current);

        var expected = new double[12];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++)
            {
                double sum = bias[j];
                for (int k = 0; k < 6; k++) sum += Math.Max(x[i * 6 + k], 0f) * (double)w[j * 6 + k];
                expected[i * 3 + j] = sum;
            }
        Tolerance.AssertClose(expected, s.Download(y), 1e-5, 1e-5, $"relu → Gemm → AddBias on cuda:1 {what}");
        Assert.All(s.Download(filled), v => Assert.Equal(2.5f, v));
    }
}
