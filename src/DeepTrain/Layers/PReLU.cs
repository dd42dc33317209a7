using DeepTrain.Tensors;

namespace DeepTrain.Layers;

/// <summary>
/// torch.nn.PReLU (He et al. 2015, "Delving Deep into Rectifiers"): y = x for x &gt; 0, else a·x, with the
/// slope a learned, one per channel (num_parameters = C) or one shared (num_parameters = 1), initialised
/// to 0.25 as in PyTorch and excluded from weight decay (the paper warns decay pushes a towards 0).
/// Backward reads x, so the layer does not run in place.
/// </summary>
public sealed class PReLU : Layer
{
    private readonly IReadOnlyList<ParamSpec> _params;

    /// <summary>Creates the layer with <paramref name="numParameters"/> slopes (1 or the channel count).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="numParameters"/> is below 1.</exception>
    public PReLU(int numParameters = 1, float init = 0.25f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numParameters, 1);
        NumParameters = numParameters;
        _params = [new ParamSpec("weight", Shape.Of(numParameters), new Init.Constant(init), 1, 1, Decay: false)];
    }

    /// <summary>1 (shared) or C (per channel).</summary>
    public int NumParameters { get; }
    /// <inheritdoc />
    public override IReadOnlyList<ParamSpec> Parameters => _params;

    /// <inheritdoc />
    public override Shape OutputShape(ReadOnlySpan<Shape> inputs)
    {
        if (inputs.Length != 1 || inputs[0].Rank < 2) throw ShapeError("expected one input of rank ≥ 2 (N, C, ...)");
        if (NumParameters != 1 && inputs[0].C != NumParameters)
            throw ShapeError($"input has {inputs[0].C} channels, expected {NumParameters} (one slope per channel) (input shape {inputs[0]})");
        return inputs[0];
    }

    /// <inheritdoc />
    public override void Forward(Step s) => s.Backend.PReluForward(s.In(0), s.Param(0), s.Out());

    /// <inheritdoc />
    public override void Backward(Step s)
        => s.Backend.PReluBackward(s.In(0), s.Param(0), s.GradOut(), s.GradIn(0), s.Grad(0), s.AccumulateGradIn(0), s.AccumulateParamGrads);
}
