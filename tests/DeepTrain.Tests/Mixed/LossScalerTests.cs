using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Mixed;

/// <summary>The loss scaler's state machine (GradScaler's), the unscale, and optimizer steps that honour its flag.</summary>
public class LossScalerTests
{
    private static LossScalerState.Fields Step(IBackend b, LossScaler s, Tensor grads, float[] g)
    {
        b.CopyFromHost<float>(g, grads);
        b.UnscaleGradients(grads, s.State);
        s.Update();
        return s.Read();
    }

    [Fact]
    public void Grows_AfterIntervalCleanSteps_BacksOffOnOverflow_ResetsTheTracker()
    {
        using var b = new CpuBackend();
        using var ts = new TensorScope(b);
        using var s = new LossScaler(b, new LossScalerOptions(InitScale: 8f, GrowthFactor: 2f, BackoffFactor: 0.5f, GrowthInterval: 3));
        var grads = ts.Zeros(Shape.Of(5));
        float[] clean = [1, 2, 3, 4, 5], inf = [1, float.PositiveInfinity, 3, 4, 5], nan = [1, 2, float.NaN, 4, 5];
        Assert.Equal(new LossScalerState.Fields(8f, 0, 0, 0), s.Read());
        Assert.Equal(new LossScalerState.Fields(8f, 1, 0, 1), Step(b, s, grads, clean));
        Assert.Equal(new LossScalerState.Fields(8f, 2, 0, 2), Step(b, s, grads, clean));
        Assert.Equal(new LossScalerState.Fields(16f, 0, 0, 3), Step(b, s, grads, clean));   // grew after 3 clean steps
        Assert.Equal(new LossScalerState.Fields(16f, 1, 0, 4), Step(b, s, grads, clean));
        Assert.Equal(new LossScalerState.Fields(8f, 0, 0, 4), Step(b, s, grads, inf));       // halved, tracker reset, step not counted
        Assert.Equal(new LossScalerState.Fields(4f, 0, 0, 4), Step(b, s, grads, nan));       // NaN too
        Assert.Equal(new LossScalerState.Fields(4f, 1, 0, 5), Step(b, s, grads, clean));
        // Unscale divides by the scale in force.
        Assert.Equal(clean.Select(x => x / 4f).ToArray(), ts.Download(grads));
    }

    [Fact]
    public void ScaleHasNoFloor_AsInPyTorch()
    {
        using var b = new CpuBackend();
        using var ts = new TensorScope(b);
        using var s = new LossScaler(b, new LossScalerOptions(InitScale: 1f));
        var grads = ts.Zeros(Shape.Of(1));
        for (int i = 0; i < 10; i++) Step(b, s, grads, [float.NaN]);
        Assert.Equal(1f / 1024, s.Read().Scale);
    }

    [Fact]
    public void Unscale_FlagsOverflowOfTheProduct_NotJustNonFiniteInputs()
    {
        using var b = new CpuBackend();
        using var ts = new TensorScope(b);
        using var s = new LossScaler(b, new LossScalerOptions(InitScale: 0.5f));   // 1/scale = 2: float.MaxValue·2 = ∞
        var grads = ts.Upload([1f, float.MaxValue], Shape.Of(2));
        b.UnscaleGradients(grads, s.State);
        Assert.Equal(1, s.Read().FoundInf);
        s.Update();
        Assert.Equal(0, s.Read().FoundInf);   // the update clears it
    }

    [Fact]
    public void StaticScale_NeverMoves_ButStillSkips()
    {
        using var b = new CpuBackend();
        using var ts = new TensorScope(b);
        using var s = new LossScaler(b, LossScalerOptions.Static(128f));
        var grads = ts.Zeros(Shape.Of(2));
        for (int i = 0; i < 5; i++) Step(b, s, grads, [1f, 2f]);
        Assert.Equal(new LossScalerState.Fields(128f, 5, 0, 5), s.Read());
        Assert.Equal(new LossScalerState.Fields(128f, 0, 0, 5), Step(b, s, grads, [1f, float.NaN]));   // skipped; scale kept
    }

