namespace DeepTrain.Training;

/// <summary>
/// Progress within an epoch, reported after every step. The loss and accuracy reach the host only at sync points
/// (<see cref="Trainer.SyncEvery"/>), so they are those of the last synchronised window: <see cref="Loss"/> and
/// <see cref="Accuracy"/> are the batch loss and accuracy of the last synchronised step, batch <see cref="LossBatch"/>
/// (equal to <see cref="Batch"/> when this step was a sync point, <see cref="Synchronised"/>), and
/// <see cref="WindowLoss"/> and <see cref="WindowAccuracy"/> the means over that window's steps. NaN accuracy for a
/// loss that counts none; NaN loss before the epoch's first sync (never: its first step is one).
/// </summary>
public readonly record struct StepProgress(int Epoch, int Batch, int Batches, long Images, double Seconds, double Loss, double Lr, double Accuracy = double.NaN)
{
    /// <summary>1-based batch of this epoch whose figures <see cref="Loss"/> and <see cref="Accuracy"/> are.</summary>
    public int LossBatch { get; init; }
    /// <summary>Mean loss of the last synchronised window (its steps with a finite loss, weighted by images).</summary>
    public double WindowLoss { get; init; }
    /// <summary>Accuracy over the last synchronised window.</summary>
    public double WindowAccuracy { get; init; }
    /// <summary>Steps the loss scaler skipped this epoch as of the last sync point (0 without a scaler).</summary>
    public long SkippedSteps { get; init; }
    /// <summary>True when this step was a sync point, so <see cref="Loss"/> is this step's own.</summary>
    public bool Synchronised => LossBatch == Batch;
}
