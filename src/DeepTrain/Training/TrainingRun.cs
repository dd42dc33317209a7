using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DeepTrain.Backends;
using DeepTrain.Checkpoints;
using DeepTrain.Data;
using DeepTrain.Distributed;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Optim;

namespace DeepTrain.Training;

/// <summary>
/// One training run, the library's fit loop (Keras's <c>fit</c>, PyTorch Lightning's <c>Trainer.fit</c>): it splits
/// off the validation set, builds the loaders, model, optimizer, schedule, <see cref="Trainer"/> and <see cref="Evaluator"/>
/// from <see cref="FitOptions"/>, and <see cref="Fit"/> trains epoch by epoch — train, evaluate (test and validation),
/// early stopping, and after every epoch one committed checkpoint set (<c>model.safetensors</c>,
/// <c>training_state.safetensors</c>, <c>metrics.jsonl</c>; see the README's "Checkpoints as one unit").
/// A cancelled <see cref="Fit"/> stops at the next step boundary; the folder then holds the set of the last completed
/// epoch, from which <see cref="FitOptions.ResumeFrom"/> continues to the uninterrupted run's weights.
/// </summary>
public sealed class TrainingRun : IDisposable
{
    private readonly FitOptions _o;
    private readonly DataLoader _trainLoader, _testLoader;
    private readonly DataLoader? _valLoader;
    private readonly CheckpointSet? _out;
    private readonly List<string> _rows = [];
    private readonly ICheckpointFileSystem _fs;
    private readonly List<IDisposable> _owned = [];
    private readonly List<string> _warnings = [];
    private readonly CheckpointStaging _staging = new();   // host copies reused by every commit, so RSS stays flat

    /// <summary>Prepares a run of <paramref name="graph"/> on <paramref name="train"/>, evaluated on <paramref name="test"/>; resumes when <see cref="FitOptions.ResumeFrom"/> is set.</summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">An option is out of range for the data (the message names the <see cref="FitOptions"/> property), or <see cref="FitOptions.ResumeFrom"/> names a file rather than a run's folder.</exception>
    /// <exception cref="InvalidDatasetException">A data set is empty, the test set's images differ in shape from the training set's or the training set's from the model's input, or a label is beyond the model's outputs.</exception>
    /// <exception cref="IOException">The output folder cannot be created (the message says why).</exception>
    /// <exception cref="InvalidOperationException">The output folder holds another run's checkpoint and <see cref="FitOptions.Overwrite"/> is off, or the resumed run is already complete.</exception>
    /// <exception cref="FileNotFoundException">The resumed set lacks a file.</exception>
    /// <exception cref="CheckpointMismatchException">The resumed set's files disagree, or belong to another model, optimizer or precision.</exception>
    public TrainingRun(ModelGraph graph, Dataset train, Dataset test, IBackend backend, FitOptions options)
        : this(graph, train, test, backend, options, null, DiskCheckpointFileSystem.Instance) { }

    /// <summary>
    /// Prepares one rank's part of a data-parallel run over <paramref name="group"/> (null or a group of one: a plain run).
    /// Each rank trains on its <see cref="DatasetShard"/> of every epoch with <see cref="FitOptions.BatchSize"/> samples per
    /// step (the global batch is that times the group's size), gradients are averaged across ranks, evaluation is sharded and
    /// its counts summed, and rank 0 alone writes the checkpoint set; the model is the same on every rank, so a checkpoint
    /// from N ranks loads in one and vice versa. When <see cref="DistributedOptions.AbortOnFailure"/> is on, a failure on any
    /// rank, here or in <see cref="Fit"/>, is reported with its rank and ends the whole job.
    /// </summary>
    /// <exception cref="ArgumentNullException">An argument other than group is null.</exception>
    /// <exception cref="ArgumentException">An option is out of range for the data (the message names the <see cref="FitOptions"/> property).</exception>
    /// <exception cref="InvalidDatasetException">As for a plain run.</exception>
    /// <exception cref="InvalidOperationException">As for a plain run.</exception>
    /// <exception cref="CheckpointMismatchException">The resumed set does not match.</exception>
    /// <exception cref="CollectiveTimeoutException">Another rank did not join within <see cref="DistributedOptions.Timeout"/> (and AbortOnFailure is off).</exception>
    public TrainingRun(ModelGraph graph, Dataset train, Dataset test, IBackend backend, FitOptions options, ProcessGroup? group)
        : this(graph, train, test, backend, options, group, DiskCheckpointFileSystem.Instance) { }