    /// <summary>
    /// A static scale's interval is int.MaxValue: the tracker reaches it and restarts at 0 without overflowing, also from
    /// int.MaxValue itself (a foreign or corrupted state), where 32-bit arithmetic would wrap to int.MinValue.
    /// dt_update_scale counts in 64 bits the same way (KernelGpuTests/CudaMixedPrecisionTests compare it on a GPU).
    /// </summary>
    [Theory]
    [InlineData(int.MaxValue - 2, int.MaxValue - 1)]
    [InlineData(int.MaxValue - 1, 0)]
    [InlineData(int.MaxValue, 0)]
    public void StaticScale_TrackerAtTheIntervalsEnd_RestartsWithoutOverflow(int trackerBefore, int trackerAfter)
    {
        using var b = new CpuBackend();
        using var ts = new TensorScope(b);
        using var s = new LossScaler(b, LossScalerOptions.Static(128f));
        var grads = ts.Zeros(Shape.Of(2));
        s.Restore(new LossScalerState.Fields(128f, trackerBefore, 0, 7));
        Assert.Equal(new LossScalerState.Fields(128f, trackerAfter, 0, 8), Step(b, s, grads, [1f, 2f]));
    }

    /// <summary>
    /// A state restored with a tracker at or past the interval (a checkpoint of a static run resumed with dynamic scaling)
    /// grows at the next clean step: the update compares with ≥, where PyTorch's == would count on towards overflow.
    /// </summary>
    [Fact]
    public void TrackerRestoredPastTheInterval_GrowsAtTheNextCleanStep()
    {
        using var b = new CpuBackend();
        using var ts = new TensorScope(b);
        using var s = new LossScaler(b, new LossScalerOptions(InitScale: 8f, GrowthInterval: 3));
        var grads = ts.Zeros(Shape.Of(2));
        s.Restore(new LossScalerState.Fields(8f, 1_000_000, 0, 9));
        Assert.Equal(new LossScalerState.Fields(16f, 0, 0, 10), Step(b, s, grads, [1f, 2f]));
    }

    /// <summary>
    /// IBackend.UpdateLossScale states one rule on both backends and in dt_update_scale (growth finite ≥ 1, backoff in
    /// (0, 1], interval ≥ 1), the rule LossScalerOptions.Validate already had: what the kernel refuses, the CPU refuses.
    /// </summary>
    [Theory]
    [InlineData(1f, 1f, int.MaxValue, true)]    // static
    [InlineData(2f, 0.5f, 2000, true)]          // GradScaler's defaults
    [InlineData(1f, 0.5f, 1, true)]
    [InlineData(2f, 1f, 1, true)]
    [InlineData(float.MaxValue, float.Epsilon, 1, true)]
    [InlineData(0.5f, 0.5f, 2000, false)]       // shrinking on clean steps
    [InlineData(float.PositiveInfinity, 0.5f, 2000, false)]
    [InlineData(float.NaN, 0.5f, 2000, false)]
    [InlineData(2f, 2f, 2000, false)]           // growing on overflow
    [InlineData(2f, 0f, 2000, false)]
    [InlineData(2f, float.NaN, 2000, false)]
    [InlineData(2f, 0.5f, 0, false)]
    public void UpdateLossScale_AcceptsAndRefusesWhatTheKernelDoes(float growth, float backoff, int interval, bool accepted)
    {
        using var b = new CpuBackend();
        using var s = new LossScaler(b, new LossScalerOptions(InitScale: 8f));
        if (accepted) b.UpdateLossScale(s.State, growth, backoff, interval);
        else Assert.Throws<ArgumentOutOfRangeException>(() => b.UpdateLossScale(s.State, growth, backoff, interval));
        bool valid = true;
        try { new LossScalerOptions(8f, growth, backoff, interval).Validate(); }
        catch (ArgumentOutOfRangeException) { valid = false; }
        Assert.Equal(accepted, valid);   // the options and the backend state the same rule
    }

