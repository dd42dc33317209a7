using DeepTrain.Backends;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Cuda;

/// <summary>
/// Every IBackend operation on CudaBackend against CpuBackend with fp16 and bf16 operands, in the dtype mixes the
/// mixed-precision plans use (16-bit activations with fp32 batch-norm parameters, 16-bit x/dy into fp32 weight and bias
/// gradients, 16-bit activations into fp32 logits) and the rarer ones that run widened (fp32 with 16-bit operands of
/// one call). Inputs are rounded to 16 bits by each backend's Copy (the same bits on both). Skipped (with the reason)
/// where no GPU, driver, cuDNN or kernel library is present.
/// </summary>
public class CudaMixedVsCpuTests
{
    /// <summary>
    /// The 16-bit tolerance of each operation, on top of its fp32 tolerance (<see cref="CudaVsCpuTests.Tolerances"/>):
    /// |gpu − cpu| ≤ (atol₃₂ + A·ε) + (rtol₃₂ + R·ε)·|cpu|, where ε is the storage type's spacing at 1 (2⁻¹⁰ for fp16, 2⁻⁷
    /// for bf16) and (A, R) is this table's entry. Both backends compute in fp32 and round once on store, so a result
    /// whose fp32 values differ by the fp32 tolerance can land one 16-bit step apart: R = 1. Backward operations reading a
    /// forward output that may already be one step apart get R = 2. Reductions over ~100–300 16-bit products (convolution,
    /// GEMM, bias and batch-norm gradients) sum in another order on tensor cores and round 16-bit intermediate results
    /// (the GPU rounds a weight or bias gradient of 16-bit x/dy to 16 bits before widening it into the fp32 gradient;
    /// see CudaBackend.Precision.cs): A = 4, R = 2 for results of magnitude ~1–10. Exact (0, 0) where both do one
    /// identical rounding of identical values (fills, dtype conversions, max pooling).
    /// </summary>
    public static readonly Dictionary<string, (double A, double R)> Extra16 = new()
    {
        ["Fill"] = (0, 0),
        ["Copy"] = (0, 0),
        ["Axpby"] = (0, 1),
        ["Add"] = (0, 1),
        ["Activation"] = (0, 1),
        ["ActivationBackward"] = (0, 2),
        ["Dropout"] = (0, 1),
        ["PRelu"] = (0, 1),
        ["PReluAlpha"] = (1, 1),
        ["CopyChannels"] = (0, 0),
        ["Conv2dForward"] = (4, 2),
        ["Conv2dBackwardData"] = (4, 2),
        ["Conv2dBackwardFilter"] = (4, 2),
        ["ConvBias"] = (4, 2),
        ["Gemm"] = (4, 2),
        ["AddBias"] = (0, 1),
        ["BiasBackward"] = (4, 2),
        ["BatchNorm"] = (2, 2),
        ["BatchNormStats"] = (0, 0),
        ["BatchNormBackward"] = (4, 2),
        ["MaxPool"] = (0, 0),
        ["MaxPoolBackward"] = (0, 1),
        ["AvgPool"] = (0, 1),
        ["Loss"] = (0, 0),
        ["LossGrad"] = (0, 1),
        ["Optimizer"] = (0, 1),   // a 16-bit working copy: the fp32 weights rounded once
    };

    /// <summary>The storage type's spacing at 1: 2⁻¹⁰ (fp16, 11 significant bits) or 2⁻⁷ (bf16, 8).</summary>
    public static double Spacing(DType dtype) => dtype == DType.BFloat16 ? 1.0 / 128 : 1.0 / 1024;

    /// <summary>The (atol, rtol) of <paramref name="op"/> at <paramref name="dtype"/>, as the table above states.</summary>
    public static (double Atol, double Rtol) Tolerance16(string op, DType dtype)
    {
        var (atol, rtol) = CudaVsCpuTests.Tolerances[op];
        var (a, r) = Extra16[op];
        double e = dtype == DType.Float32 ? 0 : Spacing(dtype);
        return (atol + a * e, rtol + r * e);
    }

    public static TheoryData<DType, Layout> DTypesAndLayouts() => new()
    {
        { DType.Float16, Layout.NCHW }, { DType.Float16, Layout.NHWC }, { DType.BFloat16, Layout.NCHW }, { DType.BFloat16, Layout.NHWC },
    };

