using DeepTrain.Backends;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Golden;

/// <summary>
/// Layers and losses against PyTorch (tests/golden/make_ops.py, one file per case). Each case runs the
/// DeepTrain layer itself (its constructor's conventions included) on every backend and, for rank-4
/// operations, in both layouts. The golden values are PyTorch's float64 results on float32-exact inputs,
/// rounded once to float32, so the tolerances below bound DeepTrain's own fp32 error only. Gradients are
/// the backward of Σ y·r for the stored r ("dy"); every gradient buffer starts as NaN, so an operation that
/// should overwrite (accumulate = false) but reads the old value fails.
/// </summary>
// Tolerances, each |diff| ≤ atol + rtol·|expected|:
//  - Convolution: outputs are fp32 sums of ≤ 425 products (y of the 17-channel 5×5 case) or ≤ 70 (dw over
//    N·OH·OW), |sum| ≤ 25. Summed in another order, the error is ≈ ε₃₂·√n·|sum| ≈ 6e-8·20·25 = 3e-5:
//    atol 1e-4, rtol 1e-5. A missing or misplaced tap moves an output by ≈ |w·x| ≈ 0.3.
//  - Linear: sums of ≤ 67 products, |sum| ≤ 9: atol 2e-5, rtol 1e-5.
//  - Batch norm: y, dx are O(1) after a handful of fp32 operations per element, but dx = a·(dy − mean(dy) − x̂·mean(dy·x̂))
//    cancels: atol 2e-5, rtol 1e-5; dγ, dβ are sums of ≤ 120 terms, |sum| ≤ 21: atol 5e-5; statistics
//    and running averages agree to 1e-6 (DeepTrain sums them in double).
//  - Pooling: max copies values (exact) and its gradient sums ≤ 4 overlapping dy values; averages sum ≤ 49
//    terms: atol 1e-6, rtol 1e-6.
//  - Activations: y is one libm-class function per element, within a few ulp (tanh measured 2.4e-7): atol 1e-6,
//    rtol 1e-6; dx = dy·(1 − y²) multiplies y's error by |2·y·dy| ≤ 7: atol 3e-6.
//  - Losses: the loss is summed in double and rounded once (rtol 1e-6); gradients are O(0.1) after one
//    exp and a division per element: atol 1e-7, rtol 1e-5.
public class OpGoldenTests
{
    private static readonly string[] Backends = ["cpu", "cuda"];

    private static TheoryData<string, string, Layout> Rows(bool bothLayouts, params string[] cases)
    {
        var d = new TheoryData<string, string, Layout>();
        foreach (var backend in Backends)
            foreach (var c in cases)
                foreach (var layout in bothLayouts ? new[] { Layout.NCHW, Layout.NHWC } : [Layout.NCHW])
                    d.Add(backend, c, layout);
        return d;
    }

    public static TheoryData<string, string, Layout> Conv2dCases() => Rows(bothLayouts: true,
        "conv2d_3x3",              // x (2, 3, 7, 9), 3×3, stride 1, no padding, bias
        "conv2d_3x3_s2_p1",        // x (2, 3, 8, 8), stride 2 pad 1, no bias (ResNet's downsampling conv)
        "conv2d_3x3_s2_p1_odd",    // x (3, 4, 9, 7), stride 2 pad 1 on odd sizes, bias
        "conv2d_nonsquare",        // x (2, 3, 6, 11), 3×5 kernel, stride (2, 1), pad (1, 2), bias
        "conv2d_dilation2",        // x (2, 3, 9, 10), 3×3, dilation 2, pad 2, bias
        "conv2d_groups2",          // x (2, 4, 7, 7), groups 2 (6 filters of 2 channels), pad 1, bias
        "conv2d_depthwise",        // x (2, 6, 8, 8), groups 6, stride 2 pad 1, no bias
        "conv2d_depthwise_x2",     // x (2, 3, 7, 7), groups 3 with 2 filters per channel, pad 1, bias
        "conv2d_1x1_s2",           // x (2, 8, 8, 8), 1×1 stride 2 (option-B shortcut), no bias
        "conv2d_5x5_p2_wide");     // x (1, 17, 5, 6), 19 filters of 17×5×5, pad 2: odd channel counts

    public static TheoryData<string, string, Layout> BatchNormTrainingCases() => Rows(bothLayouts: true,
        "batchnorm2d_train",       // x (4, 3, 5, 6), momentum 0.1: y, dx, dγ, dβ, running mean and (unbiased) variance
        "batchnorm2d_train_c19");  // x (2, 19, 3, 5): a channel count that leaves vector tails