    [Theory]
    [InlineData("dynamic", 65536f, 2f)]
    [InlineData("static:1024", 1024f, 1f)]
    [InlineData(" Static:0.5 ", 0.5f, 1f)]
    public void Parse_AcceptsTheDocumentedForms(string text, float init, float growth)
    {
        var o = LossScalerOptions.Parse(text)!;
        Assert.Equal(init, o.InitScale);
        Assert.Equal(growth, o.GrowthFactor);
        Assert.Null(LossScalerOptions.Parse("off"));
    }

    [Theory]
    [InlineData("static")]
    [InlineData("static:-1")]
    [InlineData("static:inf")]
    [InlineData("auto")]
    public void Parse_RejectsOthers_ListingTheValidForms(string text)
    {
        var e = Assert.Throws<FormatException>(() => LossScalerOptions.Parse(text));
        Assert.Contains("dynamic, static:S", e.Message);
    }

    [Fact]
    public void SkippedStep_LeavesWeightsStateWorkingCopyAndStepCount_BitIdentical()
    {
        using var b = new CpuBackend();
        using var ts = new TensorScope(b);
        const int n = 37;
        using var s = new LossScaler(b, new LossScalerOptions(InitScale: 4f));
        var w = ts.Upload(TestData.Uniform(1, n), Shape.Of(n));
        var g = ts.Upload(TestData.Uniform(2, n), Shape.Of(n));
        var m = ts.Upload(TestData.Uniform(3, n), Shape.Of(n)); var v = ts.Upload(TestData.Uniform(4, n, 0f, 1f), Shape.Of(n));
        var mom = ts.Upload(TestData.Uniform(5, n), Shape.Of(n));
        var half = ts.Zeros(Shape.Of(n), Layout.NCHW, DType.Float16);
        b.Copy(w, half);
        // Three clean steps so the state is non-trivial, then a NaN gradient.
        for (int i = 0; i < 3; i++)
        {
            b.AdamStep(w, g, m, v, new AdamArgs(1e-2f, WeightDecay: 0.1f, Decoupled: true), 0, half, s.State);
            b.SgdStep(w, g, mom, new SgdArgs(0.1f, 0.9f, 0f, 1e-3f, false), 0, half, s.State);
            s.Update();
        }
        byte[] Snapshot() => [.. new[] { w, m, v, mom }.SelectMany(t => ts.Download(t)).SelectMany(BitConverter.GetBytes), .. HalfBytes()];
        byte[] HalfBytes() { var a = new ushort[n]; b.CopyToHost<ushort>(half, a); return a.SelectMany(BitConverter.GetBytes).ToArray(); }
        var before = Snapshot();
        long stepsBefore = s.Read().StepCount;
        var bad = TestData.Uniform(6, n); bad[17] = float.NaN;
        b.CopyFromHost<float>(bad, g);
        b.UnscaleGradients(g, s.State);
        b.AdamStep(w, g, m, v, new AdamArgs(1e-2f, WeightDecay: 0.1f, Decoupled: true), 0, half, s.State);
        b.SgdStep(w, g, mom, new SgdArgs(0.1f, 0.9f, 0f, 1e-3f, false), 0, half, s.State);
        Assert.Equal(before, Snapshot());
        s.Update();
        Assert.Equal(stepsBefore, s.Read().StepCount);
        Assert.Equal(2f, s.Read().Scale);
    }

