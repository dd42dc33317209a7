using DeepTrain.Backends;
using DeepTrain.Tensors;

namespace DeepTrain.Layers;

/// <summary>
/// An element-wise activation whose backward needs only its output y, so forward may overwrite x
/// (ReLU in place) and backward may overwrite dy.
/// </summary>
public abstract class ActivationLayer(ActivationKind kind, float alpha = 0f) : Layer
{
    /// <summary>The function.</summary>
    public ActivationKind Function { get; } = kind;
    /// <summary>LeakyReLU's negative slope.</summary>
    public float Alpha { get; } = alpha;
    /// <inheritdoc />
    public override Shape OutputShape(ReadOnlySpan<Shape> inputs)
    {
        if (inputs.Length != 1) throw ShapeError($"takes 1 input, got {inputs.Length}");
        return inputs[0];
    }
    /// <inheritdoc />
    public override bool MayRunInPlace => true;
    /// <inheritdoc />
    public override Saved Saves => Saved.Output;
    /// <inheritdoc />
    public override void Forward(Step s)
    {
        if (s.FusionRuns) return;   // the batch norm before it wrote max(y, 0) (BatchNorm, Step.FusedRelu)
        s.Backend.Activation(Function, Alpha, s.In(0), s.Out());
    }
    /// <inheritdoc />
    public override void Backward(Step s)
    {
        if (s.FusionRuns) return;   // the batch norm before it applies the mask in its own backward
        if (s.GradIn(0) is { } dx) s.Backend.ActivationBackward(Function, Alpha, s.Out(), s.GradOut(), dx, s.AccumulateGradIn(0));
    }
}

/// <summary>torch.nn.ReLU: y = max(x, 0).</summary>
public sealed class ReLU() : ActivationLayer(ActivationKind.Relu);

/// <summary>torch.nn.LeakyReLU: y = x for x &gt; 0, else slope·x (default slope 0.01).</summary>
/// <exception cref="ArgumentOutOfRangeException">The slope is not positive (backward reads the sign from y).</exception>
public sealed class LeakyReLU(float negativeSlope = 0.01f)
    : ActivationLayer(ActivationKind.LeakyRelu, negativeSlope > 0 ? negativeSlope : throw new ArgumentOutOfRangeException(nameof(negativeSlope), negativeSlope, "LeakyReLU: the slope must be > 0"));

/// <summary>torch.nn.Sigmoid: y = 1/(1 + e^−x).</summary>
public sealed class Sigmoid() : ActivationLayer(ActivationKind.Sigmoid);

/// <summary>torch.nn.Tanh.</summary>
public sealed class Tanh() : ActivationLayer(ActivationKind.Tanh);
