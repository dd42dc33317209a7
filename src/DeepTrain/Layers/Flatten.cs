using DeepTrain.Tensors;

namespace DeepTrain.Layers;

/// <summary>
/// torch.nn.Flatten: (N, C, H, W) → (N, C·H·W) in (C, H, W) order. For NCHW (or H = W = 1) the bytes
/// are already in that order, so the planner lets the output share the input's memory and forward and
/// backward do nothing; channels-last input with H·W &gt; 1 is reordered by a copy.
/// </summary>
public sealed class Flatten : Layer
{
    /// <inheritdoc />
    public override Saved Saves => Saved.None;
    /// <inheritdoc />
    public override bool MayRunInPlace => true;
    /// <inheritdoc />
    public override bool IsView => true;

    /// <inheritdoc />
    public override Shape OutputShape(ReadOnlySpan<Shape> inputs)
    {
        if (inputs.Length != 1 || inputs[0].Rank < 2) throw ShapeError($"expected one input of rank ≥ 2");
        return Shape.Of(inputs[0].N, checked((int)(inputs[0].Elements / Math.Max(inputs[0].N, 1))));
    }

    /// <inheritdoc />
    public override void Forward(Step s)
    {
        var x = s.In(0);
        if (x.Pointer != s.Out().Pointer) s.Backend.Copy(x, s.Out().View(x.Shape, Layout.NCHW));
        else if (x.Layout == Layout.NHWC && x.Shape.H * x.Shape.W > 1)
            throw new InvalidOperationException($"{this}: cannot flatten channels-last {x.Shape} in place");
    }

    /// <inheritdoc />
    public override void Backward(Step s)
    {
        if (s.GradIn(0) is not { } dx) return;
        var dy = s.GradOut();
        if (dx.Pointer == dy.Pointer && !s.AccumulateGradIn(0)) return;
        var dyView = dy.View(dx.Shape, Layout.NCHW);
        if (s.AccumulateGradIn(0)) s.Backend.Axpby(1f, dyView, 1f, dx.Layout == Layout.NCHW ? dx : throw new InvalidOperationException($"{this}: accumulating into channels-last gradients is not supported"));
        else s.Backend.Copy(dyView, dx);
    }
}