    /// <summary>
    /// 100 Adam steps through the scaler with every seventh gradient poisoned: the taken steps match the textbook
    /// formula in double with t counting only taken steps, and the working copy is w rounded to fp16 after each.
    /// </summary>
    [Theory]
    [InlineData(false, DType.Float16)]
    [InlineData(true, DType.BFloat16)]
    public void AdamThroughTheScaler_HundredSteps_MatchTheFormula_WithTCountingTakenSteps(bool decoupled, DType halfType)
    {
        using var b = new CpuBackend();
        using var ts = new TensorScope(b);
        const int n = 41;
        var a = new AdamArgs(1e-2f, 0.9f, 0.999f, 1e-8f, 0.05f, decoupled);
        using var s = new LossScaler(b, new LossScalerOptions(InitScale: 1024f, GrowthInterval: 5));
        var w = TestData.Uniform(1, n); double[] m = new double[n], v = new double[n], wd = w.ToDouble();
        var tw = ts.Upload(w, Shape.Of(n)); var tg = ts.Zeros(Shape.Of(n)); var tm = ts.Zeros(Shape.Of(n)); var tv = ts.Zeros(Shape.Of(n));
        var half = ts.Zeros(Shape.Of(n), Layout.NCHW, halfType);
        long t = 0;
        for (int step = 1; step <= 100; step++)
        {
            float scale = s.Read().Scale;
            var g = TestData.Uniform(100 + step, n);
            var scaled = g.Select(x => x * scale).ToArray();   // what backward produces: gradients times the scale
            if (step % 7 == 0) scaled[step % n] = float.PositiveInfinity;
            b.CopyFromHost<float>(scaled, tg);
            b.UnscaleGradients(tg, s.State);
            b.AdamStep(tw, tg, tm, tv, a, step, half, s.State);
            s.Update();
            if (step % 7 == 0) continue;
            t++;
            double bc1 = 1 - Math.Pow(a.Beta1, t), bc2 = 1 - Math.Pow(a.Beta2, t);
            for (int i = 0; i < n; i++)
            {
                double gi = g[i];   // scale is a power of two: unscaling is exact
                if (decoupled) wd[i] -= (double)a.LearningRate * a.WeightDecay * wd[i]; else gi += a.WeightDecay * wd[i];
                m[i] = a.Beta1 * m[i] + (1 - (double)a.Beta1) * gi;
                v[i] = a.Beta2 * v[i] + (1 - (double)a.Beta2) * gi * gi;
                wd[i] -= a.LearningRate / bc1 * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(bc2) + a.Eps);
            }
        }
        Assert.Equal(t, s.Read().StepCount);
        // fp32 state against the double reference over 86 taken steps: 1e-5 relative (drift of fp32 m, v, w).
        Tolerance.AssertClose(wd, ts.Download(tw), atol: 1e-5, rtol: 1e-5, "w");
        var wide = ts.Zeros(Shape.Of(n)); b.Copy(half, wide);
        Assert.Equal(ts.Download(tw).Select(x => ReducedFloat.Round(x, halfType)).ToArray(), ts.Download(wide));
    }

    [Fact]
    public void MismatchedOperands_AreRejected_ByName()
    {
        using var b = new CpuBackend();
        using var ts = new TensorScope(b);
        using var s = new LossScaler(b, LossScalerOptions.Dynamic);
        var w = ts.Zeros(Shape.Of(8)); var g = ts.Zeros(Shape.Of(8)); var m = ts.Zeros(Shape.Of(8));
        var e = Assert.Throws<ArgumentException>(() => b.SgdStep(w, g, m, new SgdArgs(0.1f, 0.9f, 0f, 0f, false), 1, ts.Zeros(Shape.Of(7), Layout.NCHW, DType.Float16), s.State));
        Assert.Contains("workingCopy", e.Message);
        e = Assert.Throws<ArgumentException>(() => b.SgdStep(w, g, m, new SgdArgs(0.1f, 0.9f, 0f, 0f, false), 1, ts.Zeros(Shape.Of(8)), null));
        Assert.Contains("workingCopy is Float32", e.Message);
        e = Assert.Throws<ArgumentException>(() => b.AdamStep(w, ts.Zeros(Shape.Of(9)), m, m, new AdamArgs(0.1f), 1, null, s.State));
        Assert.Contains("differ in size", e.Message); Assert.Contains("AdamStep: w", e.Message);
        e = Assert.Throws<ArgumentException>(() => b.UnscaleGradients(g, ts.Zeros(Shape.Of(6))));
        Assert.Contains("scalerState", e.Message);
    }
}
