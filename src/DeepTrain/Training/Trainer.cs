using System.Diagnostics;
using DeepTrain.Data;
using DeepTrain.Graph;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Optim;
using DeepTrain.Tensors;

namespace DeepTrain.Training;

/// <summary>One epoch's figures, as written to metrics.jsonl.</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAcc, double TestLoss, double TestAcc, double Lr, double Seconds, double ImagesPerSec)
{
    /// <summary>Steps the loss scaler skipped this epoch because a gradient was NaN or ±∞ (0 without a scaler).</summary>
    public long SkippedSteps { get; init; }
    /// <summary>The loss scale at the end of the epoch, or null without a scaler.</summary>
    public double? LossScale { get; init; }
}

/// <summary>
/// Evaluation with test-time augmentation: loss and accuracy of the mean softmax over <paramref name="Views"/>
/// views, and of the plain image alone from the same pass.
/// </summary>
public sealed record TtaMetrics(double Loss, double Accuracy, double PlainLoss, double PlainAccuracy, int Views);

/// <summary>Progress within an epoch, reported after every step: <see cref="Loss"/> and <see cref="Accuracy"/> are this step's batch's (NaN accuracy for a loss that counts none).</summary>
public readonly record struct StepProgress(int Epoch, int Batch, int Batches, long Images, double Seconds, double Loss, double Lr, double Accuracy = double.NaN);

