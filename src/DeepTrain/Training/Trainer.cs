using System.Diagnostics;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Optim;
using DeepTrain.Tensors;

namespace DeepTrain.Training;

/// <summary>
/// The training loop: for each batch, copy it to the plan's input, forward, loss, backward, one optimizer
/// step with the schedule's learning rate; then evaluate with a separate evaluation plan (batch norm on
/// running statistics) that shares the parameters. Solver stages are named methods, as in Caffe.
/// </summary>
public sealed partial class Trainer : IDisposable
{
    private readonly Model _model;
    private readonly Optimizer _optimizer;
    private readonly LrSchedule _schedule;
    private readonly Loss _loss;
    private readonly Plan _train;
    private readonly Evaluator _evaluator;
    private readonly CutMixStep _cutMix;
    private readonly int _accumulation;
    private StepWindow? _window;         // the steps' figures between host syncs, made at the first epoch
    private readonly BatchNorm[] _norms;

    /// <summary>
    /// Compiles the training plan. With <paramref name="accumulationSteps"/> k &gt; 1 (Caffe's iter_size) each
    /// batch of <paramref name="batchSize"/> runs as k micro-batches of batchSize/k whose gradients are summed,
    /// each scaled by 1/k, before one optimizer step: the same update as one large batch for a model without
    /// batch norm, in 1/k of the activation memory. Batch norm then normalises over each micro-batch and
    /// updates its running statistics k times per step, as in Caffe.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">k is below 1 or does not divide the batch size (the message gives the valid values).</exception>
    /// <remarks>
    /// At a 16-bit <paramref name="precision"/> the plans store activations in 16 bits over fp32 master weights; with
    /// fp16 a dynamic <see cref="Scaler"/> is on by default for SGD, Adam and AdamW (<see cref="ConfigureLossScaling"/> changes it).
    /// </remarks>
    /// <exception cref="NotSupportedException">The backend cannot run <paramref name="precision"/>.</exception>
    public Trainer(Model model, Optimizer optimizer, LrSchedule schedule, Loss loss, int batchSize, int? evalBatchSize = null, Layout layout = Layout.NCHW,
        ulong seed = 0, int accumulationSteps = 1, Precision precision = Precision.Float32)
    {
        Precision = precision;
        if (accumulationSteps < 1 || batchSize % accumulationSteps != 0)
            throw new ArgumentOutOfRangeException(nameof(accumulationSteps), accumulationSteps,
                $"gradient accumulation must divide the batch size {batchSize}: one of {string.Join(", ", Enumerable.Range(1, batchSize).Where(d => batchSize % d == 0))}");
        (_model, _optimizer, _schedule, _loss, _accumulation) = (model, optimizer, schedule, loss, accumulationSteps);
        _train = model.Compile(batchSize / accumulationSteps, training: true, loss, layout, precision);
        _norms = model.Graph.Nodes.Select(n => n.Layer).OfType<BatchNorm>().ToArray();
        _train.State.Seed = seed;
        Layout = layout;
        _evaluator = new Evaluator(model, loss, evalBatchSize ?? batchSize, layout, precision);
        _cutMix = new CutMixStep(model, loss);
        // fp16's default; an optimizer that cannot skip steps gets none unless ConfigureLossScaling asks (and fails clearly).
        if (precision.ScalesLossByDefault() && optimizer.HonoursLossScaler) ConfigureLossScaling(LossScalerOptions.Dynamic);
    }

    /// <summary>The precision of the plans.</summary>
    public Precision Precision { get; }

    /// <summary>The loss scaler (on by default at fp16, off otherwise), or null.</summary>
    public LossScaler? Scaler { get; private set; }

    /// <summary>Clipping by global norm after the unscale (null: none); see <see cref="ClipGradNorm"/>.</summary>
    public GradientClipper? Clipper { get; private set; }

    /// <summary>Steps skipped by the loss scaler in the last <see cref="TrainEpoch"/>.</summary>
    public long LastEpochSkippedSteps { get; private set; }