    public static TheoryData<string, string, Layout> BatchNorm1dCases() => Rows(bothLayouts: false,
        "batchnorm1d_train");      // x (8, 5)

    public static TheoryData<string, string, Layout> BatchNormEvalCases() => Rows(bothLayouts: true,
        "batchnorm2d_eval");       // x (3, 4, 5, 5) with running statistics

    public static TheoryData<string, string, Layout> PoolCases() => Rows(bothLayouts: true,
        "maxpool_k2_s2",                   // MaxPool2d(2), x (2, 3, 8, 10)
        "maxpool_k3_s2_p1",                // MaxPool2d(3, 2, 1): padding, overlapping windows, x (2, 3, 7, 9)
        "maxpool_k3_s1_p1",                // MaxPool2d(3, 1, 1): every element in up to 9 windows
        "maxpool_k3_s2_ties",              // integer inputs in {0, 1, 2}: ties go to the first maximum
        "avgpool_k2_s2",                   // AvgPool2d(2)
        "avgpool_k3_s2_p1_include_pad",    // AvgPool2d(3, 2, 1), count_include_pad=True
        "avgpool_k3_s2_p1_exclude_pad",    // AvgPool2d(3, 2, 1), count_include_pad=False
        "adaptive_avgpool_1");             // AdaptiveAvgPool2d(1), x (2, 5, 7, 6)

    public static TheoryData<string, string, Layout> LinearCases() => Rows(bothLayouts: false,
        "linear",                  // (5, 7) → (5, 4)
        "linear_wide");            // (3, 67) → (3, 33): odd sizes for vector tails

    public static TheoryData<string, string, Layout> ActivationCases() => Rows(bothLayouts: false,
        "relu",
        "leaky_relu_0.1",
        "leaky_relu_0.01",
        "sigmoid",
        "tanh");

    public static TheoryData<string, string, Layout> LossCases() => Rows(bothLayouts: false,
        "cross_entropy",               // CrossEntropyLoss, logits (6, 10)
        "cross_entropy_large_logits",  // logits ≈ ±100: e^z overflows fp32 unless the maximum is subtracted
        "mse",                         // MSELoss (4, 5)
        "bce_with_logits",             // BCEWithLogitsLoss (4, 5), soft and hard targets
        "bce_with_logits_large");      // logits ≈ ±50: log(1 + e^−|z|) must not overflow

    [Theory, MemberData(nameof(Conv2dCases))]
    public void Conv2d_MatchesPyTorch(string backend, string @case, Layout layout)
    {
        using var c = new Case(backend, @case, layout);
        var g = c.Gold;
        Shape xs = g.ShapeOf("x"), ws = g.ShapeOf("w");
        bool bias = g.Bool("bias");
        var layer = new Conv2d(xs.C, ws[0], ws[2], g.Int("stride_h"), g.Int("pad_h"), g.Int("dilation_h"), g.Int("groups"), bias,
            kernelW: ws[3], strideW: g.Int("stride_w"), paddingW: g.Int("pad_w"), dilationW: g.Int("dilation_w"));
        var step = c.Bind(layer, training: true,
            ps: bias ? [c.Param("w"), c.Param("b")] : [c.Param("w")],
            gs: bias ? [c.NanParam(ws), c.NanParam(g.ShapeOf("b"))] : [c.NanParam(ws)]);
        layer.Forward(step);
        c.Check("y", step.Out(), 1e-4, 1e-5);
        layer.Backward(step);
        c.Check("dx", step.GradIn(0)!, 1e-4, 1e-5);
        c.Check("dw", step.Grad(0), 1e-4, 1e-5, parameter: true);
        if (bias) c.Check("db", step.Grad(1), 1e-4, 1e-5);
    }

    [Theory, MemberData(nameof(BatchNormTrainingCases)), MemberData(nameof(BatchNorm1dCases))]
    public void BatchNormTraining_MatchesPyTorch(string backend, string @case, Layout layout)
    {
        using var c = new Case(backend, @case, layout);
        var g = c.Gold;
        var xs = g.ShapeOf("x");
        var cs = Shape.Of(xs.C);
        var layer = new BatchNorm(xs.C, xs.Rank, g.Real("eps"), g.Real("momentum"));
        var step = c.Bind(layer, training: true,
            ps: [c.Param("gamma"), c.Param("beta")], gs: [c.NanParam(cs), c.NanParam(cs)],
            buffers: [c.Param("running_mean0"), c.Param("running_var0")], aux: [c.NanParam(cs), c.NanParam(cs)]);
        layer.Forward(step);
        c.Check("y", step.Out(), 2e-5, 1e-5);
        c.Check("save_mean", step.SavedAux(0), 1e-6, 1e-6);
        c.Check("save_invstd", step.SavedAux(1), 1e-6, 1e-6);
        c.Check("running_mean", step.Buffer(0), 1e-6, 1e-6);
        c.Check("running_var", step.Buffer(1), 1e-6, 1e-6);
        layer.Backward(step);
        c.Check("dx", step.GradIn(0)!, 2e-5, 1e-5);
        c.Check("dgamma", step.Grad(0), 5e-5, 1e-5);
        c.Check("dbeta", step.Grad(1), 5e-5, 1e-5);
    }

