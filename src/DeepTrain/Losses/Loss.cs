using DeepTrain.Backends;
using DeepTrain.Tensors;

namespace DeepTrain.Losses;

/// <summary>
/// A loss over the model's output and a target, averaged over the batch (PyTorch's reduction='mean').
/// The backward is fused into the same call: it writes scale·∂loss/∂output.
/// </summary>
public abstract class Loss
{
    /// <summary>PyTorch's name ("CrossEntropyLoss").</summary>
    public abstract string Name { get; }
    /// <summary>Element type of the target tensor.</summary>
    public virtual DType TargetDType => DType.Float32;
    /// <summary>Whether accuracy (argmax = label) is meaningful and computed.</summary>
    public virtual bool CountsCorrect => false;
    /// <summary>Target shape for a given output shape; throws naming the loss when the output does not suit it.</summary>
    public abstract Shape TargetShape(Shape output);
    /// <summary>loss[0] = mean loss; grad = scale·∂loss/∂output when given; correct[0] = correct predictions when given.</summary>
    public abstract void Compute(IBackend backend, Tensor output, Tensor target, Tensor loss, Tensor? grad, Tensor? correct, float scale);
}

/// <summary>torch.nn.CrossEntropyLoss on logits (N, K) and integer labels (N).</summary>
public sealed class CrossEntropyLoss : Loss
{
    /// <inheritdoc />
    public override string Name => "CrossEntropyLoss";
    /// <inheritdoc />
    public override DType TargetDType => DType.Int32;
    /// <inheritdoc />
    public override bool CountsCorrect => true;
    /// <inheritdoc />
    public override Shape TargetShape(Shape output) =>
        output.Rank == 2 ? Shape.Of(output.N) : throw new Layers.LayerShapeException($"CrossEntropyLoss: the model's output has shape {output}, expected (N, classes)");
    /// <inheritdoc />
    public override void Compute(IBackend backend, Tensor output, Tensor target, Tensor loss, Tensor? grad, Tensor? correct, float scale)
        => backend.SoftmaxCrossEntropy(output, target, loss, grad, correct, scale);
}

/// <summary>torch.nn.MSELoss: mean of squared differences over every element.</summary>
public sealed class MseLoss : Loss
{
    /// <inheritdoc />
    public override string Name => "MSELoss";
    /// <inheritdoc />
    public override Shape TargetShape(Shape output) => output;
    /// <inheritdoc />
    public override void Compute(IBackend backend, Tensor output, Tensor target, Tensor loss, Tensor? grad, Tensor? correct, float scale)
        => backend.MseLoss(output, target, loss, grad, scale);
}

/// <summary>torch.nn.BCEWithLogitsLoss: binary cross-entropy on logits, targets in [0, 1], mean over elements.</summary>
public sealed class BceWithLogitsLoss : Loss
{
    /// <inheritdoc />
    public override string Name => "BCEWithLogitsLoss";
    /// <inheritdoc />
    public override Shape TargetShape(Shape output) => output;
    /// <inheritdoc />
    public override void Compute(IBackend backend, Tensor output, Tensor target, Tensor loss, Tensor? grad, Tensor? correct, float scale)
        => backend.BceWithLogitsLoss(output, target, loss, grad, scale);
}
