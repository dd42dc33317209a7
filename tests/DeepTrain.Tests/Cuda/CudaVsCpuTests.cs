using DeepTrain.Backends;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Cuda;

/// <summary>
/// Every IBackend operation on CudaBackend against CpuBackend on the same seeded inputs, in both layouts, with and
/// without accumulation. Skipped (with the reason) where no GPU, driver, cuDNN or kernel library is present.
/// </summary>
public class CudaVsCpuTests
{
    /// <summary>
    /// The fp32 tolerance of each operation, |gpu − cpu| ≤ atol + rtol·|cpu|, in one place. Exact (0, 0) where both
    /// backends do the same single rounding (copies, fills, max pooling, masks). Otherwise the GPU sums in another order
    /// (tree reductions, cuDNN's tiled GEMMs) and may fuse a multiply-add: a sum of n terms of size ~1 then differs by
    /// ~√n·n·2⁻²⁴ at worst, so convolutions (n = C·R·S or N·OH·OW ≤ ~300, values ~N(0, 1)) get 5e-4 absolute; batch-norm
    /// statistics and reductions 1e-5 to 1e-4; transcendental kernels (expf/tanhf on the GPU, MathF on the CPU) a few ulp.
    /// TF32 is off (CudaBackendOptions.AllowTf32 = false), so no tolerance here accounts for 10-bit mantissas.
    /// </summary>
    public static readonly Dictionary<string, (double Atol, double Rtol)> Tolerances = new()
    {
        ["Fill"] = (0, 0),
        ["Copy"] = (0, 0),
        ["Axpby"] = (1e-6, 1e-6),
        ["Add"] = (1e-7, 1e-7),
        ["Activation"] = (1e-6, 1e-5),
        ["ActivationBackward"] = (1e-6, 1e-5),
        ["Dropout"] = (1e-7, 1e-6),
        ["PRelu"] = (1e-7, 1e-6),
        ["PReluAlpha"] = (1e-5, 1e-5),
        ["CopyChannels"] = (0, 0),
        ["Conv2dForward"] = (5e-4, 1e-4),
        ["Conv2dBackwardData"] = (5e-4, 1e-4),
        ["Conv2dBackwardFilter"] = (5e-4, 1e-4),
        ["ConvBias"] = (1e-4, 1e-5),
        ["Gemm"] = (2e-4, 1e-4),
        ["AddBias"] = (1e-7, 1e-7),
        ["BiasBackward"] = (1e-5, 1e-5),
        ["BatchNorm"] = (1e-4, 1e-4),
        ["BatchNormStats"] = (1e-5, 1e-4),
        ["BatchNormBackward"] = (2e-4, 1e-3),
        ["MaxPool"] = (0, 0),
        ["MaxPoolBackward"] = (1e-6, 1e-6),   // overlapping windows add several dy into one dx, in another order
        ["AvgPool"] = (1e-6, 1e-6),
        ["Loss"] = (1e-6, 1e-5),
        ["LossGrad"] = (1e-7, 1e-5),
        ["Optimizer"] = (1e-6, 1e-5),
    };

    public static TheoryData<Layout, bool> LayoutsAndAccumulate() => new()
    {
        { Layout.NCHW, false }, { Layout.NCHW, true }, { Layout.NHWC, false }, { Layout.NHWC, true },
    };

    public static TheoryData<Layout> Layouts() => new() { Layout.NCHW, Layout.NHWC };

    private static readonly Shape Act = Shape.Of(2, 6, 5, 7);

    // ---- element-wise ------------------------------------------------------------------------------

    [Theory, MemberData(nameof(Layouts))]
    public void FillCopyAxpbyAdd_Match(Layout layout)
    {
        using var t = new Twin();
        var x = t.Normal(1, Act, layout);
        var y = t.Normal(2, Act, layout);
        t.Cpu.Axpby(1.5f, x.Cpu, -0.25f, y.Cpu); t.Gpu.Axpby(1.5f, x.Gpu, -0.25f, y.Gpu);
        t.Check("Axpby", y, $"{layout}");
        var z = t.Zeros(Act, layout);
        t.Cpu.Add(x.Cpu, y.Cpu, z.Cpu); t.Gpu.Add(x.Gpu, y.Gpu, z.Gpu);
        t.Check("Add", z, $"{layout}");
        t.Cpu.Add(z.Cpu, y.Cpu, z.Cpu); t.Gpu.Add(z.Gpu, y.Gpu, z.Gpu);
        t.Check("Add", z, $"{layout} in place");
        var other = layout == Layout.NCHW ? Layout.NHWC : Layout.NCHW;
        var c = t.Zeros(Act, other);
        t.Cpu.Copy(x.Cpu, c.Cpu); t.Gpu.Copy(x.Gpu, c.Gpu);
        t.Check("Copy", c, $"{layout} → {other}");
        t.Cpu.Fill(c.Cpu, -3.25f); t.Gpu.Fill(c.Gpu, -3.25f);
        t.Check("Fill", c, $"{other}");
    }

