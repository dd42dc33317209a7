using DeepTrain.Tensors;

namespace DeepTrain.Layers;

/// <summary>
/// Inverted dropout (Srivastava et al. 2014; torch.nn.Dropout): in training, y = x·keep/(1 − p) with
/// keep ~ Bernoulli(1 − p); in evaluation, y = x. The mask is a hash of (seed, index), regenerated in
/// backward, so nothing is saved and the layer may run in place.
/// </summary>
public sealed class Dropout : Layer
{
    /// <summary>Creates dropout with drop probability <paramref name="p"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1).</exception>
    public Dropout(float p = 0.5f)
    {
        if (!(p >= 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout: p must be in [0, 1)");
        P = p;
    }

    /// <summary>Probability of zeroing an element.</summary>
    public float P { get; }
    /// <inheritdoc />
    public override Saved Saves => Saved.None;
    /// <inheritdoc />
    public override bool MayRunInPlace => true;
    /// <inheritdoc />
    public override Shape OutputShape(ReadOnlySpan<Shape> inputs) => inputs.Length == 1 ? inputs[0] : throw ShapeError("takes 1 input");

    /// <inheritdoc />
    public override void Forward(Step s)
    {
        if (s.Training && P > 0) s.Backend.DropoutForward(s.In(0), s.Out(), P, s.Seed);
        else if (s.In(0).Pointer != s.Out().Pointer) s.Backend.Copy(s.In(0), s.Out());
    }

    /// <inheritdoc />
    public override void Backward(Step s)
    {
        if (s.GradIn(0) is not { } dx) return;
        if (P > 0) s.Backend.DropoutBackward(s.GradOut(), dx, P, s.Seed, s.AccumulateGradIn(0));
        else if (s.AccumulateGradIn(0)) s.Backend.Axpby(1f, s.GradOut(), 1f, dx);
        else if (dx.Pointer != s.GradOut().Pointer) s.Backend.Copy(s.GradOut(), dx);
    }
}