    internal TrainingRun(ModelGraph graph, Dataset train, Dataset test, IBackend backend, FitOptions options, ICheckpointFileSystem fs)
        : this(graph, train, test, backend, options, null, fs) { }

    internal TrainingRun(ModelGraph graph, Dataset train, Dataset test, IBackend backend, FitOptions options, ProcessGroup? group, ICheckpointFileSystem fs)
    {
        _group = group is { Size: > 1 } ? group : null;
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        (_o, _fs) = (options, fs);
        try
        {
            options.Validate();
            if (options.ResumeFrom is { } resumeFrom && File.Exists(resumeFrom))
                throw new ArgumentException($"FitOptions.ResumeFrom '{resumeFrom}' is a file; expected the run's folder, e.g. FitOptions.ResumeFrom = {Path.GetDirectoryName(Path.GetFullPath(resumeFrom))}", nameof(options));
            // Before anything is built: a run that cannot succeed fails here, not after an epoch (empty sets, a test set
            // of another image size, labels beyond the model's outputs).
            DatasetChecks.EnsureNotEmpty(train, "training set");
            if (options.ValidationSamples >= train.Count)
                throw new ArgumentOutOfRangeException(nameof(options), $"FitOptions.ValidationSamples must be in [0, {train.Count - 1}] (the training set has {train.Count} samples), got {options.ValidationSamples}");
            Dataset? val = null;
            if (options.ValidationSamples > 0) (train, val) = train.Split(options.ValidationSamples, options.Seed);
            DatasetChecks.EnsureCompatible(train, val, test, classes: graph.OutputShape.Elements is var k and <= int.MaxValue ? (int)k : null);
            DatasetChecks.EnsureFitsModel(train, "training set", graph.Name, graph.InputShape);
            var aug = options.Augmentation;
            if ((long)options.OverfitBatches * options.BatchSize > train.Count)
                throw new ArgumentOutOfRangeException(nameof(options), $"FitOptions.OverfitBatches must be in [0, {train.Count / options.BatchSize}] at batch size {options.BatchSize}, got {options.OverfitBatches}");
            if (options.OverfitBatches > 0)
            {
                train = train.Subset(Enumerable.Range(0, options.OverfitBatches * options.BatchSize).ToArray(), $"{train.Name} (first {options.OverfitBatches} batches)");
                aug = null;
            }
            (Train, Validation, Test, Augmentation) = (train, val, test, aug);
            Normalization = Normalization.FromDataset(train);
            DatasetShard? shard = _group is { } g ? new DatasetShard(g.Rank, g.Size) : null;
            _trainLoader = Own(new DataLoader(train, options.BatchSize, shuffle: true, Normalization, aug, options.Seed, dropLast: true, shard: shard));
            _testLoader = Own(new DataLoader(test, options.EvalBatchSize, shuffle: false, Normalization, null, options.Seed, dropLast: false, shard: shard));
            _valLoader = val is null ? null : Own(new DataLoader(val, options.EvalBatchSize, shuffle: false, Normalization, null, options.Seed, dropLast: false, shard: shard));
            if (_trainLoader.BatchesPerEpoch == 0)
                throw new ArgumentOutOfRangeException(nameof(options), _group is null
                    ? $"FitOptions.BatchSize {options.BatchSize} is larger than the training set ({train.Count} samples)"
                    : $"FitOptions.BatchSize {options.BatchSize} is larger than one rank's shard ({_trainLoader.Samples} of {train.Count} samples over {_group.Size} ranks)");

            Model = Own(new Model(graph, backend, options.Seed, options.ParameterGroups));
            Optimizer = Own(OptimizerFactory.Create(options.Optimizer, Model.Parameters));
            Schedule = ScheduleFactory.Create(options.Schedule, options.Optimizer.LearningRate, _trainLoader.BatchesPerEpoch, options.Epochs);
            Trainer = Own(new Trainer(Model, Optimizer, Schedule, new CrossEntropyLoss(), options.BatchSize, options.EvalBatchSize, options.Layout, options.Seed,
                options.AccumulationSteps, options.Precision));
            var scaling = options.LossScaling ?? (options.Precision.ScalesLossByDefault() ? LossScalerOptions.Dynamic : null);
            Trainer.ConfigureLossScaling(scaling is { Enabled: true } ? scaling : null);   // throws for an optimizer that cannot skip steps
            Trainer.ClipGradNorm = options.ClipGradNorm;
            Trainer.SyncEvery = options.SyncEvery is > 0 and var n ? n : Trainer.DefaultSyncEvery;
            Trainer.StatisticsEvery = options.StatisticsEvery;
            Trainer.CumulativeBatchNorm = options.CumulativeBatchNorm;
            if (options.InitFrom is not null)
            {
                InitReport = ModelCheckpoint.LoadMatching(Model, options.InitFrom);
                if (NonFiniteTensor.Describe($"FitOptions.InitFrom '{options.InitFrom}'", InitReport.NonFinite) is { } bad)
                    _warnings.Add(bad + "; training from it gives a NaN loss");
            }

            string? outDir = options.OutputDirectory ?? options.ResumeFrom;
            if (options.ResumeFrom is not null)
            {
                var from = new CheckpointSet(options.ResumeFrom, fs);
                from.Recover();
                (StartEpoch, var rows) = from.Verify();
                TrainingState.Load(from.Folder, Model, Optimizer, Trainer);
                _warnings.AddRange(ResumeDifferences.Find(from.Folder, ModelCheckpoint.ReadMetadata(Path.Combine(from.Folder, TrainingState.StateFile)), options));
                if (StartEpoch >= options.Epochs)
                    throw new InvalidOperationException($"FitOptions.ResumeFrom '{options.ResumeFrom}': that run already completed {StartEpoch} epochs; ask for more with FitOptions.Epochs");
                _rows.AddRange(rows);
            }
            if (outDir is not null)
            {
                _out = new CheckpointSet(outDir, fs);
                bool same = options.ResumeFrom is not null && Path.GetFullPath(options.ResumeFrom) == _out.Folder;
                if (!same)
                {
                    if (File.Exists(_out.Folder)) throw new ArgumentException($"FitOptions.OutputDirectory '{outDir}' is a file, not a folder", nameof(options));
                    // Now, not after the first epoch: a folder that cannot be made (read-only, /proc) fails before training.
                    try { Directory.CreateDirectory(_out.Folder); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        throw new IOException($"cannot create the output folder '{outDir}' (FitOptions.OutputDirectory): {e.Message}", e);
                    }
                    _out.Recover();
                    if (_out.HasAny() && !options.Overwrite)
                        throw new InvalidOperationException($"FitOptions.OutputDirectory '{outDir}' already holds another run's checkpoint; set FitOptions.Overwrite to replace it, FitOptions.ResumeFrom to continue it, or choose another folder");
                }
            }
            if (_group is not null) Trainer.Distribute(_group);   // after any checkpoint was loaded: rank 0's state everywhere
        }
        catch (Exception e)
        {
            Dispose();
            // Bad input on one rank stops all of them: the others would wait in the broadcast.
            if (_group is { Options.AbortOnFailure: true }) AbortJob(e);
            throw;
        }
    }

