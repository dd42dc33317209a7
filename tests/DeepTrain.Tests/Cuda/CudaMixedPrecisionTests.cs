using DeepTrain.Backends;
using DeepTrain.Backends.Cuda;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Cuda;

/// <summary>
/// The mixed-precision kernels of CudaBackend against their CPU twins: the loss scaler's unscale and state machine
/// (growth, backoff, skip), the loss-gradient scaling, clipping by global norm, and the fused SGD and Adam steps with
/// the 16-bit working copy and the scaler's flag — a skipped step is bit-identical on the GPU too. Skipped (with the
/// reason) without a GPU; <see cref="PrecisionSupport_OnOldGpus_SaysWhatIsMissing"/> runs everywhere.
/// </summary>
public class CudaMixedPrecisionTests
{
    /// <summary>The scaler's state on both backends, as host fields.</summary>
    private static (LossScalerState.Fields Cpu, LossScalerState.Fields Gpu) Read(LossScaler c, LossScaler g) => (c.Read(), g.Read());

    /// <summary>
    /// GradScaler's state machine on both backends over the same gradients: three clean steps grow the scale (interval 3),
    /// ∞ and NaN back off and reset the tracker without counting the step, a finite gradient whose unscaled value
    /// overflows is found too. Scales are powers of two, so every unscaled gradient and every field is exact: the GPU
    /// must match bit for bit.
    /// </summary>
    [Fact]
    public void UnscaleAndUpdateLossScale_GrowthBackoffSkip_MatchCpuExactly()
    {
        using var t = new Twin();
        var o = new LossScalerOptions(InitScale: 8f, GrowthFactor: 2f, BackoffFactor: 0.5f, GrowthInterval: 3);
        using var sc = new LossScaler(t.Cpu, o);
        using var sg = new LossScaler(t.Gpu, o);
        const int n = 1000;
        var g = t.Zeros(Shape.Of(n));
        var clean = TestData.Uniform(1, n, -100f, 100f);
        float[] With(float v, int at) { var a = (float[])clean.Clone(); a[at] = v; return a; }
        var sequence = new (string Name, float[] Values)[]
        {
            ("clean 1", clean), ("clean 2", clean), ("clean 3 (grows)", clean), ("clean 4", clean),
            ("+∞", With(float.PositiveInfinity, 999)), ("NaN", With(float.NaN, 0)), ("clean 5", clean),
        };
        foreach (var (name, values) in sequence)
        {
            t.Cpu.CopyFromHost<float>(values, g.Cpu); t.Gpu.CopyFromHost<float>(values, g.Gpu);
            t.Cpu.UnscaleGradients(g.Cpu, sc.State); t.Gpu.UnscaleGradients(g.Gpu, sg.State);
            var (fc, fg) = Read(sc, sg);
            Assert.True(fc == fg, $"{name}: state after unscale GPU {fg} vs CPU {fc}");
            t.Identical(g, $"{name}: unscaled gradients");
            sc.Update(); sg.Update();
            (fc, fg) = Read(sc, sg);
            Assert.True(fc == fg, $"{name}: state after update GPU {fg} vs CPU {fc}");
        }
        Assert.Equal(new LossScalerState.Fields(4f, 1, 0, 5), sg.Read());   // 8 → 16 → 8 → 4, then one clean step: the walk really happened

        // Overflow of the product: float.MaxValue · (1/0.5) = ∞ is found although the input is finite.
        sc.Restore(new LossScalerState.Fields(0.5f, 0, 0, 0)); sg.Restore(new LossScalerState.Fields(0.5f, 0, 0, 0));
        var big = With(float.MaxValue, 7);
        t.Cpu.CopyFromHost<float>(big, g.Cpu); t.Gpu.CopyFromHost<float>(big, g.Gpu);
        t.Cpu.UnscaleGradients(g.Cpu, sc.State); t.Gpu.UnscaleGradients(g.Gpu, sg.State);
        Assert.Equal(1, sg.Read().FoundInf);
        Assert.Equal(sc.Read(), sg.Read());
    }