    public static TheoryData<DType, Layout, bool> DTypesLayoutsAndAccumulate()
    {
        var d = new TheoryData<DType, Layout, bool>();
        foreach (var dt in new[] { DType.Float16, DType.BFloat16 })
            foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
                foreach (bool acc in new[] { false, true })
                    d.Add(dt, layout, acc);
        return d;
    }

    public static TheoryData<DType> DTypes() => new() { DType.Float16, DType.BFloat16 };

    private static readonly Shape Act = Shape.Of(2, 6, 5, 7);

    // ---- element-wise ------------------------------------------------------------------------------

    [Theory, MemberData(nameof(DTypesAndLayouts))]
    public void Elementwise16_FillCopyAxpbyAdd_Match(DType dt, Layout layout)
    {
        using var t = new Twin();
        var f = t.Normal(1, Act, layout);
        var x = t.As(dt, f);
        t.Identical(x, "fp32 → 16-bit conversion");
        var y = t.Normal(2, Act, layout, dt);
        t.Cpu.Axpby(1.5f, x.Cpu, -0.25f, y.Cpu); t.Gpu.Axpby(1.5f, x.Gpu, -0.25f, y.Gpu);
        t.Check16("Axpby", dt, y, $"{layout}");
        var z = t.Zeros(Act, layout, dt);
        t.Cpu.Add(x.Cpu, y.Cpu, z.Cpu); t.Gpu.Add(x.Gpu, y.Gpu, z.Gpu);
        t.Check16("Add", dt, z, $"{layout}");
        t.Cpu.Add(z.Cpu, y.Cpu, z.Cpu); t.Gpu.Add(z.Gpu, y.Gpu, z.Gpu);
        t.Check16("Add", dt, z, $"{layout} in place");

        // Mixed operands run widened: 16-bit + fp32 into 16-bit and into fp32; fp32 Axpby into 16-bit y.
        var b32 = t.Normal(3, Act, layout);
        t.Cpu.Add(x.Cpu, b32.Cpu, z.Cpu); t.Gpu.Add(x.Gpu, b32.Gpu, z.Gpu);
        t.Check16("Add", dt, z, $"{layout} 16-bit + fp32 → 16-bit");
        var z32 = t.Zeros(Act, layout);
        t.Cpu.Add(x.Cpu, b32.Cpu, z32.Cpu); t.Gpu.Add(x.Gpu, b32.Gpu, z32.Gpu);
        t.Check16("Add", DType.Float32, z32, $"{layout} 16-bit + fp32 → fp32");
        t.Cpu.Axpby(0.5f, b32.Cpu, 2f, y.Cpu); t.Gpu.Axpby(0.5f, b32.Gpu, 2f, y.Gpu);
        t.Check16("Axpby", dt, y, $"{layout} fp32 x into 16-bit y");

        // Conversions: layout and dtype in one Copy, 16-bit ↔ 16-bit of the other kind, back to fp32: exact on both.
        var other = layout == Layout.NCHW ? Layout.NHWC : Layout.NCHW;
        var odt = dt == DType.Float16 ? DType.BFloat16 : DType.Float16;
        var c = t.Zeros(Act, other, odt);
        t.Cpu.Copy(x.Cpu, c.Cpu); t.Gpu.Copy(x.Gpu, c.Gpu);
        t.Identical(c, $"Copy {dt} {layout} → {odt} {other}");
        var back = t.Zeros(Act, layout);
        t.Cpu.Copy(x.Cpu, back.Cpu); t.Gpu.Copy(x.Gpu, back.Gpu);
        t.Identical(back, $"Copy {dt} → fp32");
        t.Cpu.Fill(c.Cpu, -3.3f); t.Gpu.Fill(c.Gpu, -3.3f);
        t.Identical(c, $"Fill {odt} (rounded to nearest even)");
    }