/// <summary>
/// The training loop: for each batch, copy it to the plan's input, forward, loss, backward, one optimizer
/// step with the schedule's learning rate; then evaluate with a separate evaluation plan (batch norm on
/// running statistics) that shares the parameters. Solver stages are named methods, as in Caffe.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly Model _model;
    private readonly Optimizer _optimizer;
    private readonly LrSchedule _schedule;
    private readonly Loss _loss;
    private readonly Plan _train;
    private readonly Dictionary<int, Plan> _eval = [];
    private readonly float[] _scalar = new float[1];
    private readonly int _evalBatch, _accumulation;
    private MixedCrossEntropy? _mixed;   // CutMix's loss, made at the first mixed batch
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
        _evalBatch = evalBatchSize ?? batchSize;
        Layout = layout;
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
    /// Trains one epoch over <paramref name="loader"/>; returns (mean loss, accuracy, images, seconds). A step is:
    /// forward, loss (its gradient times the loss scale), backward, unscale (raising the found-inf flag), clip, the
    /// optimizer step (a no-op when the flag is set), the scale update. Under a loss scaler a non-finite loss is the
    /// scaler's business: the step is skipped, counted in <see cref="LastEpochSkippedSteps"/>, and left out of the
    /// mean loss. Without one, it is an error.
    /// </summary>
    /// <exception cref="NonFiniteLossException">The loss became NaN or infinite and no loss scaler is on.</exception>
    public (double Loss, double Accuracy, long Images, double Seconds) TrainEpoch(DataLoader loader, int epoch, Action<StepProgress>? progress = null, CancellationToken cancel = default)
    {
        var backend = _model.Backend;
        var sw = Stopwatch.StartNew();
        double lossSum = 0, correct = 0;
        long images = 0, lossImages = 0, attempted = 0;
        long takenBefore = Scaler?.Read().StepCount ?? 0;
        int batches = loader.BatchesPerEpoch, b = 0;
        foreach (var batch in loader.Epoch(epoch))
        {
            cancel.ThrowIfCancellationRequested();
            float lr = _schedule.LearningRate(GlobalStep);
            _optimizer.LearningRate = lr;
            if (_schedule.Momentum(GlobalStep) is float m) _optimizer.Momentum = m;
            double loss = 0, batchCorrect = 0;
            for (int k = 0; k < _accumulation; k++)
            {
                LoadBatch(_train, batch, k * _train.BatchSize);
                if (CumulativeBatchNorm) foreach (var bn in _norms) bn.Momentum = 1.0 / (_train.State.Iteration + 1);
                _train.State.AccumulateParamGrads = k > 0;
                if (batch.IsMixed) MixedTrainStep(batch, k * _train.BatchSize, 1f / _accumulation);
                else _train.TrainStep(1f / _accumulation, Scaler?.State);
                double micro = Read(_train.LossValue);
                // A non-finite loss makes non-finite gradients, so the scaler's unscale flags the step and it is skipped.
                if (!double.IsFinite(micro) && Scaler is null)
                    throw new NonFiniteLossException($"epoch {epoch}, batch {b}: the loss is {micro} (learning rate {lr:G4}); {FirstNonFiniteLayer()}; lower the learning rate or check the data");
                loss += micro / _accumulation;
                if (_loss.CountsCorrect) batchCorrect += Read(_train.Correct);
            }
            correct += batchCorrect;
            _train.State.AccumulateParamGrads = false;
            if (StatisticsEvery > 0 && GlobalStep % StatisticsEvery == 0)
                StatisticsReport?.Invoke(GlobalStep, LayerStatistics.Format(LayerStatistics.Activations(_train), LayerStatistics.Gradients(_model, lr)));
            ApplyGradients();
            attempted++;
            if (double.IsFinite(loss)) { lossSum += loss * batch.Count; lossImages += batch.Count; }
            images += batch.Count;
            b++;
            progress?.Invoke(new StepProgress(epoch, b, batches, images, sw.Elapsed.TotalSeconds, loss, lr, _loss.CountsCorrect ? batchCorrect / batch.Count : double.NaN));
        }
        LastEpochSkippedSteps = Scaler is null ? 0 : attempted - (Scaler.Read().StepCount - takenBefore);
        return (lossImages > 0 ? lossSum / lossImages : double.NaN, images > 0 ? correct / images : double.NaN, images, sw.Elapsed.TotalSeconds);
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
            _train.TrainStep(1f / _accumulation, Scaler?.State);
        }
        _train.State.AccumulateParamGrads = false;
        ApplyGradients();
    }

    /// <summary>The end of every step: unscale (raising the found-inf flag), clip, the optimizer step (a no-op when the flag is set), the scale update.</summary>
    private void ApplyGradients()
    {
        Scaler?.Unscale(_model.Parameters);
        Clipper?.Clip(_model.Parameters);
        _optimizer.Step();
        Scaler?.Update();
        GlobalStep++;
    }

    /// <summary>
    /// "Precise" batch-norm statistics for evaluation: recomputes every batch norm's running mean and
    /// variance as the plain average of the batch statistics over <paramref name="batches"/> training
    /// batches (momentum 1/(1+n) for the n-th batch, the cumulative mode), with the current weights. All
    /// layers are updated in one forward pass per batch: in training mode each layer normalises with its
    /// batch's statistics, so a layer's inputs do not depend on the running statistics being recomputed
    /// upstream. Weights, optimizer state and the step counters are left as they are.
    /// </summary>
    /// <returns>The number of batches used.</returns>
    public int RecomputeBatchNormStatistics(DataLoader loader, int batches, int epoch = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        var norms = _norms;
        if (norms.Length == 0) return 0;
        var momenta = norms.Select(b => b.Momentum).ToArray();
        long iteration = _train.State.Iteration;
        int n = 0;
        try
        {
            foreach (var batch in loader.Epoch(epoch))
            {
                for (int k = 0; k < _accumulation && n < batches; k++)
                {
                    LoadBatch(_train, batch, k * _train.BatchSize);
                    foreach (var bn in norms) bn.Momentum = 1.0 / (n + 1);
                    _train.Forward();
                    n++;
                }
                if (n >= batches) break;
            }
        }
        finally
        {
            for (int i = 0; i < norms.Length; i++) norms[i].Momentum = momenta[i];
            _train.State.Iteration = iteration;
        }
        return n;
    }

    /// <summary>Re-runs the batch in the plan's input layer by layer to name the first layer whose output is not finite.</summary>
    private string FirstNonFiniteLayer()
    {
        try { _train.ForwardChecked(); return "every layer's output is finite, so the loss itself overflowed"; }
        catch (NonFiniteException e) { return e.Message; }
    }

    /// <summary>Mean loss and accuracy over every sample of <paramref name="loader"/> (batch norm in evaluation mode).</summary>
    /// <param name="loader">The evaluation data.</param>
    /// <param name="report">When given, every prediction is added to it (confusion matrix, precision, recall, ROC AUC).</param>
    public (double Loss, double Accuracy) Evaluate(DataLoader loader, ClassificationReport? report = null)
    {
        double lossSum = 0, correct = 0;
        long images = 0;
        float[]? logits = null;
        foreach (var batch in loader.Epoch(0))
        {
            // A loader batch larger than the evaluation batch runs as several plans' worth of rows.
            for (int first = 0; first < batch.Count;)
            {
                var plan = EvalPlan(batch.Count - first);
                int n = plan.BatchSize;
                LoadBatch(plan, batch, first);
                plan.Forward();
                plan.ComputeLoss();
                if (report is not null)
                {
                    if (logits is null || logits.Length != plan.Output.Elements) logits = new float[plan.Output.Elements];
                    _model.Backend.CopyToHost<float>(plan.Output, logits);
                    int k = plan.Output.Shape.C;
                    for (int i = 0; i < n; i++) report.Add(logits.AsSpan(i * k, k), batch.Labels[first + i]);
                }
                lossSum += Read(plan.LossValue) * n;
                if (_loss.CountsCorrect) correct += Read(plan.Correct);
                images += n;
                first += n;
            }
        }
        return (images > 0 ? lossSum / images : double.NaN, images > 0 ? correct / images : double.NaN);
    }

    /// <summary>
    /// One training step on a CutMix batch (<see cref="Batch.IsMixed"/>): forward, the mixed-label loss
    /// λ·CE(z, y_a) + (1 − λ)·CE(z, y_b) and its gradient (<see cref="MixedCrossEntropy"/>), backward. The
    /// plan's input and y_a were loaded by <see cref="LoadBatch"/>; y_b goes to the loss's own tensor.
    /// Accuracy counts against y_a.
    /// </summary>
    /// <exception cref="NotSupportedException">The loss is not cross-entropy.</exception>
    private void MixedTrainStep(Batch batch, int first, float scale)
    {
        if (_loss is not CrossEntropyLoss)
            throw new NotSupportedException($"CutMix mixes the labels of CrossEntropyLoss; the loss {_loss.Name} cannot train on mixed batches");
        var plan = _train;
        _mixed ??= new MixedCrossEntropy(_model.Backend, plan.BatchSize, plan.Output.Shape[1]);
        _model.Backend.CopyFromHost<int>(batch.LabelsB.AsSpan(first, plan.BatchSize), _mixed.LabelsB);
        plan.Forward();
        _mixed.Compute(plan.Output, plan.Target, batch.Lambda, plan.LossValue, plan.OutputGrad, plan.Correct, scale);
        plan.BackwardFromLoss(Scaler?.State);
    }

    /// <summary>
    /// Evaluation with test-time augmentation (<see cref="TestTimeAugmentation"/>): every image is evaluated in
    /// each view, the softmax probabilities (computed on the host, in double, from the logits copied back)
    /// are averaged, and the prediction is their argmax; the loss is −ln of the mean probability of the
    /// label. The same pass reports the plain figures of the first view (the image itself), so the two can be
    /// compared. Batch norm runs in evaluation mode. <paramref name="loader"/> should not augment.
    /// </summary>
    /// <param name="loader">The evaluation data (normalised, not augmented).</param>
    /// <param name="tta">The views.</param>
    /// <param name="report">When given, every TTA prediction is added to it as the logits ln p (same argmax and ROC order as p).</param>
    /// <exception cref="ArgumentNullException">loader or tta is null.</exception>
    public TtaMetrics EvaluateWithTta(DataLoader loader, TestTimeAugmentation tta, ClassificationReport? report = null)
    {
        ArgumentNullException.ThrowIfNull(loader);
        ArgumentNullException.ThrowIfNull(tta);
        var backend = _model.Backend;
        var ds = loader.Dataset;
        int s = ds.SampleSize, views = tta.Views;
        var view = new float[Math.Min(loader.BatchSize, _evalBatch) * s];
        float[] logits = [], logp = [];
        double[] probs = [];
        double lossTta = 0, lossPlain = 0;
        long correctTta = 0, correctPlain = 0, images = 0;
        foreach (var batch in loader.Epoch(0))
            for (int first = 0; first < batch.Count;)
            {
                var plan = EvalPlan(batch.Count - first);
                int n = plan.BatchSize, k = plan.Output.Shape[1];
                if (logits.Length != n * k) { logits = new float[n * k]; probs = new double[n * k]; logp = new float[k]; }
                Array.Clear(probs);
                for (int v = 0; v < views; v++)
                {
                    tta.WriteView(v, batch.Images.AsSpan(first * s, n * s), view, n, ds.Channels, ds.Height, ds.Width, loader.Normalization);
                    backend.CopyFromHost<float>(view.AsSpan(0, n * s), plan.Input);
                    plan.Forward();
                    backend.CopyToHost<float>(plan.Output, logits);
                    for (int i = 0; i < n; i++)
                    {
                        var z = logits.AsSpan(i * k, k);
                        var p = probs.AsSpan(i * k, k);
                        double max = double.NegativeInfinity, sum = 0;
                        foreach (float x in z) max = Math.Max(max, x);
                        foreach (float x in z) sum += Math.Exp(x - max);
                        for (int j = 0; j < k; j++) p[j] += Math.Exp(z[j] - max) / sum;
                        if (v == 0)
                        {
                            int label = batch.Labels[first + i];
                            lossPlain += -(z[label] - max - Math.Log(sum));
                            if (ArgMax(z) == label) correctPlain++;
                        }
                    }
                }
                for (int i = 0; i < n; i++)
                {
                    var p = probs.AsSpan(i * k, k);
                    int label = batch.Labels[first + i];
                    for (int j = 0; j < k; j++) logp[j] = (float)Math.Log(p[j] / views);
                    lossTta += -Math.Log(p[label] / views);
                    if (ArgMax(logp) == label) correctTta++;
                    report?.Add(logp, label);
                }
                images += n;
                first += n;
            }
        return images == 0 ? new TtaMetrics(double.NaN, double.NaN, double.NaN, double.NaN, views)
            : new TtaMetrics(lossTta / images, correctTta / (double)images, lossPlain / images, correctPlain / (double)images, views);
    }

    /// <summary>Index of the first maximum (torch.argmax).</summary>
    private static int ArgMax(ReadOnlySpan<float> z)
    {
        int best = 0;
        for (int j = 1; j < z.Length; j++) if (z[j] > z[best]) best = j;
        return best;
    }

    /// <summary>The evaluation plan for a batch of <paramref name="count"/> (the last, partial batch gets its own, exact one).</summary>
    public Plan EvalPlan(int count)
    {
        int size = Math.Min(count, _evalBatch);
        if (!_eval.TryGetValue(size, out var plan))
            _eval[size] = plan = _model.Compile(size, training: false, _loss, Layout, Precision);
        return plan;
    }

    /// <summary>Copies rows [first, first + plan batch) of <paramref name="batch"/> into the plan's input and target.</summary>
    private void LoadBatch(Plan plan, Batch batch, int first = 0)
    {
        var backend = _model.Backend;
        int n = plan.BatchSize;
        int per = (int)(plan.Input.Elements / n);
        backend.CopyFromHost<float>(batch.Images.AsSpan(first * per, n * per), plan.Input);
        if (_loss.TargetDType == DType.Int32) backend.CopyFromHost<int>(batch.Labels.AsSpan(first, n), plan.Target);
        else throw new NotSupportedException($"{_loss.Name}: training from a classification data set needs integer targets");
    }

    private double Read(Tensor scalar)
    {
        _model.Backend.CopyToHost<float>(scalar, _scalar);
        return _scalar[0];
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var p in _eval.Values) p.Dispose();
        _mixed?.Dispose();
        _train.Dispose();
        if (ReferenceEquals(_optimizer.Scaler, Scaler)) _optimizer.Scaler = null;
        Scaler?.Dispose();
        Clipper?.Dispose();
    }
}

/// <summary>The loss became NaN or infinite during training.</summary>
public sealed class NonFiniteLossException(string message) : Exception(message);