    /// <summary>
    /// Replaces the loss scaler: <paramref name="options"/> null or disabled turns scaling off. Call before training or
    /// before <see cref="TrainingState.Load"/>: the new scaler starts from its initial scale.
    /// </summary>
    /// <exception cref="NotSupportedException">The optimizer cannot skip a step on the device.</exception>
    public void ConfigureLossScaling(LossScalerOptions? options)
    {
        var scaler = options is { Enabled: true } ? new LossScaler(_model.Backend, options) : null;
        try { _optimizer.Scaler = scaler; }
        catch { scaler?.Dispose(); throw; }
        Scaler?.Dispose();
        Scaler = scaler;
    }

    /// <summary>The global-norm clipping threshold (torch.nn.utils.clip_grad_norm_), or null for none.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not finite and positive.</exception>
    public float? ClipGradNorm
    {
        get => Clipper?.MaxNorm;
        set
        {
            var clipper = value is float m ? new GradientClipper(_model.Backend, m) : null;
            Clipper?.Dispose();
            Clipper = clipper;
        }
    }

    /// <summary>Layout of the plans.</summary>
    public Layout Layout { get; }
    /// <summary>The training plan.</summary>
    public Plan TrainPlan => _train;
    /// <summary>Every this many steps (0: never), per-layer activation and gradient statistics go to <see cref="StatisticsReport"/>.</summary>
    public int StatisticsEvery { get; set; }
    /// <summary>Receives (step, formatted statistics) when <see cref="StatisticsEvery"/> is set.</summary>
    public Action<long, string>? StatisticsReport { get; set; }

    /// <summary>
    /// Batch-norm running statistics as a cumulative average over every training batch so far (PyTorch's
    /// BatchNorm momentum=None): before the t-th training forward (t from 1, counted by the plan's
    /// iteration, so it survives a resume) every batch norm's momentum is set to 1/t, making running_mean and
    /// running_var the plain average of all batch statistics seen. False (the default) keeps each layer's
    /// exponential momentum (0.1). With accumulation each micro-batch counts as one batch.
    /// </summary>
    public bool CumulativeBatchNorm { get; set; }

    /// <summary>Optimizer steps taken (the schedule's step index).</summary>
    public long GlobalStep { get; set; }