    [Theory, MemberData(nameof(DTypesLayoutsAndAccumulate))]
    public void Activations16_ForwardAndBackward_Match(DType dt, Layout layout, bool accumulate)
    {
        using var t = new Twin();
        foreach (var kind in new[] { ActivationKind.Relu, ActivationKind.LeakyRelu, ActivationKind.Sigmoid, ActivationKind.Tanh })
        {
            var x = t.Normal(3, Act, layout, dt);
            var y = t.Zeros(Act, layout, dt);
            t.Cpu.Activation(kind, 0.1f, x.Cpu, y.Cpu); t.Gpu.Activation(kind, 0.1f, x.Gpu, y.Gpu);
            t.Check16("Activation", dt, y, $"{kind} {layout}");
            var dy = t.Normal(4, Act, layout, dt);
            var dx = t.Normal(5, Act, layout, dt);
            t.Cpu.ActivationBackward(kind, 0.1f, y.Cpu, dy.Cpu, dx.Cpu, accumulate); t.Gpu.ActivationBackward(kind, 0.1f, y.Gpu, dy.Gpu, dx.Gpu, accumulate);
            t.Check16("ActivationBackward", dt, dx, $"{kind} {layout} accumulate={accumulate}");
            // In place (ReLU's usual form in a plan).
            t.Cpu.Activation(kind, 0.1f, x.Cpu, x.Cpu); t.Gpu.Activation(kind, 0.1f, x.Gpu, x.Gpu);
            t.Check16("Activation", dt, x, $"{kind} {layout} in place");
        }
    }

    [Theory, MemberData(nameof(DTypesLayoutsAndAccumulate))]
    public void DropoutPReluCopyChannels16_Match(DType dt, Layout layout, bool accumulate)
    {
        using var t = new Twin();
        var x = t.Normal(6, Act, layout, dt);
        var y = t.Zeros(Act, layout, dt);
        t.Cpu.DropoutForward(x.Cpu, y.Cpu, 0.3f, 1234); t.Gpu.DropoutForward(x.Gpu, y.Gpu, 0.3f, 1234);
        t.Check16("Dropout", dt, y, $"forward {layout}");
        var dx = t.Normal(7, Act, layout, dt);
        t.Cpu.DropoutBackward(x.Cpu, dx.Cpu, 0.3f, 1234, accumulate); t.Gpu.DropoutBackward(x.Gpu, dx.Gpu, 0.3f, 1234, accumulate);
        t.Check16("Dropout", dt, dx, $"backward {layout} accumulate={accumulate}");

        // PReLU's kernels are fp32: 16-bit operands (and a 16-bit slope) run widened on the GPU.
        var a = t.As(dt, t.Up(TestData.Uniform(9, Act.C, 0.05f, 0.5f), Shape.Of(Act.C)));
        t.Cpu.PReluForward(x.Cpu, a.Cpu, y.Cpu); t.Gpu.PReluForward(x.Gpu, a.Gpu, y.Gpu);
        t.Check16("PRelu", dt, y, $"forward {layout}");
        var dy = t.Normal(10, Act, layout, dt);
        var da = t.Up(TestData.Uniform(12, Act.C), Shape.Of(Act.C));
        t.Cpu.PReluBackward(x.Cpu, a.Cpu, dy.Cpu, dx.Cpu, da.Cpu, accumulate, accumulate);
        t.Gpu.PReluBackward(x.Gpu, a.Gpu, dy.Gpu, dx.Gpu, da.Gpu, accumulate, accumulate);
        t.Check16("PRelu", dt, dx, $"dx {layout} accumulate={accumulate}");
        t.Check16("PReluAlpha", dt, da, $"fp32 dalpha {layout} accumulate={accumulate}");

        foreach (int stride in new[] { 1, 2 })
        {
            var src = t.Normal(13, Shape.Of(2, 4, 7, 6), layout, dt);
            var dst = t.Normal(14, Shape.Of(2, 10, (7 + stride - 1) / stride, (6 + stride - 1) / stride), layout, dt);
            t.Cpu.CopyChannels(src.Cpu, 1, dst.Cpu, 5, 3, stride, accumulate); t.Gpu.CopyChannels(src.Gpu, 1, dst.Gpu, 5, 3, stride, accumulate);
            // Adding two 16-bit values rounds once, identically (fp32 holds their exact sum).
            t.Check16("CopyChannels", dt, dst, $"forward stride {stride} {layout} accumulate={accumulate}");
            var dsrc = t.Normal(15, src.Cpu.Shape, layout, dt);
            t.Cpu.CopyChannelsBackward(dst.Cpu, 5, dsrc.Cpu, 1, 3, stride, accumulate); t.Gpu.CopyChannelsBackward(dst.Gpu, 5, dsrc.Gpu, 1, 3, stride, accumulate);
            t.Check16("CopyChannels", dt, dsrc, $"backward stride {stride} {layout} accumulate={accumulate}");
        }
    }