    [Theory, MemberData(nameof(LayoutsAndAccumulate))]
    public void Activations_ForwardAndBackward_Match(Layout layout, bool accumulate)
    {
        using var t = new Twin();
        foreach (var kind in new[] { ActivationKind.Relu, ActivationKind.LeakyRelu, ActivationKind.Sigmoid, ActivationKind.Tanh })
        {
            var x = t.Normal(3, Act, layout);
            var y = t.Zeros(Act, layout);
            t.Cpu.Activation(kind, 0.1f, x.Cpu, y.Cpu); t.Gpu.Activation(kind, 0.1f, x.Gpu, y.Gpu);
            t.Check("Activation", y, $"{kind} {layout}");
            var dy = t.Normal(4, Act, layout);
            var dx = t.Normal(5, Act, layout);
            t.Cpu.ActivationBackward(kind, 0.1f, y.Cpu, dy.Cpu, dx.Cpu, accumulate); t.Gpu.ActivationBackward(kind, 0.1f, y.Gpu, dy.Gpu, dx.Gpu, accumulate);
            t.Check("ActivationBackward", dx, $"{kind} {layout} accumulate={accumulate}");
        }
    }

    [Theory, MemberData(nameof(LayoutsAndAccumulate))]
    public void Dropout_SameMask_Match(Layout layout, bool accumulate)
    {
        using var t = new Twin();
        var x = t.Normal(6, Act, layout);
        var y = t.Zeros(Act, layout);
        t.Cpu.DropoutForward(x.Cpu, y.Cpu, 0.3f, 1234); t.Gpu.DropoutForward(x.Gpu, y.Gpu, 0.3f, 1234);
        t.Check("Dropout", y, $"forward {layout}");
        var dx = t.Normal(7, Act, layout);
        t.Cpu.DropoutBackward(x.Cpu, dx.Cpu, 0.3f, 1234, accumulate); t.Gpu.DropoutBackward(x.Gpu, dx.Gpu, 0.3f, 1234, accumulate);
        t.Check("Dropout", dx, $"backward {layout} accumulate={accumulate}");
    }

    [Theory, MemberData(nameof(LayoutsAndAccumulate))]
    public void PRelu_PerChannelAndShared_Match(Layout layout, bool accumulate)
    {
        using var t = new Twin();
        foreach (int slopes in new[] { Act.C, 1 })
        {
            var x = t.Normal(8, Act, layout);
            var a = t.Up(TestData.Uniform(9, slopes, 0.05f, 0.5f), Shape.Of(slopes));
            var y = t.Zeros(Act, layout);
            t.Cpu.PReluForward(x.Cpu, a.Cpu, y.Cpu); t.Gpu.PReluForward(x.Gpu, a.Gpu, y.Gpu);
            t.Check("PRelu", y, $"forward {slopes} slopes {layout}");
            var dy = t.Normal(10, Act, layout);
            var dx = t.Normal(11, Act, layout);
            var da = t.Up(TestData.Uniform(12, slopes), Shape.Of(slopes));
            t.Cpu.PReluBackward(x.Cpu, a.Cpu, dy.Cpu, dx.Cpu, da.Cpu, accumulate, accumulate);
            t.Gpu.PReluBackward(x.Gpu, a.Gpu, dy.Gpu, dx.Gpu, da.Gpu, accumulate, accumulate);
            t.Check("PRelu", dx, $"dx {slopes} slopes {layout} accumulate={accumulate}");
            t.Check("PReluAlpha", da, $"dalpha {slopes} slopes {layout} accumulate={accumulate}");
        }
    }

