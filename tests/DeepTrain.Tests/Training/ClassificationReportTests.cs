using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary>Confusion matrix, precision, recall and ROC AUC against hand-computed values.</summary>
public class ClassificationReportTests
{
    [Fact]
    public void PrecisionAndRecall_FromTheMatrix()
    {
        var r = new ClassificationReport(3);
        // (label, predicted): 0→0, 0→0, 0→1, 1→1, 2→1, 2→2
        foreach (var (label, pred) in new[] { (0, 0), (0, 0), (0, 1), (1, 1), (2, 1), (2, 2) })
        {
            var z = new float[3];
            z[pred] = 1;
            r.Add(z, label);
        }
        Assert.Equal(2, r[0, 0]);
        Assert.Equal(1, r[2, 1]);
        Assert.Equal(4 / 6.0, r.Accuracy, 12);
        Assert.Equal(1.0, r.Precision(0), 12);      // predicted 0: both truly 0
        Assert.Equal(1 / 3.0, r.Precision(1), 12);  // predicted 1: one of three
        Assert.Equal(2 / 3.0, r.Recall(0), 12);
        Assert.Equal(0.5, r.Recall(2), 12);
        Assert.Contains("confusion matrix", r.ToString());
    }

    [Fact]
    public void Ties_GoToTheFirstMaximum()
    {
        var r = new ClassificationReport(3);
        r.Add([2f, 2f, 1f], 1);
        Assert.Equal(1, r[1, 0]);
    }

    [Fact]
    public void RocAuc_IsTheMannWhitneyProbability_WithTiesCountingHalf()
    {
        var r = new ClassificationReport(2);
        // scores z1 − z0: positives 0.9, 0.4, 0.4; negatives 0.4, 0.1.
        foreach (var (s, y) in new[] { (0.9f, 1), (0.4f, 1), (0.4f, 1), (0.4f, 0), (0.1f, 0) }) r.Add([0f, s], y);
        // Pairs (pos, neg): 0.9 beats both (2), each 0.4 ties 0.4 (0.5) and beats 0.1 (1): 2 + 1.5 + 1.5 = 5 of 6.
        Assert.Equal(5 / 6.0, r.RocAuc(), 12);
        Assert.Throws<InvalidOperationException>(() => new ClassificationReport(3).RocAuc());
    }
}
