using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Backends.Cuda;
using DeepTrain.Interop;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Backends;

/// <summary>
/// The managed checks in front of each kernel (OperandChecks, the CPU backend's own, CudaBackend's limits) against the
/// kernel's argument checks, value by value at the boundaries (issue 9): a value the managed side accepts must pass the
/// kernel's checks, and one it refuses the kernel refuses too (or CudaBackend refuses first, naming the limit). The
/// kernel answers before any launch, so this runs without a GPU on the built library; an accepted call then fails at
/// the launch with cudaErrorNoDevice or cudaErrorInsufficientDriver, never cudaErrorInvalidValue. Where a device is
/// present the accepted calls would launch on bogus pointers, so the test skips there (the GPU tests cover those
/// values on real memory). DeepTrain.Interop.Tests' KernelArgumentTests holds the table of every export.
/// </summary>
public sealed unsafe class KernelCheckParityTests
{
    private const int InvalidValue = (int)cudaError_t.cudaErrorInvalidValue;
    private static readonly void* P = (void*)0x1000;   // never dereferenced: no device, so nothing launches
    private static float* F => (float*)P;
    private static int* I => (int*)P;
    private static long* L => (long*)P;

    private sealed record Case(string Name, Action Managed, Func<int> Kernel);

    private static void RequireLibraryWithoutDevice()
    {
        if (!NativeLibraryResolver.TryLoad(Libraries.Kernels, out string why))
            Assert.Skip($"the kernel library is not built here (./build.sh native needs nvcc): {why}");
        if (Kernels.dt_set_device(0) == 0)
            Assert.Skip("a GPU is present: accepted calls would launch on bogus pointers (the GPU tests run these values on real memory)");
    }

