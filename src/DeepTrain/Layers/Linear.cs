using DeepTrain.Tensors;

namespace DeepTrain.Layers;

/// <summary>
/// Fully connected layer, torch.nn.Linear: y = x·Wᵀ + b. x (N, in) → y (N, out); weight (out, in).
/// Backward: dx = dy·W, dW = dyᵀ·x, db = Σ_n dy.
/// </summary>
public sealed class Linear : Layer
{
    private readonly IReadOnlyList<ParamSpec> _params;

    /// <summary>Creates a linear layer with PyTorch's default initialisation unless one is given.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public Linear(int inFeatures, int outFeatures, bool bias = true, Init? weightInit = null, Init? biasInit = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        InFeatures = inFeatures; OutFeatures = outFeatures; HasBias = bias;
        var ps = new List<ParamSpec> { new("weight", Shape.Of(outFeatures, inFeatures), weightInit ?? Init.PyTorchDefaultWeight, inFeatures, outFeatures, Decay: true) };
        if (bias) ps.Add(new ParamSpec("bias", Shape.Of(outFeatures), biasInit ?? new Init.FanInUniform(), inFeatures, outFeatures, Decay: false));
        _params = ps;
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }
    /// <summary>Output features.</summary>
    public int OutFeatures { get; }
    /// <summary>Whether a bias is added.</summary>
    public bool HasBias { get; }
    /// <inheritdoc />
    public override IReadOnlyList<ParamSpec> Parameters => _params;

    /// <inheritdoc />
    public override bool UsesWorkingCopy => true;

    /// <inheritdoc />
    public override Shape OutputShape(ReadOnlySpan<Shape> inputs)
    {
        ExpectRank(inputs, 2);
        if (inputs[0].C != InFeatures) throw ShapeError($"input has {inputs[0].C} features, expected {InFeatures} (input shape {inputs[0]})");
        return Shape.Of(inputs[0].N, OutFeatures);
    }

    /// <inheritdoc />
    public override void Forward(Step s)
    {
        s.Backend.Gemm(false, true, 1f, s.In(0), s.Param(0), 0f, s.Out());   // (N, in)·(out, in)ᵀ
        if (HasBias) s.Backend.AddBias(s.Out(), s.Param(1));
    }

    /// <inheritdoc />
    public override void Backward(Step s)
    {
        float beta = s.AccumulateParamGrads ? 1f : 0f;
        s.Backend.Gemm(true, false, 1f, s.GradOut(), s.In(0), beta, s.Grad(0));   // (N, out)ᵀ·(N, in) = (out, in)
        if (HasBias) s.Backend.BiasBackward(s.GradOut(), s.Grad(1), s.AccumulateParamGrads);
        if (s.GradIn(0) is { } dx) s.Backend.Gemm(false, false, 1f, s.GradOut(), s.Param(0), s.AccumulateGradIn(0) ? 1f : 0f, dx);   // (N, out)·(out, in)
    }
}