    [Theory, MemberData(nameof(BatchNormEvalCases))]
    public void BatchNormEvaluation_MatchesPyTorch(string backend, string @case, Layout layout)
    {
        using var c = new Case(backend, @case, layout);
        var g = c.Gold;
        var xs = g.ShapeOf("x");
        var layer = BatchNorm2d.Create(xs.C, g.Real("eps"));
        var step = c.Bind(layer, training: false, ps: [c.Param("gamma"), c.Param("beta")], gs: [],
            buffers: [c.Param("running_mean"), c.Param("running_var")], withGradients: false);
        layer.Forward(step);
        c.Check("y", step.Out(), 2e-5, 1e-5);
        c.Check("running_mean", step.Buffer(0), 0, 0);   // evaluation leaves the statistics alone
        c.Check("running_var", step.Buffer(1), 0, 0);
    }

    [Theory, MemberData(nameof(PoolCases))]
    public void Pool2d_MatchesPyTorch(string backend, string @case, Layout layout)
    {
        using var c = new Case(backend, @case, layout);
        var g = c.Gold;
        int k = g.Int("kernel"), stride = g.Int("stride"), pad = g.Int("padding");
        Layer layer = g.Str("mode") switch
        {
            "max" => new MaxPool2d(k, stride, pad),
            "avg_include_pad" => new AvgPool2d(k, stride, pad, countIncludePad: true),
            "avg_exclude_pad" => new AvgPool2d(k, stride, pad, countIncludePad: false),
            "adaptive_avg" => new GlobalAvgPool2d(),
            var m => throw new InvalidDataException($"{@case}: unknown pooling mode '{m}'"),
        };
        var step = c.Bind(layer, training: true);
        layer.Forward(step);
        c.Check("y", step.Out(), 1e-6, 1e-6);
        // PyTorch sends a tied window's gradient to its first maximum; cuDNN does not document its rule (CudaBackend.Pool.cs).
        Assert.SkipWhen(backend == "cuda" && @case.EndsWith("_ties", StringComparison.Ordinal),
            "the forward matched; the backward of tied maxima follows cuDNN's undocumented tie rule, not PyTorch's first-maximum rule");
        layer.Backward(step);
        c.Check("dx", step.GradIn(0)!, 1e-6, 1e-6);
    }

    [Theory, MemberData(nameof(LinearCases))]
    public void Linear_MatchesPyTorch(string backend, string @case, Layout layout)
    {
        using var c = new Case(backend, @case, layout);
        var g = c.Gold;
        Shape ws = g.ShapeOf("w"), bs = g.ShapeOf("b");
        var layer = new Linear(ws[1], ws[0]);
        var step = c.Bind(layer, training: true, ps: [c.Param("w"), c.Param("b")], gs: [c.NanParam(ws), c.NanParam(bs)]);
        layer.Forward(step);
        c.Check("y", step.Out(), 2e-5, 1e-5);
        layer.Backward(step);
        c.Check("dx", step.GradIn(0)!, 2e-5, 1e-5);
        c.Check("dw", step.Grad(0), 2e-5, 1e-5);
        c.Check("db", step.Grad(1), 2e-5, 1e-5);
    }

    [Theory, MemberData(nameof(ActivationCases))]
    public void Activation_MatchesPyTorch(string backend, string @case, Layout layout)
    {
        using var c = new Case(backend, @case, layout);
        var g = c.Gold;
        Layer layer = g.Str("kind") switch
        {
            "relu" => new ReLU(),
            "leaky_relu" => new LeakyReLU((float)g.Real("alpha")),
            "sigmoid" => new Sigmoid(),
            "tanh" => new Tanh(),
            var k => throw new InvalidDataException($"{@case}: unknown activation '{k}'"),
        };
        var step = c.Bind(layer, training: true);
        layer.Forward(step);
        c.Check("y", step.Out(), 1e-6, 1e-6);
        layer.Backward(step);
        c.Check("dx", step.GradIn(0)!, 3e-6, 1e-6);
    }

