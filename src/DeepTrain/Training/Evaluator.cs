using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Training;

/// <summary>
/// Evaluation of a model, separate from training: the mean loss and accuracy over a data set, the same with
/// test-time augmentation, and a <see cref="ClassificationReport"/> of every prediction. Batch norm runs in
/// evaluation mode (running statistics). Plans are compiled per batch size on first use and share the model's
/// parameters, so an evaluator sees every update a <see cref="Trainer"/> makes to the same model.
/// </summary>
public sealed class Evaluator : IDisposable
{
    private readonly Model _model;
    private readonly Loss _loss;
    private readonly Dictionary<int, Plan> _plans = [];
    private readonly float[] _scalar = new float[1];
    private readonly int _batchSize;

    /// <summary>An evaluator of <paramref name="model"/> under <paramref name="loss"/> in batches of up to <paramref name="batchSize"/>.</summary>
    /// <exception cref="ArgumentNullException">model or loss is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">batchSize is below 1.</exception>
    public Evaluator(Model model, Loss loss, int batchSize, Layout layout = Layout.NCHW, Precision precision = Precision.Float32)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        (_model, _loss, _batchSize, Layout, Precision) = (model, loss, batchSize, layout, precision);
    }

    /// <summary>The largest evaluation batch.</summary>
    public int BatchSize => _batchSize;
    /// <summary>Layout of the plans.</summary>
    public Layout Layout { get; }
    /// <summary>Precision of the plans.</summary>
    public Precision Precision { get; }

    /// <summary>Mean loss and accuracy over every sample of <paramref name="loader"/> (batch norm in evaluation mode).</summary>
    /// <param name="loader">The evaluation data.</param>
    /// <param name="report">When given, every prediction is added to it (confusion matrix, precision, recall, ROC AUC).</param>
    public (double Loss, double Accuracy) Evaluate(DataLoader loader, ClassificationReport? report = null)
    {
        var (lossSum, correct, images) = Sums(loader, report);
        return (images > 0 ? lossSum / images : double.NaN, images > 0 ? correct / images : double.NaN);
    }

    /// <summary>The sums behind <see cref="Evaluate"/> (loss times samples, correct predictions, samples), which ranks
    /// holding shards of one set add up exactly before dividing.</summary>
    internal (double LossSum, double Correct, long Images) Sums(DataLoader loader, ClassificationReport? report = null)
    {
        double lossSum = 0, correct = 0;
        long images = 0;
        float[]? logits = null;
        foreach (var batch in loader.Epoch(0))
        {
            // A loader batch larger than the evaluation batch runs as several plans' worth of rows.
            for (int first = 0; first < batch.Count;)
            {
                var plan = PlanFor(batch.Count - first);
                int n = plan.BatchSize;
                PlanInput.Load(_model.Backend, _loss, plan, batch, first);
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
        return (lossSum, correct, images);
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
        var view = new float[Math.Min(loader.BatchSize, _batchSize) * s];
        float[] logits = [], logp = [];
        double[] probs = [];
        double lossTta = 0, lossPlain = 0;
        long correctTta = 0, correctPlain = 0, images = 0;
        foreach (var batch in loader.Epoch(0))
            for (int first = 0; first < batch.Count;)
            {
                var plan = PlanFor(batch.Count - first);
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
    /// <exception cref="ArgumentOutOfRangeException">count is below 1.</exception>
    public Plan PlanFor(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        int size = Math.Min(count, _batchSize);
        if (!_plans.TryGetValue(size, out var plan))
            _plans[size] = plan = _model.Compile(size, training: false, _loss, Layout, Precision);
        return plan;
    }


    private double Read(Tensor scalar)
    {
        _model.Backend.CopyToHost<float>(scalar, _scalar);
        return _scalar[0];
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var p in _plans.Values) p.Dispose();
        _plans.Clear();
    }
}