    [Theory, MemberData(nameof(LayoutsAndAccumulate))]
    public void CopyChannels_ConcatAndShortcut_Match(Layout layout, bool accumulate)
    {
        using var t = new Twin();
        foreach (int stride in new[] { 1, 2 })
        {
            var src = t.Normal(13, Shape.Of(2, 4, 7, 6), layout);
            var dstShape = Shape.Of(2, 10, (7 + stride - 1) / stride, (6 + stride - 1) / stride);
            var dst = t.Normal(14, dstShape, layout);
            t.Cpu.CopyChannels(src.Cpu, 1, dst.Cpu, 5, 3, stride, accumulate); t.Gpu.CopyChannels(src.Gpu, 1, dst.Gpu, 5, 3, stride, accumulate);
            t.Check("CopyChannels", dst, $"forward stride {stride} {layout} accumulate={accumulate}");
            var dsrc = t.Normal(15, src.Cpu.Shape, layout);
            t.Cpu.CopyChannelsBackward(dst.Cpu, 5, dsrc.Cpu, 1, 3, stride, accumulate); t.Gpu.CopyChannelsBackward(dst.Gpu, 5, dsrc.Gpu, 1, 3, stride, accumulate);
            t.Check("CopyChannels", dsrc, $"backward stride {stride} {layout} accumulate={accumulate}");
        }
    }

    // ---- convolution and dense ------------------------------------------------------------------------

    public static TheoryData<string, Layout, bool> ConvCases()
    {
        var d = new TheoryData<string, Layout, bool>();
        foreach (var name in ConvGeometries.Keys)
            foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
                foreach (bool acc in new[] { false, true })
                    d.Add(name, layout, acc);
        return d;
    }

    private static readonly Dictionary<string, (Shape X, Shape W, ConvSpec Spec)> ConvGeometries = new()
    {
        ["3x3 s1 p1"] = (Shape.Of(2, 8, 9, 9), Shape.Of(16, 8, 3, 3), ConvSpec.Square(1, 1)),
        ["3x3 s2 p1"] = (Shape.Of(2, 8, 9, 10), Shape.Of(16, 8, 3, 3), ConvSpec.Square(2, 1)),
        ["1x1 s2 shortcut"] = (Shape.Of(2, 16, 8, 8), Shape.Of(32, 16, 1, 1), ConvSpec.Square(2)),
        ["3x3 dil2 g2"] = (Shape.Of(2, 8, 11, 11), Shape.Of(12, 4, 3, 3), ConvSpec.Square(1, 2, dilation: 2, groups: 2)),
        ["5x3 stem"] = (Shape.Of(3, 3, 12, 10), Shape.Of(8, 3, 5, 3), new ConvSpec(1, 2, 2, 1)),
    };

