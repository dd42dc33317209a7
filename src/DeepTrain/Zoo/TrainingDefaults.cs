using DeepTrain.Optim;

namespace DeepTrain.Zoo;

/// <summary>
/// The learning rate and schedule a built-in model trains with when the caller names none (<see cref="ModelInfo.Training"/>),
/// meant not to diverge in one epoch of Fashion-MNIST at batch 128 for seeds 1–5 and 1 or 2 CPU threads
/// (<c>benchmarks/defaults_sweep.sh</c>; <c>ModelZooDefaultsTests</c> keeps a subset of it in the suite). Swept in full
/// (every seed and thread count, a whole epoch): LeNet-5, the MLP, ResNet-20, ResNet-20-B, the pre-activation ResNet-20,
/// ResNet-32 and ResNet-32-B. The deeper and the ImageNet ResNets take ResNet-20's values unswept (benchmarks/README.md,
/// "Training defaults").
/// Everything else (SGD, momentum 0.9, weight decay 5e-4) is <see cref="OptimizerOptions"/>'s default for every model.
/// </summary>
/// <param name="LearningRate">The rate (the peak under one-cycle), <see cref="OptimizerOptions.LearningRate"/>.</param>
/// <param name="Schedule">A schedule name of <see cref="ScheduleFactory.Names"/>, <see cref="ScheduleOptions.Name"/>.</param>
/// <param name="Reason">Where the values come from, for <c>deeptrain models</c> and the docs.</param>
public sealed record TrainingDefaults(float LearningRate, string Schedule, string Reason)
{
    /// <summary>
    /// Batch-normalised ResNets: 0.1, He et al. 2015's rate. One-cycle starts at a 25th of it and warms up over 30% of the
    /// run, which also covers the 0.01 warm-up the paper needed for ResNet-110 and -1202.
    /// </summary>
    public static TrainingDefaults ResNet { get; } = new(0.1f, "one-cycle", "He et al. 2015's rate; one-cycle warms up from lr/25");

    /// <summary>
    /// LeNet-5 (no normalisation layers): 0.01, the rate of Caffe's LeNet solver. At a one-cycle peak of 0.1 the loss becomes
    /// NaN within the first epoch of Fashion-MNIST (seed 3, or 1 thread); at 0.05 within its first 100 batches (one-cycle over them).
    /// </summary>
    public static TrainingDefaults LeNet { get; } = new(0.01f, "one-cycle", "Caffe's LeNet rate; 0.1 and 0.05 reach NaN in epoch 1");

    /// <summary>The multi-layer perceptron: 0.1 trains every seed and thread count of the sweep.</summary>
    public static TrainingDefaults Mlp { get; } = new(0.1f, "one-cycle", "trains every seed of the sweep");

    /// <summary><paramref name="options"/> with this learning rate.</summary>
    /// <exception cref="ArgumentNullException">options is null.</exception>
    public OptimizerOptions ApplyTo(OptimizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options with { LearningRate = LearningRate };
    }

    /// <summary><paramref name="options"/> with this schedule.</summary>
    /// <exception cref="ArgumentNullException">options is null.</exception>
    public ScheduleOptions ApplyTo(ScheduleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options with { Name = Schedule };
    }
}