    // ---- convolution and dense ------------------------------------------------------------------------

    private static readonly Dictionary<string, (Shape X, Shape W, ConvSpec Spec)> ConvGeometries = new()
    {
        ["3x3 s1 p1"] = (Shape.Of(2, 8, 9, 9), Shape.Of(16, 8, 3, 3), ConvSpec.Square(1, 1)),
        ["3x3 s2 p1"] = (Shape.Of(2, 8, 9, 10), Shape.Of(16, 8, 3, 3), ConvSpec.Square(2, 1)),
        ["1x1 s2 shortcut"] = (Shape.Of(2, 16, 8, 8), Shape.Of(32, 16, 1, 1), ConvSpec.Square(2)),
        ["3x3 dil2 g2"] = (Shape.Of(2, 8, 11, 11), Shape.Of(12, 4, 3, 3), ConvSpec.Square(1, 2, dilation: 2, groups: 2)),
        ["3x3 stem C=1"] = (Shape.Of(3, 1, 12, 10), Shape.Of(8, 1, 3, 3), ConvSpec.Square(1, 1)),
    };

    public static TheoryData<string, DType, Layout, bool> ConvCases()
    {
        var d = new TheoryData<string, DType, Layout, bool>();
        foreach (var name in ConvGeometries.Keys)
            foreach (var dt in new[] { DType.Float16, DType.BFloat16 })
                foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
                    foreach (bool acc in new[] { false, true })
                        d.Add(name, dt, layout, acc);
        return d;
    }

    /// <summary>
    /// Forward and backward-data all in 16 bits; backward-filter both as the mixed plan calls it (16-bit x and dy, fp32 dw
    /// and dbias: the GPU's 16-bit scratch path) and all in 16 bits; and a forward whose bias is fp32 (runs widened).
    /// </summary>
    [Theory, MemberData(nameof(ConvCases))]
    public void Conv2d16_AllDirections_Match(string geometry, DType dt, Layout layout, bool accumulate)
    {
        using var t = new Twin();
        var (xs, ws, spec) = ConvGeometries[geometry];
        var ys = Shape.Of(xs.N, ws.N, spec.OutH(xs.H, ws.H), spec.OutW(xs.W, ws.W));
        var x = t.Normal(20, xs, layout, dt);
        var w = t.As(dt, t.Up(TestData.Normal(21, ws.Dims.ToArray()).Select(v => 0.3f * v).ToArray(), ws));
        var bias = t.Normal(22, Shape.Of(ws.N), Layout.NCHW, dt);
        var y = t.Zeros(ys, layout, dt);
        t.Cpu.Conv2dForward(x.Cpu, w.Cpu, bias.Cpu, y.Cpu, spec); t.Gpu.Conv2dForward(x.Gpu, w.Gpu, bias.Gpu, y.Gpu, spec);
        t.Check16("Conv2dForward", dt, y, $"{geometry} {layout}");
        var bias32 = t.Normal(22, Shape.Of(ws.N));
        t.Cpu.Conv2dForward(x.Cpu, w.Cpu, bias32.Cpu, y.Cpu, spec); t.Gpu.Conv2dForward(x.Gpu, w.Gpu, bias32.Gpu, y.Gpu, spec);
        t.Check16("Conv2dForward", dt, y, $"{geometry} {layout} fp32 bias");

        var dy = t.Normal(24, ys, layout, dt);
        var dx = t.Normal(25, xs, layout, dt);
        t.Cpu.Conv2dBackwardData(dy.Cpu, w.Cpu, dx.Cpu, spec, accumulate); t.Gpu.Conv2dBackwardData(dy.Gpu, w.Gpu, dx.Gpu, spec, accumulate);
        t.Check16("Conv2dBackwardData", dt, dx, $"{geometry} {layout} accumulate={accumulate}");

        var dw = t.Normal(26, ws);
        var db = t.Normal(27, Shape.Of(ws.N));
        t.Cpu.Conv2dBackwardFilter(x.Cpu, dy.Cpu, dw.Cpu, db.Cpu, spec, accumulate); t.Gpu.Conv2dBackwardFilter(x.Gpu, dy.Gpu, dw.Gpu, db.Gpu, spec, accumulate);
        t.Check16("Conv2dBackwardFilter", dt, dw, $"fp32 dw {geometry} {layout} accumulate={accumulate}");
        t.Check16("ConvBias", dt, db, $"fp32 dbias {geometry} {layout} accumulate={accumulate}");

        var dw16 = t.Normal(28, ws, Layout.NCHW, dt);
        var db16 = t.Normal(29, Shape.Of(ws.N), Layout.NCHW, dt);
        t.Cpu.Conv2dBackwardFilter(x.Cpu, dy.Cpu, dw16.Cpu, db16.Cpu, spec, accumulate); t.Gpu.Conv2dBackwardFilter(x.Gpu, dy.Gpu, dw16.Gpu, db16.Gpu, spec, accumulate);
        t.Check16("Conv2dBackwardFilter", dt, dw16, $"16-bit dw {geometry} {layout} accumulate={accumulate}");
        t.Check16("ConvBias", dt, db16, $"16-bit dbias {geometry} {layout} accumulate={accumulate}");
    }

