using DeepTrain.Tensors;

namespace DeepTrain.Layers;

/// <summary>
/// The residual join: y = a + b over equal shapes. Backward passes dy to both inputs unchanged,
/// so it saves nothing. In a training plan an input's gradient usually is dy's own buffer (the planner's
/// residual join without copies, <c>Planner.JoinGradients</c>): that slot's backward is then nothing at all.
/// </summary>
public sealed class Add : Layer
{
    /// <inheritdoc />
    public override int InputCount => 2;
    /// <inheritdoc />
    public override Saved Saves => Saved.None;

    /// <inheritdoc />
    public override Shape OutputShape(ReadOnlySpan<Shape> inputs)
    {
        if (inputs.Length != 2) throw ShapeError($"takes 2 inputs, got {inputs.Length}");
        if (inputs[0] != inputs[1]) throw ShapeError($"inputs have shapes {inputs[0]} and {inputs[1]}, expected equal shapes");
        return inputs[0];
    }

    /// <inheritdoc />
    public override void Forward(Step s) => s.Backend.Add(s.In(0), s.In(1), s.Out());

    /// <inheritdoc />
    public override void Backward(Step s)
    {
        for (int i = 0; i < 2; i++)
        {
            if (s.GradIn(i) is not { } dx) continue;
            if (s.AccumulateGradIn(i)) s.Backend.Axpby(1f, s.GradOut(), 1f, dx);
            else if (dx.Pointer != s.GradOut().Pointer) s.Backend.Copy(s.GradOut(), dx);
        }
    }
}