    [Theory, MemberData(nameof(LossCases))]
    public void Loss_MatchesPyTorch(string backend, string @case, Layout layout)
    {
        using var c = new Case(backend, @case, layout);
        var g = c.Gold;
        var (loss, output, target, grad) = c.Gold.Json.GetProperty("op").GetString() switch
        {
            "cross_entropy" => ((Loss)new CrossEntropyLoss(), "logits", c.UpInt("labels"), "dlogits"),
            "mse" => (new MseLoss(), "pred", c.Up("target"), "dpred"),
            "bce_with_logits" => (new BceWithLogitsLoss(), "logits", c.Up("target"), "dlogits"),
            var op => throw new InvalidDataException($"{@case}: unknown loss '{op}'"),
        };
        var z = c.Up(output);
        var value = c.Nan(Shape.Of(1));
        var dz = c.Nan(g.ShapeOf(output));
        var correct = c.Nan(Shape.Of(1));
        loss.Compute(c.Backend, z, target, value, dz, loss.CountsCorrect ? correct : null, scale: 1f);
        c.Check("loss", value, 0, 1e-6);
        c.Check(grad, dz, 1e-7, 1e-5);
    }

    /// <summary>One golden case on one backend: uploads, NaN-filled outputs, and the layer's step.</summary>
    private sealed class Case : IDisposable
    {
        private readonly TensorScope _scope;
        private readonly Layout _layout;
        private readonly string _label;

        public Case(string backend, string name, Layout layout)
        {
            Gold = GoldenFile.Load("ops", name);
            Backend = TestBackends.Create(backend);
            _scope = new TensorScope(Backend);
            _layout = layout;
            _label = $"{name} [{backend}, {layout}]";
        }

        public GoldenFile Gold { get; }
        public IBackend Backend { get; }

        /// <summary>Golden float tensor <paramref name="name"/> on the backend, in this case's layout.</summary>
        public Tensor Up(string name) => _scope.UploadLogical(Gold.D(name), Gold.ShapeOf(name), _layout);

        /// <summary>Golden parameter <paramref name="name"/>: parameters are (K, C, R, S) in every layout.</summary>
        public Tensor Param(string name) => _scope.Upload(Gold.F(name), Gold.ShapeOf(name));

        /// <summary>A NaN-filled gradient for a parameter of shape <paramref name="shape"/> (NCHW, as the parameter).</summary>
        public Tensor NanParam(Shape shape)
        {
            var t = _scope.Zeros(shape);
            Backend.Fill(t, float.NaN);
            return t;
        }

        /// <summary>Golden int tensor <paramref name="name"/> on the backend.</summary>
        public Tensor UpInt(string name) => _scope.Upload(Gold.I(name), Gold.ShapeOf(name));

        /// <summary>A tensor filled with NaN: whatever is not written stays visibly wrong.</summary>
        public Tensor Nan(Shape shape)
        {
            var t = _scope.Zeros(shape, _layout);
            Backend.Fill(t, float.NaN);
            return t;
        }

        /// <summary>
        /// A step for <paramref name="layer"/> reading golden "x" and writing a fresh output of the golden
        /// "y"'s shape (checked against the layer's own shape rule); with gradients it reads golden "dy".
        /// </summary>
        public Step Bind(Layer layer, bool training, Tensor[]? ps = null, Tensor[]? gs = null, Tensor[]? buffers = null, Tensor[]? aux = null, bool withGradients = true)
        {
            layer.Name = "golden";
            var ys = Gold.ShapeOf("y");
            Assert.Equal(ys, layer.OutputShape([Gold.ShapeOf("x")]));
            return new Step(Backend, new ExecutionState { Training = training }, layer, 0)
            {
                Inputs = [Up("x")],
                Output = Nan(ys),
                OutputGrad = withGradients ? Up("dy") : null,
                InputGrads = [withGradients ? Nan(Gold.ShapeOf("x")) : null],
                AccumulateInputGrads = [false],
                Params = ps ?? [],
                Grads = gs ?? [],
                Buffers = buffers ?? [],
                Aux = aux ?? [],
            };
        }

        /// <summary>Compares <paramref name="actual"/> (any layout) with golden tensor <paramref name="name"/>.</summary>
        public void Check(string name, Tensor actual, double atol, double rtol, bool parameter = false)
        {
            Backend.Synchronize();
            Tolerance.AssertClose(Gold.D(name), parameter ? _scope.Download(actual) : _scope.DownloadLogical(actual), atol, rtol, $"{_label} {name}");
        }

        public void Dispose()
        {
            _scope.Dispose();
            Backend.Dispose();
        }
    }
}