    /// <summary>
    /// The GEMMs of a Linear layer in a mixed plan: 16-bit A·B into fp32 C (logits) or 16-bit C (hidden layers), and
    /// fp32 A with 16-bit B into fp32 or 16-bit C (the logits' gradient against 16-bit x or weights: runs widened).
    /// </summary>
    [Theory]
    [InlineData(DType.Float16, false, false)]
    [InlineData(DType.Float16, true, false)]
    [InlineData(DType.Float16, false, true)]
    [InlineData(DType.Float16, true, true)]
    [InlineData(DType.BFloat16, false, false)]
    [InlineData(DType.BFloat16, true, true)]
    public void Gemm16_MixedOperands_Match(DType dt, bool transA, bool transB)
    {
        using var t = new Twin();
        const int m = 37, n = 19, k = 53;
        var sa = transA ? Shape.Of(k, m) : Shape.Of(m, k);
        var sb = transB ? Shape.Of(n, k) : Shape.Of(k, n);
        foreach (var (aType, cType) in new[] { (dt, DType.Float32), (dt, dt), (DType.Float32, DType.Float32), (DType.Float32, dt) })
        {
            var a = t.Normal(30, sa, Layout.NCHW, aType);
            var b = t.Normal(31, sb, Layout.NCHW, dt);
            var c = t.Normal(32, Shape.Of(m, n), Layout.NCHW, cType);
            t.Cpu.Gemm(transA, transB, 0.75f, a.Cpu, b.Cpu, 0.5f, c.Cpu); t.Gpu.Gemm(transA, transB, 0.75f, a.Gpu, b.Gpu, 0.5f, c.Gpu);
            // A 16-bit C rounds once more than the fp32 table assumes: its tolerance is the 16-bit one.
            t.Check16("Gemm", cType == DType.Float32 && aType == DType.Float32 ? DType.Float32 : dt, c, $"a {aType}, b {dt}, c {cType}, transA={transA} transB={transB}");
        }
    }

    [Theory, MemberData(nameof(DTypesLayoutsAndAccumulate))]
    public void Bias16_AddAndBackward_Match(DType dt, Layout layout, bool accumulate)
    {
        using var t = new Twin();
        foreach (var shape in new[] { Act, Shape.Of(5, Act.C) })
        {
            var y = t.Normal(33, shape, layout, dt);
            var bias = t.Normal(34, Shape.Of(Act.C), Layout.NCHW, dt);
            t.Cpu.AddBias(y.Cpu, bias.Cpu); t.Gpu.AddBias(y.Gpu, bias.Gpu);
            t.Check16("AddBias", dt, y, $"16-bit y and bias {shape} {layout}");
            var y32 = t.Normal(35, shape, layout);
            t.Cpu.AddBias(y32.Cpu, bias.Cpu); t.Gpu.AddBias(y32.Gpu, bias.Gpu);
            t.Check16("AddBias", DType.Float32, y32, $"fp32 y, 16-bit bias {shape} {layout}");

            var db = t.Normal(36, Shape.Of(Act.C));
            t.Cpu.BiasBackward(y.Cpu, db.Cpu, accumulate); t.Gpu.BiasBackward(y.Gpu, db.Gpu, accumulate);
            t.Check16("BiasBackward", dt, db, $"16-bit dy into fp32 dbias {shape} {layout} accumulate={accumulate}");
            var db16 = t.Normal(37, Shape.Of(Act.C), Layout.NCHW, dt);
            t.Cpu.BiasBackward(y.Cpu, db16.Cpu, accumulate); t.Gpu.BiasBackward(y.Gpu, db16.Gpu, accumulate);
            t.Check16("BiasBackward", dt, db16, $"16-bit dbias {shape} {layout} accumulate={accumulate}");
        }
    }

