using DeepTrain.Checkpoints;
using DeepTrain.Modeling;
using DeepTrain.Zoo;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary>Model checkpoints: bit-exact round trip with PyTorch names, and clear refusals.</summary>
public class ModelCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("deeptrain-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static float[] Values(Model m) => m.Parameters.AllValues.ToArray().Concat(m.Parameters.Buffers.SelectMany(b => b.Value.ToArray())).ToArray();

    [Fact]
    public void SaveThenLoad_RestoresEveryBit_WithStateDictNames()
    {
        using var b = TestBackends.Create("cpu");
        string path = Path.Combine(_dir, "model.safetensors");
        using var a = new Model(ResNetCifar.Build(20, 1, 10, 28), b, seed: 1);
        b.Fill(a.Parameters.Buffers[0].Value, 0.25f);   // a running mean that differs from the initial one
        ModelCheckpoint.Save(a, path, new Dictionary<string, string> { ["epoch"] = "3" }, steps: 42);

        var file = Safetensors.Load(path);
        Assert.Contains("layer2.0.conv1.weight", file.Names);
        Assert.Contains("bn1.running_var", file.Names);
        Assert.Equal(42, file.GetInt64("bn1.num_batches_tracked")[0]);
        Assert.Equal("3", file.Metadata["epoch"]);

        using var c = new Model(ResNetCifar.Build(20, 1, 10, 28), b, seed: 2);
        Assert.NotEqual(Values(a), Values(c));
        ModelCheckpoint.Load(c, path);
        Assert.Equal(Values(a), Values(c));
    }

    [Fact]
    public void LoadingIntoAnotherModel_NamesTheFirstMismatchingTensor_AndChangesNothing()
    {
        using var b = TestBackends.Create("cpu");
        string path = Path.Combine(_dir, "model.safetensors");
        using (var a = new Model(ResNetCifar.Build(20, 1, 10, 28), b, seed: 1)) ModelCheckpoint.Save(a, path);
        using var other = new Model(ResNetCifar.Build(20, 3, 10, 32), b, seed: 2);
        var before = Values(other);
        var e = Assert.Throws<CheckpointMismatchException>(() => ModelCheckpoint.Load(other, path));
        Assert.Contains("'conv1.weight'", e.Message);
        Assert.Contains("(16, 1, 3, 3), expected (16, 3, 3, 3)", e.Message);
        Assert.Equal(before, Values(other));

        using var deeper = new Model(ResNetCifar.Build(32, 1, 10, 28), b);
        var missing = Assert.Throws<CheckpointMismatchException>(() => ModelCheckpoint.Load(deeper, path));
        Assert.Contains("layer1.3", missing.Message);
    }

    [Fact]
    public void LoadMatching_LoadsWhatFits_AndReportsTheRest()
    {
        using var b = TestBackends.Create("cpu");
        string path = Path.Combine(_dir, "pretrained.safetensors");
        using (var a = new Model(ResNetCifar.Build(20, 1, 10, 28), b, seed: 1)) ModelCheckpoint.Save(a, path);
        using var target = new Model(ResNetCifar.Build(32, 1, 5, 28), b, seed: 2);   // deeper, 5 classes
        var report = ModelCheckpoint.LoadMatching(target, path);
        Assert.Contains("conv1.weight", report.Matched);
        Assert.Contains("layer1.3.conv1.weight", report.Missing);
        Assert.Contains(report.ShapeMismatched, m => m.StartsWith("linear.weight: checkpoint F32 (10, 64), model F32 (5, 64)", StringComparison.Ordinal));
        Assert.Empty(report.Unexpected);
        var src = Safetensors.Load(path).GetFloat32("layer2.0.conv1.weight");
        Assert.Equal(src, target.Parameters.Entries.Single(e => e.Name == "layer2.0.conv1.weight").Value.ToArray());
    }
}
