using DeepTrain.Data;
using Xunit;

namespace DeepTrain.Tests.Data;

public class DatasetTests
{
    /// <summary>N one-channel 2×2 images; image n's pixels are all n, its label n % classes.</summary>
    internal static Dataset Numbered(int n, int classes = 10, int h = 2, int w = 2)
    {
        var px = new byte[n * h * w];
        for (int i = 0; i < n; i++) px.AsSpan(i * h * w, h * w).Fill((byte)i);
        return new Dataset("numbered", 1, h, w, classes, px, Enumerable.Range(0, n).Select(i => i % classes).ToArray());
    }

    [Fact]
    public void Constructor_ChecksSizesAndLabels()
    {
        Assert.Throws<ArgumentException>(() => new Dataset("x", 1, 2, 2, 10, new byte[7], [0, 1]));
        var e = Assert.Throws<ArgumentException>(() => new Dataset("x", 1, 2, 2, 10, new byte[8], [0, 10]));
        Assert.Contains("label 10 at index 1", e.Message);
        Assert.Throws<ArgumentException>(() => new Dataset("x", 1, 2, 2, 2, new byte[8], [0, 1], ["a"]));
    }

    [Fact]
    public void Split_IsSeededDisjointAndComplete()
    {
        var ds = Numbered(100, classes: 100);
        var (train, val) = ds.Split(30, seed: 7);
        var (train2, val2) = ds.Split(30, seed: 7);
        var (_, val3) = ds.Split(30, seed: 8);
        Assert.Equal((70, 30), (train.Count, val.Count));
        Assert.Equal(("numbered:train", "numbered:val"), (train.Name, val.Name));
        Assert.Equal(val.Labels, val2.Labels);
        Assert.Equal(train.Pixels, train2.Pixels);
        Assert.NotEqual(val.Labels, val3.Labels);
        Assert.Equal(Enumerable.Range(0, 100), train.Labels.Concat(val.Labels).Order());
        Assert.Equal(val.Labels.Order(), val.Labels);                      // original order kept
        for (int i = 0; i < val.Count; i++) Assert.Equal((byte)val.Labels[i], val.Image(i)[3]);   // pixels follow labels
    }
}