    private readonly ProcessGroup? _group;

    /// <summary>Reports <paramref name="e"/> with this rank and ends every rank of the job (MPI_Abort).</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void AbortJob(Exception e) => _group!.Abort($"{e.GetType().Name}: {e.Message}");

    /// <summary>Whether this process writes the checkpoint set (a plain run, or rank 0).</summary>
    public bool WritesCheckpoints => _group is null || _group.IsMain;

    private T Own<T>(T d) where T : IDisposable { _owned.Add(d); return d; }

    /// <summary>The training set (after the validation split and <see cref="FitOptions.OverfitBatches"/>).</summary>
    public Dataset Train { get; }
    /// <summary>The validation set, or null.</summary>
    public Dataset? Validation { get; }
    /// <summary>The test set.</summary>
    public Dataset Test { get; }
    /// <summary>The training augmentation in effect (null: none).</summary>
    public AugmentationOptions? Augmentation { get; }
    /// <summary>The input normalisation, from the training set's statistics.</summary>
    public Normalization Normalization { get; }
    /// <summary>The model being trained.</summary>
    public Model Model { get; } = null!;
    /// <summary>The optimizer.</summary>
    public Optimizer Optimizer { get; } = null!;
    /// <summary>The learning-rate schedule.</summary>
    public LrSchedule Schedule { get; } = null!;
    /// <summary>The trainer (statistics reports, loss scaler, step counters).</summary>
    public Trainer Trainer { get; } = null!;
    /// <summary>The evaluator that reports test and validation figures.</summary>
    public Evaluator Evaluator => Trainer.Evaluator;
    /// <summary>Epochs completed before this run started (non-zero when resumed).</summary>
    public int StartEpoch { get; }
    /// <summary>What <see cref="FitOptions.InitFrom"/> loaded, or null.</summary>
    public LoadReport? InitReport { get; }
    /// <summary>
    /// What the run does that the caller may not intend, found while preparing it: an <see cref="FitOptions.InitFrom"/>
    /// checkpoint with NaN or infinite weights, a <see cref="FitOptions.ResumeFrom"/> with another seed or batch size than
    /// the resumed run's (it then no longer repeats the uninterrupted run). One sentence each; the run goes ahead.
    /// </summary>
    public IReadOnlyList<string> Warnings => _warnings;
    /// <summary>The folder the checkpoint set is written to, or null.</summary>
    public string? OutputDirectory => _out?.Folder;
    /// <summary>Steps per epoch.</summary>
    public int StepsPerEpoch => _trainLoader.BatchesPerEpoch;