    /// <summary>
    /// Host synchronisations of <see cref="TrainEpoch"/>: the loss and correct count of every step stay on the
    /// device and reach the host only at a sync point, which is the first and the last step of every epoch and
    /// every step whose 1-based global number (<see cref="GlobalStep"/> after it) is a multiple of SyncEvery; 0
    /// leaves only the first and last. The default, 20, costs one synchronisation per 20 steps and keeps a
    /// progress display at most 19 steps behind; a logger printing every N steps sets N (the CLI sets
    /// <c>--log-every</c>). 1 reads every step, which also stops a run without a loss scaler at the very step whose
    /// loss became non-finite, before its update (<c>--detect-anomaly</c>); with a larger value the steps up to the
    /// next sync point run first. The figures, and so the results, do not depend on it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int SyncEvery
    {
        get => _syncEvery;
        set { ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(SyncEvery)); _syncEvery = value; }
    }
    private int _syncEvery = DefaultSyncEvery;

    /// <summary>The default of <see cref="SyncEvery"/>: 20 steps.</summary>
    public const int DefaultSyncEvery = 20;

    /// <summary>
    /// Trains one epoch over <paramref name="loader"/>; returns (mean loss, accuracy, images, seconds). A step is:
    /// forward, loss (its gradient times the loss scale), backward, unscale (raising the found-inf flag), clip, the
    /// optimizer step (a no-op when the flag is set), the scale update. Under a loss scaler a non-finite loss is the
    /// scaler's business: the step is skipped, counted in <see cref="LastEpochSkippedSteps"/>, and left out of the
    /// mean loss. Without one, it is an error.
    /// </summary>
    /// <remarks>
    /// No step waits for the host: after each micro-step the loss and correct count are copied on the device into a
    /// window on the device (8 bytes a micro-step) that one transfer brings back at each sync point (<see cref="SyncEvery"/>).
    /// The sums are taken there, in step order, so the mean loss and accuracy equal those of reading every step.
    /// Without a loss scaler the sync point comes before the step's optimizer update, so that a non-finite loss of
    /// the current step is caught before it reaches the weights; with one it comes after the scale update, so that
    /// the scaler's state read there counts the step.
    /// </remarks>
    /// <exception cref="NonFiniteLossException">
    /// The loss became NaN or infinite and no loss scaler is on. It is found at the next sync point: the message names
    /// the first bad batch and the batches run since the last sync, whose updates (from the bad batch on) may have
    /// made the weights non-finite; <see cref="SyncEvery"/> = 1 stops at the bad batch before its update.
    /// </exception>
    /// <exception cref="OperationCanceledException">
    /// <paramref name="cancel"/> was set (checked before every step); in a distributed trainer, any rank's was: every rank
    /// then stops before the same step.
    /// </exception>
    public (double Loss, double Accuracy, long Images, double Seconds) TrainEpoch(DataLoader loader, int epoch, Action<StepProgress>? progress = null, CancellationToken cancel = default)
    {
        var sw = Stopwatch.StartNew();
        var totals = new EpochTotals { LastLoss = double.NaN, LastAccuracy = double.NaN, WindowLoss = double.NaN, WindowAccuracy = double.NaN };
        long images = 0, attempted = 0, skipped = 0;
        int batches = loader.BatchesPerEpoch, b = 0;
        var window = Window(batches);
        window.Begin(Scaler?.State);
        foreach (var batch in loader.Epoch(epoch))
        {
            StopIfAnyRankCancelled(cancel);
            float lr = _schedule.LearningRate(GlobalStep);
            _optimizer.LearningRate = lr;
            if (_schedule.Momentum(GlobalStep) is float m) _optimizer.Momentum = m;
            for (int k = 0; k < _accumulation; k++)
            {
                PlanInput.Load(_model.Backend, _loss, _train, batch, k * _train.BatchSize);
                if (CumulativeBatchNorm) foreach (var bn in _norms) bn.Momentum = 1.0 / (_train.State.Iteration + 1);
                _train.State.AccumulateParamGrads = k > 0;
                ArmGradientBuckets(k == _accumulation - 1);
                if (batch.IsMixed) _cutMix.Run(_train, batch, k * _train.BatchSize, 1f / _accumulation, Scaler?.State);
                else _train.TrainStep(1f / _accumulation, Scaler?.State);
                window.RecordMicroStep();
            }
            _train.State.AccumulateParamGrads = false;
            window.EndStep(b, batch.Count, lr);
            bool sync = b == 0 || b == batches - 1 || window.Full || (_syncEvery > 0 && (GlobalStep + 1) % _syncEvery == 0);
            // Without a scaler, before the update: a non-finite loss of this step has not reached the weights yet.
            if (sync && Scaler is null) Synchronize(window, ref totals, epoch, batch);
            if (StatisticsEvery > 0 && GlobalStep % StatisticsEvery == 0)
                StatisticsReport?.Invoke(GlobalStep, LayerStatistics.Format(LayerStatistics.Activations(_train), LayerStatistics.Gradients(_model, lr)));
            ApplyGradients();
            attempted++;
            // With a scaler, after the update: the state read with the window counts this step as taken or skipped.
            if (sync && Scaler is not null)
            {
                Synchronize(window, ref totals, epoch, batch);
                skipped = attempted - (window.NowState.StepCount - window.StartState.StepCount);
            }
            images += batch.Count;
            b++;
            progress?.Invoke(new StepProgress(epoch, b, batches, images, sw.Elapsed.TotalSeconds, totals.LastLoss, lr, totals.LastAccuracy)
            {
                LossBatch = totals.LastBatch, WindowLoss = totals.WindowLoss, WindowAccuracy = totals.WindowAccuracy, SkippedSteps = skipped,
            });
        }
        if (window.Pending > 0)
        {
            // The loader gave more batches than it announced: the last ones have not been read yet.
            Synchronize(window, ref totals, epoch, null);
            if (Scaler is not null) skipped = attempted - (window.NowState.StepCount - window.StartState.StepCount);
        }
        LastEpochSkippedSteps = skipped;
        return (totals.LossImages > 0 ? totals.LossSum / totals.LossImages : double.NaN, images > 0 ? totals.Correct / images : double.NaN, images, sw.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// One optimizer step on the batch already in <see cref="TrainPlan"/>'s input and target, as a benchmark times it:
    /// <see cref="TrainEpoch"/>'s step (forward, loss times the loss scale, backward, unscale, clip, the optimizer step,
    /// the scale update; with accumulation k, k micro-batches over the plan's one batch) without the data copy, the
    /// schedule or the loss read-back, so nothing waits for the device. The learning rate is the optimizer's own.
    /// </summary>
    public void StepLoadedBatch()
    {
        for (int k = 0; k < _accumulation; k++)
        {
            _train.State.AccumulateParamGrads = k > 0;
            ArmGradientBuckets(k == _accumulation - 1);
            _train.TrainStep(1f / _accumulation, Scaler?.State);
        }
        _train.State.AccumulateParamGrads = false;
        ApplyGradients();
    }

    /// <summary>The end of every step: unscale (raising the found-inf flag), clip, the optimizer step (a no-op when the flag is set), the scale update.</summary>
    private void ApplyGradients()
    {
        if (_parallel is not null)
        {
            _train.AfterBackwardStep = null;
            _parallel.Buckets.Finish();   // the averaged gradients, before anything reads them
        }
        Scaler?.Unscale(_model.Parameters);
        if (_parallel is not null && Scaler is not null) _parallel.CombineFoundInf(Scaler.State);
        Clipper?.Clip(_model.Parameters);
        _optimizer.Step();
        Scaler?.Update();
        GlobalStep++;
    }

    /// <summary>
    /// "Precise" batch-norm statistics for evaluation: recomputes every batch norm's running mean and variance as the
    /// plain average of the batch statistics over <paramref name="batches"/> training batches of <paramref name="loader"/>'s
    /// epoch <paramref name="epoch"/>, with the current weights. Weights, optimizer state and the step counters are left as they are.
    /// </summary>
    /// <returns>The number of batches used.</returns>
    /// <exception cref="ArgumentOutOfRangeException">batches is below 1.</exception>
    public int RecomputeBatchNormStatistics(DataLoader loader, int batches, int epoch = 0)
        => PreciseBatchNorm.Recompute(_model.Backend, _loss, _train, _norms, _accumulation, loader, batches, epoch);

    /// <summary>The evaluator of this trainer's model (evaluation batch, layout and precision as given to the constructor).</summary>
    public Evaluator Evaluator => _evaluator;

    /// <summary>Mean loss and accuracy over every sample of <paramref name="loader"/>: <see cref="Evaluator.Evaluate"/>.</summary>
    public (double Loss, double Accuracy) Evaluate(DataLoader loader, ClassificationReport? report = null) => _evaluator.Evaluate(loader, report);

    /// <summary>Evaluation with test-time augmentation: <see cref="Evaluator.EvaluateWithTta"/>.</summary>
    /// <exception cref="ArgumentNullException">loader or tta is null.</exception>
    public TtaMetrics EvaluateWithTta(DataLoader loader, TestTimeAugmentation tta, ClassificationReport? report = null) => _evaluator.EvaluateWithTta(loader, tta, report);

    /// <summary>The evaluation plan for a batch of <paramref name="count"/>: <see cref="Evaluator.PlanFor"/>.</summary>
    public Plan EvalPlan(int count) => _evaluator.PlanFor(count);

    /// <inheritdoc />
    public void Dispose()
    {
        _parallel?.Dispose();
        _evaluator.Dispose();
        _cutMix.Dispose();
        _window?.Dispose();
        _train.Dispose();
        if (ReferenceEquals(_optimizer.Scaler, Scaler)) _optimizer.Scaler = null;
        Scaler?.Dispose();
        Clipper?.Dispose();
    }
}
