using Xunit;

namespace DeepTrain.Tests.Infrastructure;

/// <summary>One comparison for every numeric test: reports the worst element, not the first.</summary>
public static class Tolerance
{
    /// <summary>
    /// Asserts |expected − actual| ≤ atol + rtol·|expected| element-wise. On failure the message names
    /// <paramref name="name"/>, the worst index, both values, and how many elements failed.
    /// </summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double atol, double rtol, string name)
    {
        Assert.True(expected.Length == actual.Length, $"{name}: length {actual.Length}, expected {expected.Length}");
        int worst = -1, bad = 0;
        double worstExcess = double.NegativeInfinity;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            double excess = (double.IsNaN(a) != double.IsNaN(e)) ? double.PositiveInfinity : Math.Abs(e - a) - (atol + rtol * Math.Abs(e));
            if (double.IsNaN(excess)) excess = 0; // both NaN
            if (excess > 0) bad++;
            if (excess > worstExcess) { worstExcess = excess; worst = i; }
        }
        if (bad > 0)
            Assert.Fail($"{name}: {bad} of {expected.Length} elements differ; worst at [{worst}]: expected {expected[worst]:R}, actual {actual[worst]:R} (|diff| {Math.Abs(expected[worst] - actual[worst]):G4}, allowed {atol + rtol * Math.Abs(expected[worst]):G4})");
    }

    /// <summary><see cref="AssertClose(ReadOnlySpan{double}, ReadOnlySpan{float}, double, double, string)"/> for float expectations.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double atol, double rtol, string name)
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        AssertClose(e, actual, atol, rtol, name);
    }

    /// <summary>Double against double (finite-difference checks).</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double atol, double rtol, string name)
    {
        var a = new float[actual.Length];
        Assert.True(expected.Length == actual.Length, $"{name}: length {actual.Length}, expected {expected.Length}");
        int worst = -1, bad = 0;
        double worstExcess = double.NegativeInfinity;
        for (int i = 0; i < expected.Length; i++)
        {
            double excess = Math.Abs(expected[i] - actual[i]) - (atol + rtol * Math.Abs(expected[i]));
            if (double.IsNaN(excess)) excess = double.PositiveInfinity;
            if (excess > 0) bad++;
            if (excess > worstExcess) { worstExcess = excess; worst = i; }
        }
        if (bad > 0)
            Assert.Fail($"{name}: {bad} of {expected.Length} elements differ; worst at [{worst}]: expected {expected[worst]:R}, actual {actual[worst]:R}");
        _ = a;
    }
}