    private static List<Case> Cases(TensorScope ts, CpuBackend cpu)
    {
        var cases = new List<Case>();
        void Add(string name, Action managed, Func<int> kernel) => cases.Add(new(name, managed, kernel));
        foreach (var (g, b, n) in new (float, float, int)[]
        {
            (1f, 1f, int.MaxValue), (2f, 0.5f, 2000), (1f, 0.5f, 1), (2f, 1f, 1), (float.MaxValue, float.Epsilon, 1),
            (0.5f, 0.5f, 2000), (float.PositiveInfinity, 0.5f, 1), (float.NaN, 0.5f, 1), (2f, 1.5f, 1), (2f, 0f, 1),
            (2f, -0f, 1), (2f, float.NaN, 1), (2f, float.NegativeInfinity, 1), (2f, 0.5f, 0), (2f, 0.5f, int.MinValue),
        })
            Add($"ScalerFactors({g}, {b}, {n}) / dt_update_scale", () => OperandChecks.ScalerFactors(g, b, n),
                () => Kernels.dt_update_scale(F, I, I, L, g, b, n, 0));

        foreach (float p in new[] { 0f, -0f, 0.5f, 1f, BitConverter.Int32BitsToSingle(0x3F800001), -float.Epsilon, float.NaN, float.PositiveInfinity })
            Add($"DropoutP({p}) / dt_dropout", () => OperandChecks.DropoutP(p), () => Kernels.dt_dropout(P, P, 0, 10, p, 1, 0, 0));

        // Channel copies: 4×5×5 sources, the same c0 in src and dst. The last three overflowed int in OperandChecks before
        // the audit (stride int.MaxValue asked for 0×0; [1, 1 + int.MaxValue) wrapped past the range checks).
        foreach (var (srcC0, channels, stride, dh, dc) in new (int, int, int, int, int)[]
        {
            (0, 4, 2, 3, 8), (2, 2, 1, 5, 4), (0, 0, 3, 2, 4), (1, 4, 2, 3, 8), (0, 4, 2, 2, 8), (-1, 2, 1, 5, 4),
            (0, 4, int.MaxValue, 1, 4), (0, 4, int.MaxValue, 0, 4), (1, int.MaxValue, 2, 3, 8),
        })
        {
            var src = ts.Zeros(Shape.Of(2, 4, 5, 5));
            var dst = ts.Zeros(Shape.Of(2, dc, dh, dh));
            Add($"ChannelCopy(c0 {srcC0}, channels {channels}, stride {stride}, dst {dc}×{dh}×{dh}) / dt_copy_channels",
                () => OperandChecks.ChannelCopy("CopyChannels", src, "src", srcC0, dst, "dst", srcC0, channels, stride),
                () => Kernels.dt_copy_channels(P, 4, 5, 5, srcC0, P, dc, dh, dh, srcC0, 0, 2, channels, stride, 0, 0, 0));
        }

        // Softmax cross-entropy: the kernel's K ≤ 2^24 is CudaBackend's limit, checked before the kernel.
        foreach (int k in new[] { 1, CudaBackend.SoftmaxMaxClasses, CudaBackend.SoftmaxMaxClasses + 1, int.MaxValue })
        {
            var logits = ts.Zeros(Shape.Of(1, 1));
            Add($"CheckSoftmaxClasses(K {k}) / dt_softmax_xent_f32", () => CudaBackend.CheckSoftmaxClasses("SoftmaxCrossEntropy", logits, k),
                () => Kernels.dt_softmax_xent_f32(F, I, 1, k, F, null, null, null, 1f, null, 0));
        }

        // Optimizers: the CPU backend's own calls against the kernel with the same values.
        var w = ts.Zeros(Shape.Of(10));
        foreach (var (args, step) in new (SgdArgs, long)[]
        {
            (new SgdArgs(0.1f, 0.9f), 1), (new SgdArgs(0.1f, 0.9f), 0), (new SgdArgs(0.1f, 0.9f, Form: SgdMomentumForm.Caffe), 1),
            (new SgdArgs(0.1f, 0.9f, 0.1f, Form: SgdMomentumForm.Caffe), 1), (new SgdArgs(0.1f, 0f, 0.1f, Form: SgdMomentumForm.Caffe), 1),
        })
            Add($"SgdStep({args}, step {step}) / dt_sgd_f32", () => cpu.SgdStep(w, w, w, args, step),
                () => Kernels.dt_sgd_f32(F, F, F, null, 0, 10, args.LearningRate, args.Momentum, args.Dampening, args.WeightDecay,
                    args.Nesterov ? 1 : 0, args.Form == SgdMomentumForm.Caffe ? 1 : 0, null, step, null, 0));

        foreach (long step in new[] { 1L, 0L, long.MaxValue })
        {
            Add($"AdamStep(step {step}) / dt_adam_f32", () => cpu.AdamStep(w, w, w, w, new AdamArgs(1e-3f), step),
                () => Kernels.dt_adam_f32(F, F, F, F, null, 0, 10, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 0, null, step, null, 0));
            Add($"AdagradStep(step {step}) / dt_adagrad_f32", () => cpu.AdagradStep(w, w, w, new AdagradArgs(0.1f), step),
                () => Kernels.dt_adagrad_f32(F, F, F, 10, 0.1f, 0f, 0f, 1e-10f, step, 0));
        }
        foreach (var (mu, centered, withBuf, withAvg) in new (float, bool, bool, bool)[]
            { (0f, false, false, false), (0.9f, false, true, false), (0.9f, false, false, false), (0f, true, false, false), (float.NaN, false, false, false) })
        {
            var a = new RmsPropArgs(0.01f, Momentum: mu, Centered: centered);
            Add($"RmsPropStep(μ {mu}, centered {centered}, buffer {withBuf}, average {withAvg}) / dt_rmsprop_f32",
                () => cpu.RmsPropStep(w, w, w, withBuf ? w : null, withAvg ? w : null, a),
                () => Kernels.dt_rmsprop_f32(F, F, F, withBuf ? F : null, withAvg ? F : null, 10, 0.01f, 0.99f, 1e-8f, 0f, mu, centered ? 1 : 0, 0));
        }
        return cases;
    }

