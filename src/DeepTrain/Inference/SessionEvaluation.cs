using DeepTrain.Data;
using DeepTrain.Training;

namespace DeepTrain.Inference;

/// <summary>
/// Test loss and accuracy of a model served by an <see cref="InferenceSession"/>: what <see cref="Evaluator.Evaluate"/> reports,
/// through forward-only plans (no loss buffers, no gradient memory). The loss is the mean cross-entropy
/// −ln softmax(z)[label], computed on the host in double from the logits.
/// </summary>
public static class SessionEvaluation
{
    /// <summary>
    /// Mean cross-entropy and accuracy over every sample of <paramref name="loader"/> (normalised, not augmented). Batches larger
    /// than the session's <see cref="InferenceSession.MaxBatchSize"/> run in parts. <paramref name="report"/>, when given, gets every
    /// prediction.
    /// </summary>
    /// <exception cref="ArgumentNullException">session or loader is null.</exception>
    /// <exception cref="ArgumentException">The session's logits are probabilities (<see cref="InferenceOutput.Probabilities"/>), or the data's samples are not the session's size.</exception>
    public static (double Loss, double Accuracy) Evaluate(InferenceSession session, DataLoader loader, ClassificationReport? report = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(loader);
        if (session.Options.Output != InferenceOutput.Logits)
            throw new ArgumentException("evaluation reads logits; the session was made with InferenceSessionOptions.Output = Probabilities", nameof(session));
        if (loader.Dataset.SampleSize != session.SampleSize)
            throw new ArgumentException($"data set '{loader.Dataset.Name}' has samples of {loader.Dataset.SampleSize} values; the session takes {session.SampleSize} ({session.InputShape})", nameof(loader));
        int s = session.SampleSize, k = session.Classes;
        var logits = new float[session.MaxBatchSize * k];
        double lossSum = 0;
        long correct = 0, images = 0;
        foreach (var batch in loader.Epoch(0))
            for (int first = 0; first < batch.Count;)
            {
                int n = Math.Min(batch.Count - first, session.MaxBatchSize);
                session.Run(batch.Images.AsSpan(first * s, n * s), logits);
                for (int i = 0; i < n; i++)
                {
                    var z = logits.AsSpan(i * k, k);
                    int label = batch.Labels[first + i];
                    double max = double.NegativeInfinity, sum = 0;
                    int best = 0;
                    for (int j = 0; j < k; j++) { max = Math.Max(max, z[j]); if (z[j] > z[best]) best = j; }
                    foreach (float x in z) sum += Math.Exp(x - max);
                    lossSum += Math.Log(sum) - (z[label] - max);
                    if (best == label) correct++;
                    report?.Add(z, label);
                }
                images += n;
                first += n;
            }
        return images > 0 ? (lossSum / images, correct / (double)images) : (double.NaN, double.NaN);
    }
}