    /// <summary>
    /// A static scale (issue 9: dt_update_scale refused growth 1 and backoff 1) on both backends: from a tracker at
    /// int.MaxValue − 2, two clean steps reach the interval and restart the tracker at 0 without overflowing, a NaN
    /// skips the step without moving the scale, and every field matches the CPU after every step.
    /// </summary>
    [Fact]
    public void StaticLossScale_NeverMoves_AndTheTrackerRestartsAtInt32Max_MatchCpuExactly()
    {
        using var t = new Twin();
        var o = LossScalerOptions.Static(1024f);
        using var sc = new LossScaler(t.Cpu, o);
        using var sg = new LossScaler(t.Gpu, o);
        const int n = 100;
        var g = t.Zeros(Shape.Of(n));
        var clean = TestData.Uniform(1, n, -100f, 100f);
        var nan = (float[])clean.Clone();
        nan[3] = float.NaN;
        var start = new LossScalerState.Fields(1024f, int.MaxValue - 2, 0, 41);
        sc.Restore(start); sg.Restore(start);
        foreach (var (name, values) in new[] { ("clean", clean), ("clean, the interval's end", clean), ("NaN", nan), ("clean after", clean) })
        {
            t.Cpu.CopyFromHost<float>(values, g.Cpu); t.Gpu.CopyFromHost<float>(values, g.Gpu);
            t.Cpu.UnscaleGradients(g.Cpu, sc.State); t.Gpu.UnscaleGradients(g.Gpu, sg.State);
            sc.Update(); sg.Update();
            var (fc, fg) = Read(sc, sg);
            Assert.True(fc == fg, $"{name}: state after update GPU {fg} vs CPU {fc}");
        }
        Assert.Equal(new LossScalerState.Fields(1024f, 1, 0, 44), sg.Read());
    }

    [Fact]
    public void MultiplyByLossScale_GlobalNormSquared_ScaleByNorm_MatchCpu()
    {
        using var t = new Twin();
        using var sc = new LossScaler(t.Cpu, new LossScalerOptions(InitScale: 1024f));
        using var sg = new LossScaler(t.Gpu, new LossScalerOptions(InitScale: 1024f));
        var x = t.Normal(2, Shape.Of(13, 10));
        t.Cpu.MultiplyByLossScale(x.Cpu, sc.State); t.Gpu.MultiplyByLossScale(x.Gpu, sg.State);
        t.Identical(x, "x·1024 (a power of two: exact)");

        const int n = 100_003;   // not a multiple of any block size
        var g = t.Normal(3, Shape.Of(n));
        var nsq = t.Zeros(Shape.Of(1));
        t.Cpu.GlobalNormSquared(g.Cpu, nsq.Cpu); t.Gpu.GlobalNormSquared(g.Gpu, nsq.Gpu);
        // Σ of 1e5 squares ~1 in another order (tree vs blocked): fp32 relative error ~√n·2⁻²⁴ ≈ 2e-5 at worst.
        var (c, gg) = t.Download(nsq);
        Tolerance.AssertClose(c, gg, 0, 1e-4, "global norm squared");
        foreach (float maxNorm in new[] { 10f, 1e6f })
        {
            var h = t.Normal(3, Shape.Of(n));
            t.Cpu.ScaleByNorm(h.Cpu, nsq.Cpu, maxNorm); t.Gpu.ScaleByNorm(h.Gpu, nsq.Gpu, maxNorm);
            t.Check("Optimizer", h, $"scale by norm, max norm {maxNorm}");
        }
    }

    public static TheoryData<string, DType> StepCases() => new()
    {
        { "sgd", DType.Float16 }, { "sgd-nesterov", DType.BFloat16 }, { "adam", DType.Float16 }, { "adamw", DType.BFloat16 },
    };