    [Theory, MemberData(nameof(ConvCases))]
    public void Conv2d_AllDirections_Match(string geometry, Layout layout, bool accumulate)
    {
        using var t = new Twin();
        var (xs, ws, spec) = ConvGeometries[geometry];
        var ys = Shape.Of(xs.N, ws.N, spec.OutH(xs.H, ws.H), spec.OutW(xs.W, ws.W));
        var x = t.Normal(20, xs, layout);
        var w = t.Normal(21, ws);
        var bias = t.Normal(22, Shape.Of(ws.N));
        var y = t.Normal(23, ys, layout);
        t.Cpu.Conv2dForward(x.Cpu, w.Cpu, bias.Cpu, y.Cpu, spec); t.Gpu.Conv2dForward(x.Gpu, w.Gpu, bias.Gpu, y.Gpu, spec);
        t.Check("Conv2dForward", y, $"{geometry} {layout}");

        var dy = t.Normal(24, ys, layout);
        var dx = t.Normal(25, xs, layout);
        t.Cpu.Conv2dBackwardData(dy.Cpu, w.Cpu, dx.Cpu, spec, accumulate); t.Gpu.Conv2dBackwardData(dy.Gpu, w.Gpu, dx.Gpu, spec, accumulate);
        t.Check("Conv2dBackwardData", dx, $"{geometry} {layout} accumulate={accumulate}");

        var dw = t.Normal(26, ws);
        var db = t.Normal(27, Shape.Of(ws.N));
        t.Cpu.Conv2dBackwardFilter(x.Cpu, dy.Cpu, dw.Cpu, db.Cpu, spec, accumulate); t.Gpu.Conv2dBackwardFilter(x.Gpu, dy.Gpu, dw.Gpu, db.Gpu, spec, accumulate);
        t.Check("Conv2dBackwardFilter", dw, $"{geometry} {layout} accumulate={accumulate}");
        t.Check("ConvBias", db, $"dbias {geometry} {layout} accumulate={accumulate}");

        Assert.True(t.Gpu.Conv2dWorkspaceBytes(xs, ws, spec, layout, DType.Float32) >= 0);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Gemm_AllTransposes_Match(bool transA, bool transB)
    {
        using var t = new Twin();
        const int m = 37, n = 19, k = 53;
        var a = t.Normal(30, transA ? Shape.Of(k, m) : Shape.Of(m, k));
        var b = t.Normal(31, transB ? Shape.Of(n, k) : Shape.Of(k, n));
        var c = t.Normal(32, Shape.Of(m, n));
        t.Cpu.Gemm(transA, transB, 0.75f, a.Cpu, b.Cpu, 0.5f, c.Cpu); t.Gpu.Gemm(transA, transB, 0.75f, a.Gpu, b.Gpu, 0.5f, c.Gpu);
        t.Check("Gemm", c, $"transA={transA} transB={transB}");
    }

    [Theory, MemberData(nameof(LayoutsAndAccumulate))]
    public void AddBiasAndBiasBackward_Match(Layout layout, bool accumulate)
    {
        using var t = new Twin();
        foreach (var shape in new[] { Act, Shape.Of(5, Act.C) })
        {
            var y = t.Normal(33, shape, layout);
            var bias = t.Normal(34, Shape.Of(Act.C));
            t.Cpu.AddBias(y.Cpu, bias.Cpu); t.Gpu.AddBias(y.Gpu, bias.Gpu);
            t.Check("AddBias", y, $"{shape} {layout}");
            var db = t.Normal(35, Shape.Of(Act.C));
            t.Cpu.BiasBackward(y.Cpu, db.Cpu, accumulate); t.Gpu.BiasBackward(y.Gpu, db.Gpu, accumulate);
            t.Check("BiasBackward", db, $"{shape} {layout} accumulate={accumulate}");
        }
    }

    // ---- normalisation and pooling ---------------------------------------------------------------------

    [Theory, MemberData(nameof(LayoutsAndAccumulate))]
    public void BatchNorm_TrainingInferenceBackward_Match(Layout layout, bool accumulate)
    {
        using var t = new Twin();
        // ε = 1e-3 too: cuDNN's backward takes the forward's ε ("Same epsilon as forward pass", cudnn_ops.h).
        foreach (var (shape, eps) in new[] { (Act, 1e-5), (Shape.Of(9, Act.C), 1e-5), (Act, 1e-3) })
        {
            int c = shape.C;
            var x = t.Up(TestData.Normal(40, shape.Dims.ToArray()).Select(v => 3f + 2f * v).ToArray(), shape, layout);   // mean 3, std 2
            var gamma = t.Up(TestData.Uniform(41, c, 0.5f, 1.5f), Shape.Of(c));
            var beta = t.Normal(42, Shape.Of(c));
            var rm = t.Normal(43, Shape.Of(c));
            var rv = t.Up(TestData.Uniform(44, c, 0.5f, 2f), Shape.Of(c));
            var sm = t.Zeros(Shape.Of(c));
            var si = t.Zeros(Shape.Of(c));
            var y = t.Zeros(shape, layout);
            t.Cpu.BatchNormForwardTraining(x.Cpu, gamma.Cpu, beta.Cpu, y.Cpu, rm.Cpu, rv.Cpu, sm.Cpu, si.Cpu, 0.1, eps);
            t.Gpu.BatchNormForwardTraining(x.Gpu, gamma.Gpu, beta.Gpu, y.Gpu, rm.Gpu, rv.Gpu, sm.Gpu, si.Gpu, 0.1, eps);
            t.Check("BatchNorm", y, $"training y {shape} {layout} ε={eps}");
            // The running variance is the unbiased one on both (cuDNN's convention = PyTorch's = the CPU backend's).
            t.Check("BatchNormStats", rm, $"running mean {shape}");
            t.Check("BatchNormStats", rv, $"running var {shape}");
            t.Check("BatchNormStats", sm, $"saved mean {shape}");
            t.Check("BatchNorm", si, $"saved inv std {shape}");

            var yi = t.Zeros(shape, layout);
            t.Cpu.BatchNormForwardInference(x.Cpu, gamma.Cpu, beta.Cpu, yi.Cpu, rm.Cpu, rv.Cpu, eps);
            t.Gpu.BatchNormForwardInference(x.Gpu, gamma.Gpu, beta.Gpu, yi.Gpu, rm.Gpu, rv.Gpu, eps);
            t.Check("BatchNorm", yi, $"inference {shape} {layout} ε={eps}");
            var inPlace = t.Zeros(shape, layout);
            t.Cpu.Copy(x.Cpu, inPlace.Cpu); t.Gpu.Copy(x.Gpu, inPlace.Gpu);
            t.Cpu.BatchNormForwardInference(inPlace.Cpu, gamma.Cpu, beta.Cpu, inPlace.Cpu, rm.Cpu, rv.Cpu, eps);
            t.Gpu.BatchNormForwardInference(inPlace.Gpu, gamma.Gpu, beta.Gpu, inPlace.Gpu, rm.Gpu, rv.Gpu, eps);
            t.Check("BatchNorm", inPlace, $"inference in place {shape} {layout} ε={eps}");

            var dy = t.Normal(45, shape, layout);
            var dx = t.Normal(46, shape, layout);
            var dg = t.Normal(47, Shape.Of(c));
            var dbeta = t.Normal(48, Shape.Of(c));
            t.Cpu.BatchNormBackward(x.Cpu, dy.Cpu, gamma.Cpu, sm.Cpu, si.Cpu, eps, dx.Cpu, dg.Cpu, dbeta.Cpu, accumulate, accumulate);
            t.Gpu.BatchNormBackward(x.Gpu, dy.Gpu, gamma.Gpu, sm.Gpu, si.Gpu, eps, dx.Gpu, dg.Gpu, dbeta.Gpu, accumulate, accumulate);
            t.Check("BatchNormBackward", dx, $"dx {shape} {layout} ε={eps} accumulate={accumulate}");
            t.Check("BatchNormBackward", dg, $"dgamma {shape} {layout} ε={eps} accumulate={accumulate}");
            t.Check("BatchNormBackward", dbeta, $"dbeta {shape} {layout} ε={eps} accumulate={accumulate}");
        }
    }

    [Theory, MemberData(nameof(LayoutsAndAccumulate))]
    public void Pool2d_MaxAndAverage_Match(Layout layout, bool accumulate)
    {
        using var t = new Twin();
        var specs = new (PoolSpec Spec, string Tol)[]
        {
            (new PoolSpec(PoolMode.Max, 3, 3, 2, 2, 1, 1), "MaxPool"),
            (new PoolSpec(PoolMode.Max, 2, 2, 2, 2), "MaxPool"),
            (new PoolSpec(PoolMode.AverageIncludePad, 3, 3, 2, 2, 1, 1), "AvgPool"),
            (new PoolSpec(PoolMode.AverageExcludePad, 3, 3, 2, 2, 1, 1), "AvgPool"),
            (new PoolSpec(PoolMode.AverageIncludePad, 8, 9, 1, 1), "AvgPool"),   // global average
        };
        var xs = Shape.Of(2, 5, 8, 9);
        foreach (var (spec, tol) in specs)
        {
            // Standard-normal floats: no two elements of a window are equal (cuDNN's tie rule differs from the CPU's first-max rule).
            var x = t.Normal(50, xs, layout);
            var ys = Shape.Of(2, 5, spec.OutH(8), spec.OutW(9));
            var y = t.Zeros(ys, layout);
            t.Cpu.Pool2dForward(spec, x.Cpu, y.Cpu); t.Gpu.Pool2dForward(spec, x.Gpu, y.Gpu);
            t.Check(tol, y, $"forward {spec} {layout}");
            var dy = t.Normal(51, ys, layout);
            var dx = t.Normal(52, xs, layout);
            t.Cpu.Pool2dBackward(spec, x.Cpu, y.Cpu, dy.Cpu, dx.Cpu, accumulate); t.Gpu.Pool2dBackward(spec, x.Gpu, y.Gpu, dy.Gpu, dx.Gpu, accumulate);
            t.Check(tol == "MaxPool" ? "MaxPoolBackward" : tol, dx, $"backward {spec} {layout} accumulate={accumulate}");
        }
    }

    // ---- losses ---------------------------------------------------------------------------------------

    [Fact]
    public void Losses_ValueAndGradient_Match()
    {
        using var t = new Twin();
        const int n = 13, k = 10;
        var z = t.Normal(60, Shape.Of(n, k));
        var labels = t.Up(TestData.Labels(61, n, k), Shape.Of(n));
        var loss = t.Zeros(Shape.Of(1));
        var dz = t.Zeros(Shape.Of(n, k));
        var correct = t.Zeros(Shape.Of(1));
        t.Cpu.SoftmaxCrossEntropy(z.Cpu, labels.Cpu, loss.Cpu, dz.Cpu, correct.Cpu, 128f);
        t.Gpu.SoftmaxCrossEntropy(z.Gpu, labels.Gpu, loss.Gpu, dz.Gpu, correct.Gpu, 128f);
        t.Check("Loss", loss, "softmax cross-entropy");
        t.Check("LossGrad", dz, "softmax cross-entropy dlogits");
        t.Check("Fill", correct, "softmax cross-entropy correct count");

        var target = t.Up(TestData.Uniform(62, n * k, 0f, 1f), Shape.Of(n, k));
        t.Cpu.MseLoss(z.Cpu, target.Cpu, loss.Cpu, dz.Cpu, 2f); t.Gpu.MseLoss(z.Gpu, target.Gpu, loss.Gpu, dz.Gpu, 2f);
        t.Check("Loss", loss, "mse");
        t.Check("LossGrad", dz, "mse dpred");
        t.Cpu.BceWithLogitsLoss(z.Cpu, target.Cpu, loss.Cpu, dz.Cpu, 2f); t.Gpu.BceWithLogitsLoss(z.Gpu, target.Gpu, loss.Gpu, dz.Gpu, 2f);
        t.Check("Loss", loss, "bce with logits");
        t.Check("LossGrad", dz, "bce dlogits");
    }

    // ---- optimizers -------------------------------------------------------------------------------------

    public static TheoryData<string> Optimizers() => new() { "sgd", "sgd-nesterov", "sgd-caffe", "adam", "adamw", "adagrad", "rmsprop", "rmsprop-centered-momentum" };

    [Theory, MemberData(nameof(Optimizers))]
    public void OptimizerSteps_FiveSteps_Match(string which)
    {
        using var t = new Twin();
        const int n = 1000;
        var w = t.Normal(70, Shape.Of(n));
        var s1 = t.Zeros(Shape.Of(n));
        var s2 = t.Zeros(Shape.Of(n));
        var s3 = t.Zeros(Shape.Of(n));
        for (int step = 1; step <= 5; step++)
        {
            var g = t.Normal(70 + step, Shape.Of(n));
            switch (which)
            {
                case "sgd": Both(b => b.SgdStep(P(w), P(g), P(s1), new SgdArgs(0.1f, 0.9f, 0.1f, 1e-2f), step)); break;
                case "sgd-nesterov": Both(b => b.SgdStep(P(w), P(g), P(s1), new SgdArgs(0.1f, 0.9f, 0f, 1e-2f, Nesterov: true), step)); break;
                case "sgd-caffe": Both(b => b.SgdStep(P(w), P(g), P(s1), new SgdArgs(0.1f, 0.9f, 0f, 1e-2f, Form: SgdMomentumForm.Caffe), step)); break;
                case "adam": Both(b => b.AdamStep(P(w), P(g), P(s1), P(s2), new AdamArgs(1e-2f, WeightDecay: 1e-2f), step)); break;
                case "adamw": Both(b => b.AdamStep(P(w), P(g), P(s1), P(s2), new AdamArgs(1e-2f, WeightDecay: 1e-2f, Decoupled: true), step)); break;
                case "adagrad": Both(b => b.AdagradStep(P(w), P(g), P(s1), new AdagradArgs(0.1f, 0.01f, 1e-2f), step)); break;
                case "rmsprop": Both(b => b.RmsPropStep(P(w), P(g), P(s1), null, null, new RmsPropArgs(1e-2f, WeightDecay: 1e-2f))); break;
                default: Both(b => b.RmsPropStep(P(w), P(g), P(s1), P(s2), P(s3), new RmsPropArgs(1e-2f, WeightDecay: 1e-2f, Momentum: 0.9f, Centered: true))); break;
            }

            // Runs the same call on both backends; P picks the operand of the backend at hand.
            void Both(Action<IBackend> call)
            {
                _cpu = true; call(t.Cpu);
                _cpu = false; call(t.Gpu);
            }
        }
        t.Check("Optimizer", w, $"{which} weights after 5 steps");
        t.Check("Optimizer", s1, $"{which} first state after 5 steps");
    }

    [ThreadStatic] private static bool _cpu;
    private static Tensor P(Pair p) => _cpu ? p.Cpu : p.Gpu;
}
