namespace DeepTrain.Optim;

/// <summary>
/// A learning-rate schedule by name, as a configuration file or command line gives it; see <see cref="ScheduleFactory.Create"/>.
/// A built-in model's default schedule is <see cref="Zoo.ModelInfo.Training"/>.
/// </summary>
/// <param name="Name">One of <see cref="ScheduleFactory.Names"/>.</param>
/// <param name="WarmupEpochs">Linear warm-up epochs before the schedule (<see cref="WarmupLr"/>); not with one-cycle, which warms up by itself.</param>
/// <param name="CycleMomentum">Under one-cycle, cycle the momentum between 0.95 and 0.85 (PyTorch's OneCycleLR default).</param>
public sealed record ScheduleOptions(string Name = "one-cycle", int WarmupEpochs = 0, bool CycleMomentum = true);

/// <summary>Builds learning-rate schedules from <see cref="ScheduleOptions"/>: the one place a name becomes a schedule.</summary>
public static class ScheduleFactory
{
    /// <summary>
    /// The schedule names <see cref="Create"/> knows: one-cycle; multistep (÷10 at 50% and 75%, the ResNet paper's steps);
    /// cosine; cosine-restarts (SGDR, first period one epoch, doubling); step (÷10 every third of training);
    /// exponential (smoothly ÷100 over training); constant.
    /// </summary>
    public static IReadOnlyList<string> Names { get; } = ["one-cycle", "multistep", "cosine", "cosine-restarts", "step", "exponential", "constant"];

    /// <summary>The schedule for a run of <paramref name="epochs"/> epochs of <paramref name="stepsPerEpoch"/> steps at peak rate <paramref name="lr"/>.</summary>
    /// <exception cref="ArgumentNullException">options is null.</exception>
    /// <exception cref="ArgumentException">An unknown name, warm-up not shorter than the run, warm-up with one-cycle, or fewer than 1 step or epoch.</exception>
    public static LrSchedule Create(ScheduleOptions options, float lr, long stepsPerEpoch, int epochs)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepsPerEpoch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        if (!Names.Contains(options.Name))
            throw new ArgumentException($"unknown schedule '{options.Name}' (ScheduleOptions.Name); expected one of {string.Join(", ", Names)}", nameof(options));
        if (options.WarmupEpochs < 0 || options.WarmupEpochs >= epochs)
            throw new ArgumentOutOfRangeException(nameof(options), $"ScheduleOptions.WarmupEpochs must be in [0, {epochs - 1}] (fewer than FitOptions.Epochs), got {options.WarmupEpochs}");
        if (options.WarmupEpochs > 0 && options.Name == "one-cycle")
            throw new ArgumentException("ScheduleOptions.WarmupEpochs does not combine with ScheduleOptions.Name = one-cycle, which warms up by itself", nameof(options));
        long perEpoch = stepsPerEpoch, warmupSteps = perEpoch * options.WarmupEpochs, total = perEpoch * epochs - warmupSteps;
        if (options.Name == "one-cycle" && total < 2)   // its warm-up and annealing phases need a step each
            throw new ArgumentOutOfRangeException(nameof(options), $"ScheduleOptions.Name = one-cycle needs at least 2 optimizer steps, but this run has {total} " +
                $"({epochs} epoch(s) of {stepsPerEpoch} step(s)); train for more steps (FitOptions.Epochs, a smaller FitOptions.BatchSize) or use another schedule");
        LrSchedule sched = options.Name switch
        {
            "one-cycle" => new OneCycleLr(lr, total, cycleMomentum: options.CycleMomentum),
            "multistep" => new MultiStepLr(lr, [total / 2, total * 3 / 4]),
            "cosine" => new CosineLr(lr, total),
            "cosine-restarts" => new CosineWarmRestartsLr(lr, perEpoch, 2),
            "step" => new StepLr(lr, Math.Max(1, total / 3)),
            "exponential" => new ExponentialLr(lr, (float)Math.Pow(0.01, 1.0 / Math.Max(1, total))),
            _ => new ConstantLr(lr),
        };
        return warmupSteps > 0 ? new WarmupLr(sched, warmupSteps) : sched;
    }
}
