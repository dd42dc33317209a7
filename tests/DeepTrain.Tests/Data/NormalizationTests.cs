using DeepTrain.Data;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Data;

public class NormalizationTests
{
    private static Dataset TwoChannel()
    {
        var r = new Random(5);
        var px = new byte[7 * 2 * 3 * 5];
        r.NextBytes(px);
        return new Dataset("rgbish", 2, 3, 5, 3, px, [0, 1, 2, 0, 1, 2, 0]);
    }

    [Fact]
    public void FromDataset_MatchesNaivePerChannelMeanAndPopulationStd()
    {
        var ds = TwoChannel();
        var norm = Normalization.FromDataset(ds);
        for (int c = 0; c < 2; c++)
        {
            var xs = new List<double>();
            for (int n = 0; n < ds.Count; n++)
                for (int i = 0; i < 15; i++) xs.Add(ds.Pixels[(n * 2 + c) * 15 + i] / 255.0);
            double mean = xs.Average();
            double std = Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / xs.Count);
            Tolerance.AssertClose([mean, std], [norm.Mean[c], norm.Std[c]], atol: 1e-7, rtol: 1e-6, $"channel {c} mean, std");
        }
    }

    [Fact]
    public void Apply_IsXOver255MinusMeanOverStd_InFloat()
    {
        var norm = new Normalization([0.5f, 0.25f], [0.2f, 2f]);
        var img = new byte[] { 0, 1, 128, 255, 7, 0, 200, 255 };   // (2, 2, 2)
        var dst = new float[8];
        norm.Apply(img, dst);
        for (int i = 0; i < 8; i++)
        {
            int c = i / 4;
            float expected = (img[i] / 255f - norm.Mean[c]) / norm.Std[c];
            Assert.Equal(expected, dst[i]);
            Assert.Equal(expected, norm.Apply(c, img[i]));
        }
        Assert.Equal(-2.5f, dst[0]);
        Assert.Equal(0.375f, dst[7]);
    }

    [Fact]
    public void Identity_IsXOver255()
    {
        var norm = Normalization.Identity(1);
        Assert.Equal(1f, norm.Apply(0, 255));
        Assert.Equal(0f, norm.Apply(0, 0));
        Assert.Equal(51 / 255f, norm.Apply(0, 51));
    }

    [Fact]
    public void InvalidStatistics_Throw()
    {
        Assert.Throws<ArgumentException>(() => new Normalization([0f], [0f]));
        Assert.Throws<ArgumentException>(() => new Normalization([0f, 0f], [1f]));
        Assert.Throws<ArgumentException>(() => new Normalization([float.NaN], [1f]));
        var constant = new Dataset("flat", 1, 2, 2, 1, new byte[8], [0, 0]);
        Assert.Throws<ArgumentException>(() => Normalization.FromDataset(constant));
    }
}