    // ---- normalisation and pooling ---------------------------------------------------------------------

    /// <summary>16-bit x, y, dy, dx with fp32 γ, β, running and saved statistics, as the mixed plans call batch norm.</summary>
    [Theory, MemberData(nameof(DTypesLayoutsAndAccumulate))]
    public void BatchNorm16_TrainingInferenceBackward_Match(DType dt, Layout layout, bool accumulate)
    {
        using var t = new Twin();
        foreach (var shape in new[] { Act, Shape.Of(9, Act.C) })
        {
            int c = shape.C;
            var x = t.As(dt, t.Up(TestData.Normal(40, shape.Dims.ToArray()).Select(v => 3f + 2f * v).ToArray(), shape, layout));
            var gamma = t.Up(TestData.Uniform(41, c, 0.5f, 1.5f), Shape.Of(c));
            var beta = t.Normal(42, Shape.Of(c));
            var rm = t.Normal(43, Shape.Of(c));
            var rv = t.Up(TestData.Uniform(44, c, 0.5f, 2f), Shape.Of(c));
            var sm = t.Zeros(Shape.Of(c));
            var si = t.Zeros(Shape.Of(c));
            var y = t.Zeros(shape, layout, dt);
            t.Cpu.BatchNormForwardTraining(x.Cpu, gamma.Cpu, beta.Cpu, y.Cpu, rm.Cpu, rv.Cpu, sm.Cpu, si.Cpu, 0.1, 1e-5);
            t.Gpu.BatchNormForwardTraining(x.Gpu, gamma.Gpu, beta.Gpu, y.Gpu, rm.Gpu, rv.Gpu, sm.Gpu, si.Gpu, 0.1, 1e-5);
            t.Check16("BatchNorm", dt, y, $"training y {shape} {layout}");
            t.Check16("BatchNormStats", dt, rm, $"running mean {shape}");
            t.Check16("BatchNormStats", dt, rv, $"running var {shape}");
            t.Check16("BatchNormStats", dt, sm, $"saved mean {shape}");
            t.Check16("BatchNorm", DType.Float32, si, $"saved inv std {shape}");

            var yi = t.Zeros(shape, layout, dt);
            t.Cpu.BatchNormForwardInference(x.Cpu, gamma.Cpu, beta.Cpu, yi.Cpu, rm.Cpu, rv.Cpu, 1e-5);
            t.Gpu.BatchNormForwardInference(x.Gpu, gamma.Gpu, beta.Gpu, yi.Gpu, rm.Gpu, rv.Gpu, 1e-5);
            t.Check16("BatchNorm", dt, yi, $"inference {shape} {layout}");

            var dy = t.Normal(45, shape, layout, dt);
            var dx = t.Normal(46, shape, layout, dt);
            var dg = t.Normal(47, Shape.Of(c));
            var dbeta = t.Normal(48, Shape.Of(c));
            t.Cpu.BatchNormBackward(x.Cpu, dy.Cpu, gamma.Cpu, sm.Cpu, si.Cpu, 1e-5, dx.Cpu, dg.Cpu, dbeta.Cpu, accumulate, accumulate);
            t.Gpu.BatchNormBackward(x.Gpu, dy.Gpu, gamma.Gpu, sm.Gpu, si.Gpu, 1e-5, dx.Gpu, dg.Gpu, dbeta.Gpu, accumulate, accumulate);
            t.Check16("BatchNormBackward", dt, dx, $"dx {shape} {layout} accumulate={accumulate}");
            t.Check16("BatchNormBackward", dt, dg, $"fp32 dgamma {shape} {layout} accumulate={accumulate}");
            t.Check16("BatchNormBackward", dt, dbeta, $"fp32 dbeta {shape} {layout} accumulate={accumulate}");

            // 16-bit γ and β (not what a plan does, but CpuBackend accepts it): runs widened on the GPU.
            var gamma16 = t.As(dt, gamma);
            var beta16 = t.As(dt, beta);
            t.Cpu.BatchNormForwardInference(x.Cpu, gamma16.Cpu, beta16.Cpu, yi.Cpu, rm.Cpu, rv.Cpu, 1e-5);
            t.Gpu.BatchNormForwardInference(x.Gpu, gamma16.Gpu, beta16.Gpu, yi.Gpu, rm.Gpu, rv.Gpu, 1e-5);
            t.Check16("BatchNorm", dt, yi, $"inference with 16-bit γ, β {shape} {layout}");
        }
    }

