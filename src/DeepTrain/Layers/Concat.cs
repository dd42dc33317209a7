using DeepTrain.Tensors;

namespace DeepTrain.Layers;

/// <summary>torch.cat(inputs, dim=1): joins rank-4 inputs along channels; backward splits dy.</summary>
public sealed class Concat : Layer
{
    /// <summary>Creates a concatenation of <paramref name="inputs"/> tensors.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than 2 inputs.</exception>
    public Concat(int inputs = 2)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 2);
        InputCount = inputs;
    }

    /// <inheritdoc />
    public override int InputCount { get; }
    /// <inheritdoc />
    public override Saved Saves => Saved.None;

    /// <inheritdoc />
    public override Shape OutputShape(ReadOnlySpan<Shape> inputs)
    {
        if (inputs.Length != InputCount) throw ShapeError($"takes {InputCount} inputs, got {inputs.Length}");
        int c = 0;
        foreach (var x in inputs)
        {
            if (x.Rank != 4 || x.N != inputs[0].N || x.H != inputs[0].H || x.W != inputs[0].W)
                throw ShapeError($"input {x} does not match {inputs[0]} in N, H, W");
            c += x.C;
        }
        return Shape.Of(inputs[0].N, c, inputs[0].H, inputs[0].W);
    }

    /// <inheritdoc />
    public override void Forward(Step s)
    {
        int c0 = 0;
        for (int i = 0; i < InputCount; i++)
        {
            var x = s.In(i);
            s.Backend.CopyChannels(x, 0, s.Out(), c0, x.Shape.C, 1, accumulate: false);
            c0 += x.Shape.C;
        }
    }

    /// <inheritdoc />
    public override void Backward(Step s)
    {
        int c0 = 0;
        for (int i = 0; i < InputCount; i++)
        {
            int c = s.In(i).Shape.C;
            if (s.GradIn(i) is { } dx) s.Backend.CopyChannelsBackward(s.GradOut(), c0, dx, 0, c, 1, s.AccumulateGradIn(i));
            c0 += c;
        }
    }
}
