namespace DeepTrain.Training;

/// <summary>How a <see cref="TrainingRun.Fit"/> ended.</summary>
/// <param name="EpochsRun">Epochs trained by this call (not counting those before a resume).</param>
/// <param name="Last">The last epoch's figures, or null when none ran.</param>
/// <param name="BestTestAccuracy">The best test accuracy of this call's epochs.</param>
/// <param name="StoppedEarly">Whether early stopping ended the run.</param>
/// <param name="BestValidationLoss">The lowest validation loss of this call (∞ without validation).</param>
/// <param name="Seconds">Wall-clock seconds of the call.</param>
public sealed record FitResult(int EpochsRun, EpochMetrics? Last, double BestTestAccuracy, bool StoppedEarly, double BestValidationLoss, double Seconds);
