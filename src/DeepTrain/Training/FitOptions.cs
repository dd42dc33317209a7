using DeepTrain.Data;
using DeepTrain.Memory;
using DeepTrain.Mixed;
using DeepTrain.Optim;
using DeepTrain.Tensors;

namespace DeepTrain.Training;

/// <summary>
/// Everything a <see cref="TrainingRun"/> needs besides the model, the data and the backend: Keras's <c>fit</c> arguments
/// and PyTorch Lightning's <c>Trainer</c> flags in one immutable record. The defaults are the CLI's.
/// </summary>
public sealed record FitOptions
{
    /// <summary>Passes over the training set (the total, counting epochs a resumed run already did).</summary>
    public int Epochs { get; init; } = 4;
    /// <summary>Samples per optimizer step; the last partial training batch of an epoch is dropped.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Samples per evaluation batch (the last partial batch gets its own, exact plan).</summary>
    public int EvalBatchSize { get; init; } = 500;
    /// <summary>Seed of initialisation, shuffling, augmentation, dropout and the validation split.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>The optimizer (<see cref="OptimizerFactory"/>). Its default rate, 0.1, is the ResNets'; a built-in model's own rate is
    /// <see cref="Zoo.ModelInfo.Training"/> (LeNet-5 diverges at 0.1): <c>ModelZoo.Find(name).Training.ApplyTo(options)</c>.</summary>
    public OptimizerOptions Optimizer { get; init; } = new();
    /// <summary>The learning-rate schedule (<see cref="ScheduleFactory"/>); a built-in model's own is <see cref="Zoo.ModelInfo.Training"/>.</summary>
    public ScheduleOptions Schedule { get; init; } = new();
    /// <summary>Training augmentation on the loader's workers, or null for none.</summary>
    public AugmentationOptions? Augmentation { get; init; }
    /// <summary>Micro-batches per step whose gradients are summed (Caffe's iter_size); must divide <see cref="BatchSize"/>.</summary>
    public int AccumulationSteps { get; init; } = 1;
    /// <summary>Samples carved (seeded) from the training set for validation, reported every epoch (0: none).</summary>
    public int ValidationSamples { get; init; }
    /// <summary>Stop when the validation loss has not improved for this many epochs (0: never; needs <see cref="ValidationSamples"/>).</summary>
    public int EarlyStoppingPatience { get; init; }
    /// <summary>Before each evaluation, recompute batch-norm statistics over this many training batches (0: running averages).</summary>
    public int PreciseBatchNormBatches { get; init; }
    /// <summary>Batch-norm running statistics as the cumulative average over every training batch (<see cref="Trainer.CumulativeBatchNorm"/>).</summary>
    public bool CumulativeBatchNorm { get; init; }
    /// <summary>Sanity check: train on only the first N batches, without augmentation (0: off).</summary>
    public int OverfitBatches { get; init; }
    /// <summary>Activation layout of the plans.</summary>
    public Layout Layout { get; init; } = Layout.NCHW;
    /// <summary>Precision of the plans.</summary>
    public Precision Precision { get; init; } = Precision.Float32;
    /// <summary>Loss scaling; null: the precision's default (dynamic at fp16, off otherwise); <see cref="LossScalerOptions.Enabled"/> false: off.</summary>
    public LossScalerOptions? LossScaling { get; init; }
    /// <summary>Clip the gradients' global L2 norm to this value after unscaling (null: no clipping).</summary>
    public float? ClipGradNorm { get; init; }
    /// <summary>Host synchronisation interval (<see cref="Trainer.SyncEvery"/>); null: <see cref="Trainer.DefaultSyncEvery"/>.</summary>
    public int? SyncEvery { get; init; }
    /// <summary>Every N steps, per-layer statistics go to <see cref="Trainer.StatisticsReport"/> (0: never).</summary>
    public int StatisticsEvery { get; init; }
    /// <summary>Per-prefix learning-rate scales and frozen layers.</summary>
    public IReadOnlyList<ParameterGroupRule> ParameterGroups { get; init; } = [];
    /// <summary>Fine-tuning: start from the tensors of this safetensors file whose names and shapes match.</summary>
    public string? InitFrom { get; init; }
    /// <summary>Continue the run whose checkpoint set is in this folder (same seed and options give the uninterrupted run's weights).</summary>
    public string? ResumeFrom { get; init; }
    /// <summary>Folder for the checkpoint set and metrics.jsonl; null: <see cref="ResumeFrom"/> when resuming, else nothing is written.</summary>
    public string? OutputDirectory { get; init; }
    /// <summary>Replace another run's checkpoint set in <see cref="OutputDirectory"/>; without it such a folder is refused.</summary>
    public bool Overwrite { get; init; }
    /// <summary>Extra metadata for model.safetensors (e.g. the zoo name as "model" and the data set as "data", which evaluation reads back).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Checks every value that does not need the data, naming the property and its valid range.</summary>
    /// <exception cref="ArgumentException">A value is out of range (<see cref="ArgumentOutOfRangeException"/>) or two options exclude each other.</exception>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), $"FitOptions.Epochs must be ≥ 1, got {Epochs}");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), $"FitOptions.BatchSize must be ≥ 1, got {BatchSize}");
        Optimizer.Validate();
        if (EvalBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(EvalBatchSize), $"FitOptions.EvalBatchSize must be ≥ 1, got {EvalBatchSize}");
        foreach (var (name, value) in new[] { (nameof(SyncEvery), SyncEvery ?? 0), (nameof(PreciseBatchNormBatches), PreciseBatchNormBatches), (nameof(StatisticsEvery), StatisticsEvery),
                     (nameof(EarlyStoppingPatience), EarlyStoppingPatience), (nameof(OverfitBatches), OverfitBatches), (nameof(ValidationSamples), ValidationSamples) })
            if (value < 0) throw new ArgumentOutOfRangeException(name, $"FitOptions.{name} must be ≥ 0 (0: off), got {value}");
        if (EarlyStoppingPatience > 0 && ValidationSamples == 0)
            throw new ArgumentException("FitOptions.EarlyStoppingPatience watches the validation loss: set FitOptions.ValidationSamples too", nameof(EarlyStoppingPatience));
        if (InitFrom is not null && ResumeFrom is not null)
            throw new ArgumentException("FitOptions.InitFrom and FitOptions.ResumeFrom exclude each other: resuming restores the whole run", nameof(InitFrom));
        if (Metadata?.Keys.FirstOrDefault(k => k.StartsWith("deeptrain.", StringComparison.Ordinal)) is { } reserved)
            throw new ArgumentException($"FitOptions.Metadata sets '{reserved}': the deeptrain.* keys are the library's, describing the model (CheckpointInfo)", nameof(Metadata));
        if (OutputDirectory is { Length: 0 }) throw new ArgumentException("FitOptions.OutputDirectory is empty: give a folder, or null to write nothing", nameof(OutputDirectory));
        LossScaling?.Validate();
    }
}