    [Fact]
    public void ManagedChecks_AcceptAndRefuse_WhatTheKernelDoes()
    {
        RequireLibraryWithoutDevice();
        using var cpu = new CpuBackend();
        using var ts = new TensorScope(cpu);
        var problems = new List<string>();
        int accepted = 0, refused = 0;
        foreach (var c in Cases(ts, cpu))
        {
            bool managedRefuses;
            try { c.Managed(); managedRefuses = false; }
            catch (ArgumentException) { managedRefuses = true; }   // ArgumentOutOfRangeException included
            int status = c.Kernel();
            bool kernelRefuses = status == InvalidValue;
            if (managedRefuses != kernelRefuses)
                problems.Add($"{c.Name}: managed {(managedRefuses ? "refuses" : "accepts")}, kernel {(kernelRefuses ? "refuses" : $"accepts ({(cudaError_t)status})")}");
            if (managedRefuses) refused++; else accepted++;
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.True(accepted >= 15 && refused >= 15, $"{accepted} accepted and {refused} refused cases: the table lost its boundaries");
    }

    /// <summary>CudaBackend refuses K above the kernel's limit with a message naming the operation, K and the limit.</summary>
    [Fact]
    public void SoftmaxClasses_AboveTheKernelsLimit_AreRefusedByName()
    {
        using var cpu = new CpuBackend();
        using var ts = new TensorScope(cpu);
        var logits = ts.Zeros(Shape.Of(1, 1));
        CudaBackend.CheckSoftmaxClasses("SoftmaxCrossEntropy", logits, 1 << 24);
        var e = Assert.Throws<ArgumentException>(() => CudaBackend.CheckSoftmaxClasses("SoftmaxCrossEntropy", logits, (1 << 24) + 1));
        Assert.StartsWith("SoftmaxCrossEntropy: ", e.Message);
        Assert.Contains("K = 16777217", e.Message);
        Assert.Contains("2^24 = 16777216", e.Message);
    }

    /// <summary>ActivationKind's values are the kernel's DT_ACT_* codes, one for one (CudaBackend passes (int)kind).</summary>
    [Fact]
    public void ActivationKinds_AreTheKernelsCodes()
    {
        var managed = Enum.GetValues<ActivationKind>().Select(k => ((int)k, k.ToString().ToUpperInvariant())).ToArray();
        var kernel = Enum.GetValues<Kernels.dt_activation_kind>().Select(k => ((int)k, k.ToString()["DT_ACT_".Length..].Replace("_", "", StringComparison.Ordinal))).ToArray();
        Assert.Equal(kernel, managed);
    }

    /// <summary>
    /// The channel-copy geometry in 64 bits (the kernel's arithmetic): stride int.MaxValue subsamples a 5×5 map to 1×1, and
    /// channels [1, 1 + int.MaxValue) are refused instead of wrapping past the range check.
    /// </summary>
    [Fact]
    public void CopyChannels_HugeStrideAndChannelRange_FollowTheKernelsArithmetic()
    {
        using var cpu = new CpuBackend();
        using var ts = new TensorScope(cpu);
        var values = TestData.Uniform(1, 2 * 4 * 5 * 5);
        var src = ts.Upload(values, Shape.Of(2, 4, 5, 5));
        var dst = ts.Zeros(Shape.Of(2, 4, 1, 1));
        cpu.CopyChannels(src, 0, dst, 0, 4, int.MaxValue, accumulate: false);
        var expected = Enumerable.Range(0, 8).Select(j => values[j * 25]).ToArray();   // pixel (0, 0) of each (n, c) plane
        Assert.Equal(expected, ts.Download(dst));
        var e = Assert.Throws<ArgumentException>(() => cpu.CopyChannels(src, 1, ts.Zeros(Shape.Of(2, 8, 3, 3)), 1, int.MaxValue, 2, false));
        Assert.Contains("are outside src", e.Message);
    }
}
