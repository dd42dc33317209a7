namespace DeepTrain.Training;

/// <summary>What a <see cref="TrainingProgress"/> report marks.</summary>
public enum TrainingPhase
{
    /// <summary>An optimizer step finished (<see cref="TrainingProgress.Step"/>).</summary>
    Step,
    /// <summary>An epoch was evaluated and its checkpoint set committed (<see cref="TrainingProgress.Metrics"/>).</summary>
    Epoch,
}

/// <summary>A progress report of <see cref="TrainingRun.Fit"/>: after every step (for progress bars) and after every epoch (for a table).</summary>
/// <param name="Phase">Step or epoch.</param>
/// <param name="Epoch">The 1-based epoch.</param>
/// <param name="Epochs">The run's total epochs.</param>
/// <param name="GlobalStep">Optimizer steps taken so far, this one included.</param>
public sealed record TrainingProgress(TrainingPhase Phase, int Epoch, int Epochs, long GlobalStep)
{
    /// <summary>The step's figures (for <see cref="TrainingPhase.Step"/>).</summary>
    public StepProgress Step { get; init; }
    /// <summary>The epoch's figures (for <see cref="TrainingPhase.Epoch"/>).</summary>
    public EpochMetrics? Metrics { get; init; }
    /// <summary>The metrics log just committed, or null when the run writes no files (for <see cref="TrainingPhase.Epoch"/>).</summary>
    public string? MetricsPath { get; init; }
}
