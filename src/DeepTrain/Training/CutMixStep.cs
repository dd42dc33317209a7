using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Tensors;

namespace DeepTrain.Training;

/// <summary>
/// One training step on a CutMix batch (<see cref="Batch.IsMixed"/>): forward, the mixed-label loss
/// λ·CE(z, y_a) + (1 − λ)·CE(z, y_b) and its gradient (<see cref="MixedCrossEntropy"/>), backward. The plan's
/// input and y_a are loaded by the trainer; y_b goes to the loss's own tensor, made at the first mixed batch.
/// Accuracy counts against y_a. Yun et al. 2019, clovaai/CutMix-PyTorch.
/// </summary>
internal sealed class CutMixStep(Model model, Loss loss) : IDisposable
{
    private MixedCrossEntropy? _mixed;

    /// <summary>Forward, mixed loss (gradient times <paramref name="scale"/> and the loss scale), backward for rows [first, first + plan batch).</summary>
    /// <exception cref="NotSupportedException">The loss is not cross-entropy.</exception>
    public void Run(Plan plan, Batch batch, int first, float scale, Tensor? lossScale)
    {
        if (loss is not CrossEntropyLoss)
            throw new NotSupportedException($"CutMix mixes the labels of CrossEntropyLoss; the loss {loss.Name} cannot train on mixed batches");
        _mixed ??= new MixedCrossEntropy(model.Backend, plan.BatchSize, plan.Output.Shape[1]);
        model.Backend.CopyFromHost<int>(batch.LabelsB.AsSpan(first, plan.BatchSize), _mixed.LabelsB);
        plan.Forward();
        _mixed.Compute(plan.Output, plan.Target, batch.Lambda, plan.LossValue, plan.OutputGrad, plan.Correct, scale);
        plan.BackwardFromLoss(lossScale);
    }

    /// <inheritdoc />
    public void Dispose() => _mixed?.Dispose();
}
