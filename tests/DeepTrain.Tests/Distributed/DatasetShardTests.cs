using DeepTrain.Data;
using Xunit;

namespace DeepTrain.Tests.Distributed;

/// <summary>DistributedSampler semantics: the same permutation on every rank, shards disjoint and covering.</summary>
public sealed class DatasetShardTests
{
    /// <summary>n images whose every pixel is its index mod 256 and whose label is its index / 256, so a batch names its images.</summary>
    private static Dataset Indexed(int n)
    {
        var pixels = new byte[n];
        var labels = new int[n];
        for (int i = 0; i < n; i++) (pixels[i], labels[i]) = ((byte)(i % 256), i / 256);
        return new Dataset("indexed", 1, 1, 1, Math.Max(1, (n + 255) / 256), pixels, labels);
    }

    private static List<int[]> Epoch(Dataset ds, int batch, bool shuffle, bool dropLast, DatasetShard? shard, int epoch = 3)
    {
        using var loader = new DataLoader(ds, batch, shuffle, Normalization.Identity(1), null, seed: 9, dropLast, workers: 0, shard: shard);
        // Identity normalisation gives pixel / 255, so the index is round(255 · image) + 256 · label.
        return loader.Epoch(epoch).Select(b => Enumerable.Range(0, b.Count).Select(i => (int)MathF.Round(b.Images[i] * 255f) + 256 * b.Labels[i]).ToArray()).ToList();
    }

    [Theory]
    [InlineData(600, 2, 7)]
    [InlineData(601, 2, 7)]
    [InlineData(601, 3, 5)]
    public void TrainingShards_AreDisjointEqualAndFormTheGlobalBatches(int n, int ranks, int batch)
    {
        var ds = Indexed(n);
        var global = Epoch(ds, batch * ranks, shuffle: true, dropLast: true, null);
        var shards = Enumerable.Range(0, ranks).Select(r => Epoch(ds, batch, shuffle: true, dropLast: true, new DatasetShard(r, ranks))).ToList();
        // Every rank takes the same number of steps (the tail that would make them unequal is dropped).
        Assert.All(shards, s => Assert.Equal(shards[0].Count, s.Count));
        Assert.Equal(n / ranks / batch, shards[0].Count);
        var all = shards.SelectMany(s => s.SelectMany(b => b)).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());   // disjoint
        // Step k of the ranks together is step k of one process with the global batch (when both have it).
        for (int k = 0; k < Math.Min(global.Count, shards[0].Count); k++)
            Assert.Equal(global[k].Order(), shards.SelectMany(s => s[k]).Order());
    }

    [Theory]
    [InlineData(10, 3, 4)]
    [InlineData(11, 2, 3)]
    [InlineData(1, 2, 5)]
    public void EvaluationShards_CoverEverySampleOnce(int n, int ranks, int batch)
    {
        var ds = Indexed(n);
        var seen = Enumerable.Range(0, ranks).SelectMany(r => Epoch(ds, batch, shuffle: false, dropLast: false, new DatasetShard(r, ranks)).SelectMany(b => b)).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, n), seen);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(2, 2)]
    [InlineData(-1, 2)]
    public void InvalidShard_IsRefusedNamingTheProperty(int rank, int count)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new DatasetShard(rank, count).Validate());
        Assert.Contains("DatasetShard.", e.Message, StringComparison.Ordinal);
    }
}