    /// <summary>
    /// Trains from <see cref="StartEpoch"/> + 1 to <see cref="FitOptions.Epochs"/> (or until early stopping), evaluating
    /// and committing a checkpoint set after every epoch; reports every step and every epoch to <paramref name="progress"/>
    /// (synchronously, on the training thread).
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was signalled: the run stopped at a step boundary, and the output folder holds the last completed epoch's set.</exception>
    /// <exception cref="NonFiniteLossException">The loss became NaN or infinite without a loss scaler.</exception>
    /// <exception cref="IOException">A checkpoint could not be saved; the message says why, and the previous set is kept.</exception>
    public FitResult Fit(IProgress<TrainingProgress>? progress = null, CancellationToken cancel = default)
    {
        if (_group is null || !_group.Options.AbortOnFailure) return FitRanks(progress, cancel);
        // A cancelled run is not a failure: every rank got the signal (mpirun forwards it) and stops at a step boundary.
        try { return FitRanks(progress, cancel); }
        catch (Exception e) when (e is not OperationCanceledException) { AbortJob(e); throw; }
    }

    private FitResult FitRanks(IProgress<TrainingProgress>? progress, CancellationToken cancel)
    {
        var wall = Stopwatch.StartNew();
        if (_out is not null && WritesCheckpoints) Directory.CreateDirectory(_out.Folder);
        double best = 0, bestVal = double.PositiveInfinity;
        int sinceBest = 0, epochsRun = 0, epochs = _o.Epochs;
        bool stopped = false;
        EpochMetrics? last = null;
        for (int epoch = StartEpoch + 1; epoch <= epochs; epoch++)
        {
            var r = Trainer.TrainEpoch(_trainLoader, epoch - 1,
                progress is null ? null : s => progress.Report(new TrainingProgress(TrainingPhase.Step, epoch, epochs, Trainer.GlobalStep) { Step = s }), cancel);
            var evalStart = Stopwatch.StartNew();
            if (_o.PreciseBatchNormBatches > 0) Trainer.RecomputeBatchNormStatistics(_trainLoader, _o.PreciseBatchNormBatches, epoch - 1);
            Trainer.Parallel?.AverageBuffers();   // every rank evaluates and saves the same running statistics
            if (Trainer.Parallel is { } dp) r = SumTrainFigures(dp, r);
            var (testLoss, testAcc) = Evaluate(_testLoader);
            var (valLoss, valAcc) = _valLoader is null ? (double.NaN, double.NaN) : Evaluate(_valLoader);
            double seconds = r.Seconds + evalStart.Elapsed.TotalSeconds;
            float lr = Optimizer.LearningRate;
            last = new EpochMetrics(epoch, r.Loss, r.Accuracy, testLoss, testAcc, lr, seconds, r.Images / r.Seconds)
            {
                SkippedSteps = Trainer.LastEpochSkippedSteps, LossScale = Trainer.Scaler?.Read().Scale,
                ValidationLoss = _valLoader is null ? null : valLoss, ValidationAccuracy = _valLoader is null ? null : valAcc,
                Penalty = Optimizer.Penalty?.Value(Model.Parameters),
            };
            best = Math.Max(best, testAcc);
            _rows.Add(MetricsRow(last, lr));
            Commit(epoch, testAcc);
            epochsRun = epoch - StartEpoch;
            progress?.Report(new TrainingProgress(TrainingPhase.Epoch, epoch, epochs, Trainer.GlobalStep)
            {
                Metrics = last, MetricsPath = _out is null || !WritesCheckpoints ? null : Path.Combine(_out.Folder, CheckpointSet.MetricsFile),
            });
            // Early stopping on the validation loss: patience counts epochs without a new minimum.
            if (_valLoader is not null)
            {
                if (valLoss < bestVal) { bestVal = valLoss; sinceBest = 0; }
                else if (_o.EarlyStoppingPatience > 0 && ++sinceBest >= _o.EarlyStoppingPatience) { stopped = true; break; }
            }
        }
        return new FitResult(epochsRun, last, best, stopped, bestVal, wall.Elapsed.TotalSeconds);
    }