    /// <summary>
    /// Eight fused steps through the scaler on both backends with the third gradient poisoned (NaN): the fp32 weights and
    /// state agree within the optimizer tolerance, the working copy is the weights rounded on each backend (equal to one
    /// 16-bit step), the scaler states are equal, and on the GPU the poisoned step changed nothing, bit for bit.
    /// </summary>
    [Theory, MemberData(nameof(StepCases))]
    public void FusedSteps_WithWorkingCopyAndScaler_MatchCpu_AndSkipBitIdentically(string which, DType half)
    {
        using var t = new Twin();
        var o = new LossScalerOptions(InitScale: 256f, GrowthInterval: 3);
        using var sc = new LossScaler(t.Cpu, o);
        using var sg = new LossScaler(t.Gpu, o);
        const int n = 4099;
        var w = t.Normal(70, Shape.Of(n));
        var wc = t.As(half, w);
        var s1 = t.Zeros(Shape.Of(n));
        var s2 = t.Zeros(Shape.Of(n));
        var g = t.Zeros(Shape.Of(n));
        for (int step = 1; step <= 8; step++)
        {
            float scale = sg.Read().Scale;
            var values = TestData.Normal(100 + step, n).Select(v => v * scale).ToArray();
            if (step == 3) values[1234] = float.NaN;
            t.Cpu.CopyFromHost<float>(values, g.Cpu); t.Gpu.CopyFromHost<float>(values, g.Gpu);
            byte[] before = step == 3 ? Snapshot(t.Gpu) : [];
            Both(b => b.UnscaleGradients(P(g), b is CudaBackend ? sg.State : sc.State));
            Both(b =>
            {
                var state = b is CudaBackend ? sg.State : sc.State;
                switch (which)
                {
                    case "sgd": b.SgdStep(P(w), P(g), P(s1), new SgdArgs(0.1f, 0.9f, 0f, 1e-3f), 0, P(wc), state); break;
                    case "sgd-nesterov": b.SgdStep(P(w), P(g), P(s1), new SgdArgs(0.1f, 0.9f, 0f, 1e-3f, Nesterov: true), 0, P(wc), state); break;
                    case "adam": b.AdamStep(P(w), P(g), P(s1), P(s2), new AdamArgs(1e-2f, WeightDecay: 1e-2f), 0, P(wc), state); break;
                    default: b.AdamStep(P(w), P(g), P(s1), P(s2), new AdamArgs(1e-2f, WeightDecay: 1e-2f, Decoupled: true), 0, P(wc), state); break;
                }
            });
            if (step == 3) Assert.Equal(before, Snapshot(t.Gpu));
            sc.Update(); sg.Update();
            Assert.Equal(sc.Read(), sg.Read());
        }
        Assert.Equal(7, sg.Read().StepCount);   // the poisoned step was not counted
        t.Check("Optimizer", w, $"{which} fp32 weights");
        t.Check("Optimizer", s1, $"{which} first state");
        if (which.StartsWith("adam", StringComparison.Ordinal)) t.Check("Optimizer", s2, $"{which} second moment");
        // The working copy is round(w) on each backend: equal within one 16-bit step of the weights' tolerance.
        t.Check16("Optimizer", half, wc, $"{which} working copy");
        var (_, gw) = t.Download(w);
        var (_, gwc) = t.Download(wc);
        Assert.Equal(gw.Select(v => ReducedFloat.Round(v, half)).ToArray(), gwc);

        byte[] Snapshot(IBackend b) =>
        [
            .. new[] { w, s1, s2 }.SelectMany(p => Bytes(b, p.Gpu)), .. Bytes(b, As32(wc.Gpu)),
        ];
        Tensor As32(Tensor t16)
        {
            var p = t.Zeros(t16.Shape);
            t.Gpu.Copy(t16, p.Gpu);
            return p.Gpu;
        }
        static IEnumerable<byte> Bytes(IBackend b, Tensor x)
        {
            var a = new float[x.Elements];
            b.CopyToHost<float>(x, a);
            return a.SelectMany(BitConverter.GetBytes);
        }
        void Both(Action<IBackend> call)
        {
            _cpu = true; call(t.Cpu);
            _cpu = false; call(t.Gpu);
        }
    }

    [ThreadStatic] private static bool _cpu;
    private static Tensor P(Pair p) => _cpu ? p.Cpu : p.Gpu;

    /// <summary>
    /// fp16 or bf16 requested on a GPU that lacks it: the answer names the device, its architecture, what the precision
    /// needs and what to use instead; supported combinations give no reason. Runs without a GPU (a static decision).
    /// </summary>
    [Fact]
    public void PrecisionSupport_OnOldGpus_SaysWhatIsMissing()
    {
        Assert.False(CudaBackend.PrecisionSupport(Precision.Float16, 37, "cuda:1", out string reason));
        Assert.Equal("cuda:1 (sm_37) has no fp16 arithmetic (fp16 training needs sm_53 or newer); use FitOptions.Precision = fp32", reason);
        Assert.False(CudaBackend.PrecisionSupport(Precision.BFloat16, 75, "cuda:0", out reason));
        Assert.Equal("cuda:0 (sm_75) has no bfloat16 support in cuDNN (bf16 training needs sm_80, Ampere, or newer); use FitOptions.Precision = fp16 or fp32", reason);
        foreach (int cc in new[] { 53, 70, 75, 80, 90 })
        {
            Assert.True(CudaBackend.PrecisionSupport(Precision.Float16, cc, "cuda:0", out reason), $"fp16 on sm_{cc}");
            Assert.Equal("", reason);
        }
        Assert.True(CudaBackend.PrecisionSupport(Precision.BFloat16, 80, "cuda:0", out reason));
        Assert.True(CudaBackend.PrecisionSupport(Precision.Float32, 30, "cuda:0", out reason));
        Assert.Equal("", reason);
        Assert.False(CudaBackend.PrecisionSupport((Precision)42, 90, "cuda:0", out reason));
        Assert.Contains("unknown precision 42", reason);
    }

    /// <summary>The instance answer on a real GPU is the static one for its compute capability.</summary>
    [Fact]
    public void SupportsPrecision_OnThisGpu_IsTheStaticDecision()
    {
        using var b = TestBackends.Cuda();
        foreach (var p in new[] { Precision.Float32, Precision.Float16, Precision.BFloat16 })
        {
            bool expected = CudaBackend.PrecisionSupport(p, b.ComputeCapability, b.Device.ToString(), out string want);
            Assert.Equal(expected, b.SupportsPrecision(p, out string got));
            Assert.Equal(want, got);
        }
    }
}
