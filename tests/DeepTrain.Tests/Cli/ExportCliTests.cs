using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Tests.Data;
using DeepTrain.Tests.Onnx;
using DeepTrain.Training;
using DeepTrain.Zoo;
using Xunit;

namespace DeepTrain.Tests.Cli;

/// <summary><c>deeptrain export</c>: writes a model ONNX Runtime loads, and bad input is one error line.</summary>
[Collection(nameof(ConsoleCollection))]
public class ExportCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Checkpoint()
    {
        using var backend = OnnxRuntimeRunner.Cpu();
        using var model = new Model(ModelZoo.Create(new ModelSpec("resnet20", 1, 10, 8)), backend, seed: 3);
        string path = _dir["model.safetensors"];
        ModelCheckpoint.Save(model, path, description: new CheckpointDescription(new Normalization([0.3f], [0.3f])));
        return path;
    }

    [Fact]
    public void Export_WritesAnOnnxModel_OnnxRuntimeLoads()
    {
        var (code, stdout, stderr) = CliRunner.Run("export", "--checkpoint", Checkpoint(), "-o", _dir["r20.onnx"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("opset 17, batch norm folded): input 'input', output 'logits'", stdout);
        using var session = OnnxRuntimeRunner.Session(File.ReadAllBytes(_dir["r20.onnx"]));
        var y = OnnxRuntimeRunner.Run(session, OnnxRuntimeRunner.Pixels(5 * 64, seed: 1), [5, 1, 8, 8]);
        Assert.Equal(50, y.Length);
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Export_BadOpset_IsOneErrorLineNamingTheFlag()
    {
        var (code, _, stderr) = CliRunner.Run("export", "--checkpoint", Checkpoint(), "-o", _dir["r20.onnx"], "--opset", "13");
        Assert.Equal(1, code);
        Assert.StartsWith("error: --opset must be in [17, 21]", stderr);
        Assert.False(File.Exists(_dir["r20.onnx"]));
    }

    [Fact]
    public void Export_MissingCheckpoint_IsOneErrorLine()
    {
        var (code, _, stderr) = CliRunner.Run("export", "--checkpoint", _dir["nope.safetensors"], "-o", _dir["x.onnx"]);
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", stderr);
        Assert.Contains("nope.safetensors", stderr);
    }
}