    /// <summary>
    /// Distinct values in every pooling window whatever the storage type: ((37·i) mod 256 − 128)/16 at memory index i is
    /// exact in fp16 and bf16 and repeats only 256 indices apart, farther than any window spans here.
    /// </summary>
    private static float[] TieFree(long count)
    {
        var v = new float[count];
        for (long i = 0; i < count; i++) v[i] = (37 * i % 256 - 128) / 16f;
        return v;
    }

    [Theory, MemberData(nameof(DTypesLayoutsAndAccumulate))]
    public void Pool2d16_MaxAndAverage_Match(DType dt, Layout layout, bool accumulate)
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
            var x = t.As(dt, t.Up(TieFree(xs.Elements), xs, layout));
            var ys = Shape.Of(2, 5, spec.OutH(8), spec.OutW(9));
            var y = t.Zeros(ys, layout, dt);
            t.Cpu.Pool2dForward(spec, x.Cpu, y.Cpu); t.Gpu.Pool2dForward(spec, x.Gpu, y.Gpu);
            t.Check16(tol, dt, y, $"forward {spec} {layout}");
            var dy = t.Normal(51, ys, layout, dt);
            var dx = t.Normal(52, xs, layout, dt);
            t.Cpu.Pool2dBackward(spec, x.Cpu, y.Cpu, dy.Cpu, dx.Cpu, accumulate); t.Gpu.Pool2dBackward(spec, x.Gpu, y.Gpu, dy.Gpu, dx.Gpu, accumulate);
            t.Check16(tol == "MaxPool" ? "MaxPoolBackward" : tol, dt, dx, $"backward {spec} {layout} accumulate={accumulate}");
        }
    }

    // ---- losses ---------------------------------------------------------------------------------------

    /// <summary>The plans' fp32 logits, and 16-bit logits and gradients (run widened on the GPU, as on the CPU).</summary>
    [Theory, MemberData(nameof(DTypes))]
    public void Losses16_ValueAndGradient_Match(DType dt)
    {
        using var t = new Twin();
        const int n = 13, k = 10;
        var z = t.Normal(60, Shape.Of(n, k), Layout.NCHW, dt);
        var labels = t.Up(TestData.Labels(61, n, k), Shape.Of(n));
        var loss = t.Zeros(Shape.Of(1));
        var dz = t.Zeros(Shape.Of(n, k), Layout.NCHW, dt);
        var correct = t.Zeros(Shape.Of(1));
        t.Cpu.SoftmaxCrossEntropy(z.Cpu, labels.Cpu, loss.Cpu, dz.Cpu, correct.Cpu, 128f);
        t.Gpu.SoftmaxCrossEntropy(z.Gpu, labels.Gpu, loss.Gpu, dz.Gpu, correct.Gpu, 128f);
        t.Check16("Loss", dt, loss, "softmax cross-entropy of 16-bit logits");
        t.Check16("LossGrad", dt, dz, "softmax cross-entropy 16-bit dlogits");
        t.Identical(correct, "softmax cross-entropy correct count");

        var target = t.Up(TestData.Uniform(62, n * k, 0f, 1f), Shape.Of(n, k));
        t.Cpu.MseLoss(z.Cpu, target.Cpu, loss.Cpu, dz.Cpu, 2f); t.Gpu.MseLoss(z.Gpu, target.Gpu, loss.Gpu, dz.Gpu, 2f);
        t.Check16("Loss", dt, loss, "mse");
        t.Check16("LossGrad", dt, dz, "mse dpred");
        t.Cpu.BceWithLogitsLoss(z.Cpu, target.Cpu, loss.Cpu, dz.Cpu, 2f); t.Gpu.BceWithLogitsLoss(z.Gpu, target.Gpu, loss.Gpu, dz.Gpu, 2f);
        t.Check16("Loss", dt, loss, "bce with logits");
        t.Check16("LossGrad", dt, dz, "bce dlogits");
    }
}
