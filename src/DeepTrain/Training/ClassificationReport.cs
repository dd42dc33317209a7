using System.Globalization;
using System.Text;

namespace DeepTrain.Training;

/// <summary>
/// Evaluation beyond accuracy: the confusion matrix (rows: true class, columns: predicted), per-class
/// precision and recall, and for two classes the ROC AUC of the positive class's score.
/// </summary>
public sealed class ClassificationReport
{
    private readonly long[,] _counts;
    private readonly List<(float Score, bool Positive)> _scores = [];

    /// <summary>Creates an empty report for <paramref name="classes"/> classes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than 2 classes.</exception>
    public ClassificationReport(int classes, IReadOnlyList<string>? names = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        Classes = classes;
        _counts = new long[classes, classes];
        Names = names ?? Enumerable.Range(0, classes).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>Number of classes.</summary>
    public int Classes { get; }
    /// <summary>Class names for printing.</summary>
    public IReadOnlyList<string> Names { get; }
    /// <summary>Samples counted.</summary>
    public long Total { get; private set; }

    /// <summary>Counts of (true class, predicted class).</summary>
    public long this[int actual, int predicted] => _counts[actual, predicted];

    /// <summary>
    /// Adds one row of logits: the prediction is the first maximum (torch.argmax); for two classes the
    /// score for the ROC curve is z₁ − z₀, a monotone function of the softmax probability of class 1.
    /// </summary>
    public void Add(ReadOnlySpan<float> logits, int label)
    {
        int best = 0;
        for (int j = 1; j < logits.Length; j++) if (logits[j] > logits[best]) best = j;
        _counts[label, best]++;
        Total++;
        if (Classes == 2) _scores.Add((logits[1] - logits[0], label == 1));
    }

    /// <summary>Fraction of samples predicted correctly.</summary>
    public double Accuracy => Total == 0 ? double.NaN : Enumerable.Range(0, Classes).Sum(c => _counts[c, c]) / (double)Total;

    /// <summary>Of the samples predicted as <paramref name="c"/>, the fraction that are <paramref name="c"/> (NaN if none were).</summary>
    public double Precision(int c)
    {
        long predicted = 0;
        for (int a = 0; a < Classes; a++) predicted += _counts[a, c];
        return predicted == 0 ? double.NaN : _counts[c, c] / (double)predicted;
    }

    /// <summary>Of the samples that are <paramref name="c"/>, the fraction predicted as <paramref name="c"/> (NaN if none are).</summary>
    public double Recall(int c)
    {
        long actual = 0;
        for (int p = 0; p < Classes; p++) actual += _counts[c, p];
        return actual == 0 ? double.NaN : _counts[c, c] / (double)actual;
    }

    /// <summary>
    /// Area under the ROC curve for two classes: the probability that a random positive scores above a random
    /// negative, ties counting half (the Mann–Whitney U statistic over n₊·n₋). NaN unless both classes occur.
    /// </summary>
    /// <exception cref="InvalidOperationException">More than two classes.</exception>
    public double RocAuc()
    {
        if (Classes != 2) throw new InvalidOperationException($"ROC AUC is defined here for binary tasks; this report has {Classes} classes");
        var sorted = _scores.OrderBy(s => s.Score).ToArray();
        long pos = sorted.Count(s => s.Positive), neg = sorted.Length - pos;
        if (pos == 0 || neg == 0) return double.NaN;
        double rankSum = 0;
        for (int i = 0; i < sorted.Length;)
        {
            int j = i;
            while (j < sorted.Length && sorted[j].Score == sorted[i].Score) j++;
            double midRank = (i + 1 + j) / 2.0;   // 1-based average rank of the tie group
            for (int k = i; k < j; k++) if (sorted[k].Positive) rankSum += midRank;
            i = j;
        }
        return (rankSum - pos * (pos + 1) / 2.0) / ((double)pos * neg);
    }

    /// <summary>The matrix and the per-class table as text.</summary>
    public override string ToString()
    {
        var inv = CultureInfo.InvariantCulture;
        int w = Math.Max(6, Names.Max(n => n.Length) + 1);
        var sb = new StringBuilder();
        sb.Append("confusion matrix (rows: true class, columns: predicted)\n").Append(new string(' ', w));
        for (int p = 0; p < Classes; p++) sb.Append(p.ToString(inv).PadLeft(7));
        sb.Append('\n');
        for (int a = 0; a < Classes; a++)
        {
            sb.Append(Names[a].PadRight(w));
            for (int p = 0; p < Classes; p++) sb.Append(_counts[a, p].ToString(inv).PadLeft(7));
            sb.Append('\n');
        }
        sb.Append('\n').Append("class".PadRight(w)).Append(" precision   recall\n");
        for (int c = 0; c < Classes; c++)
            sb.Append(Names[c].PadRight(w)).Append(string.Format(inv, " {0,9:P2} {1,8:P2}\n", Precision(c), Recall(c)));
        if (Classes == 2) sb.Append(string.Format(inv, "ROC AUC {0:F4}\n", RocAuc()));
        return sb.ToString();
    }
}