    /// <summary>Evaluation over this rank's shard, the sums added over ranks before dividing (exact counts).</summary>
    private (double Loss, double Accuracy) Evaluate(DataLoader loader)
    {
        if (Trainer.Parallel is not { } dp) return Evaluator.Evaluate(loader);
        var (lossSum, correct, images) = Evaluator.Sums(loader);
        Span<double> sums = [lossSum, correct, images];
        dp.Sum(sums);
        return (sums[2] > 0 ? sums[0] / sums[2] : double.NaN, sums[2] > 0 ? sums[1] / sums[2] : double.NaN);
    }

    /// <summary>The epoch's training loss and accuracy over every rank's images (this rank's seconds).</summary>
    private static (double Loss, double Accuracy, long Images, double Seconds) SumTrainFigures(Distributed.DataParallel dp, (double Loss, double Accuracy, long Images, double Seconds) r)
    {
        Span<double> sums = [double.IsNaN(r.Loss) ? 0 : r.Loss * r.Images, double.IsNaN(r.Accuracy) ? 0 : r.Accuracy * r.Images, r.Images];
        dp.Sum(sums);
        return (sums[2] > 0 ? sums[0] / sums[2] : double.NaN, sums[2] > 0 ? sums[1] / sums[2] : double.NaN, (long)sums[2], r.Seconds);
    }

    /// <summary><see cref="Fit"/> on a thread-pool thread.</summary>
    /// <exception cref="OperationCanceledException">See <see cref="Fit"/>.</exception>
    public Task<FitResult> FitAsync(IProgress<TrainingProgress>? progress = null, CancellationToken cancel = default)
        => Task.Run(() => Fit(progress, cancel), cancel);

    /// <summary>One metrics.jsonl row; the learning rate as the float the optimizer used, so it prints as that float.</summary>
    private static string MetricsRow(EpochMetrics m, float lr)
    {
        var row = new Dictionary<string, object>
        {
            ["epoch"] = m.Epoch, ["train_loss"] = m.TrainLoss, ["train_acc"] = m.TrainAcc, ["test_loss"] = m.TestLoss, ["test_acc"] = m.TestAcc,
            ["lr"] = lr, ["seconds"] = m.Seconds, ["images_per_sec"] = m.ImagesPerSec,
        };
        if (m.ValidationLoss is { } vl) { row["val_loss"] = vl; row["val_acc"] = m.ValidationAccuracy!.Value; }
        if (m.Penalty is { } penalty) row["penalty"] = penalty;   // not in train_loss: see WeightPenalty
        if (m.LossScale is { } scale) { row["loss_scale"] = scale; row["skipped_steps"] = m.SkippedSteps; }
        return JsonSerializer.Serialize(row);
    }

    /// <summary>Commits the model, the training state and the metrics rows up to <paramref name="epoch"/> as one set.</summary>
    private void Commit(int epoch, double testAcc)
    {
        if (_out is null || !WritesCheckpoints) return;
        var meta = new Dictionary<string, string>(_o.Metadata ?? new Dictionary<string, string>())
        {
            ["epoch"] = epoch.ToString(CultureInfo.InvariantCulture),
            ["test_acc"] = testAcc.ToString("F4", CultureInfo.InvariantCulture), [ResumeDifferences.SeedKey] = _o.Seed.ToString(CultureInfo.InvariantCulture),
            [ResumeDifferences.BatchSizeKey] = _o.BatchSize.ToString(CultureInfo.InvariantCulture),
        };
        // The model file describes itself (CheckpointInfo): whoever loads it needs the normalisation, not the training set.
        var description = new CheckpointDescription(Normalization, Train.ClassNames, _o.Layout, _o.Precision);
        var (m, s) = TrainingState.Contents(Model, Optimizer, Trainer, epoch, meta, description, _staging);
        _out.Commit(epoch,
        [
            (TrainingState.ModelFile, Safetensors.Writer(m.Arrays, m.Metadata)),
            (TrainingState.StateFile, Safetensors.Writer(s.Arrays, s.Metadata)),
            (CheckpointSet.MetricsFile, CheckpointSet.MetricsWriter(_rows.ToArray())),
        ]);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        _owned.Clear();
    }
}
