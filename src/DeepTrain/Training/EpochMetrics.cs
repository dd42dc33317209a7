namespace DeepTrain.Training;

/// <summary>One epoch's figures, as written to metrics.jsonl.</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAcc, double TestLoss, double TestAcc, double Lr, double Seconds, double ImagesPerSec)
{
    /// <summary>Steps the loss scaler skipped this epoch because a gradient was NaN or ±∞ (0 without a scaler).</summary>
    public long SkippedSteps { get; init; }
    /// <summary>The loss scale at the end of the epoch, or null without a scaler.</summary>
    public double? LossScale { get; init; }
    /// <summary>Validation loss, or null without a validation split (<see cref="FitOptions.ValidationSamples"/>).</summary>
    public double? ValidationLoss { get; init; }
    /// <summary>Validation accuracy, or null without a validation split.</summary>
    public double? ValidationAccuracy { get; init; }
    /// <summary>The weight penalty's value λ1·‖w‖₁ + λ2/2·‖w‖² at the end of the epoch, or null without one (not in <see cref="TrainLoss"/>).</summary>
    public double? Penalty { get; init; }
}

/// <summary>
/// Evaluation with test-time augmentation: loss and accuracy of the mean softmax over <paramref name="Views"/>
/// views, and of the plain image alone from the same pass.
/// </summary>
public sealed record TtaMetrics(double Loss, double Accuracy, double PlainLoss, double PlainAccuracy, int Views);
