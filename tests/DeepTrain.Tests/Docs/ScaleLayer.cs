using DeepTrain.Layers;
using DeepTrain.Tensors;

namespace DeepTrain.Tests.Docs;

/// <summary>
/// The worked example of docs/extending.md: y = α·x with a fixed α, as Inception-ResNet scales a residual
/// branch by 0.1–0.3 before the join (Szegedy et al. 2016, §3.3). The doc quotes this file; a test checks
/// that every quoted block is still in it.
/// </summary>
public sealed class Scale(float factor) : Layer
{
    /// <summary>α.</summary>
    public float Factor { get; } = factor;

    // Shape inference: element-wise, so the output has the input's shape (batch dimension included).
    /// <inheritdoc />
    public override Shape OutputShape(ReadOnlySpan<Shape> inputs)
    {
        if (inputs.Length != 1) throw ShapeError($"takes 1 input, got {inputs.Length}");
        return inputs[0];
    }

    // Backward needs neither x nor y (dx = α·dy), so nothing is kept alive for it, and forward may
    // overwrite its input: the planner then gives x and y one buffer, and dy and dx another.
    /// <inheritdoc />
    public override Saved Saves => Saved.None;
    /// <inheritdoc />
    public override bool MayRunInPlace => true;

    // y = α·x + 0·y: with β = 0 the backend does not read y, so stale values in the arena cannot leak.
    /// <inheritdoc />
    public override void Forward(Step s) => s.Backend.Axpby(Factor, s.In(0), 0f, s.Out());

    // dx (+)= α·dy. GradIn is null when the input is the data (no gradient wanted); AccumulateGradIn is
    // true when the input feeds several layers and their gradients are summed.
    /// <inheritdoc />
    public override void Backward(Step s)
    {
        if (s.GradIn(0) is not { } dx) return;
        s.Backend.Axpby(Factor, s.GradOut(), s.AccumulateGradIn(0) ? 1f : 0f, dx);
    }
}
