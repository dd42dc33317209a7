using DeepTrain.Backends.Cpu;
using DeepTrain.Checkpoints;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Zoo;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Training;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary>
/// Self-describing checkpoints: model.safetensors records the model, its arguments, input shape, layout, classes, class
/// names, normalisation and precision; one call rebuilds the model on a fresh backend without the data; files without
/// the keys load with the caller's values and fail naming the missing field; malformed values fail naming file and key.
/// </summary>
public class CheckpointInfoTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("deeptrain-ckptinfo-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly ModelSpec Spec = new("resnet20", 1, 4, 8);
    private static readonly string[] Names = ["zero", "one", "two", "three"];

    /// <summary>The logits of <paramref name="model"/> for the first 16 images of <paramref name="data"/>, normalised by <paramref name="norm"/>.</summary>
    private static float[] Logits(Model model, Dataset data, Normalization norm)
    {
        using var loader = new DataLoader(data, 16, shuffle: false, norm, null, 0, dropLast: false);
        var loss = new CrossEntropyLoss();
        using var plan = model.Compile(16, training: false, loss);
        PlanInput.Load(model.Backend, loss, plan, loader.Epoch(0).First());
        plan.Forward();
        return plan.Output.ToArray();
    }

    /// <summary>Writes <paramref name="path"/> again with its tensors and the metadata <paramref name="edit"/> leaves.</summary>
    private static void Rewrite(string path, Action<Dictionary<string, string>> edit)
    {
        var file = Safetensors.Load(path);
        var arrays = file.Names.Select(n => new NamedArray(n, file[n].DType, file[n].Shape, file.GetBytes(n).ToArray())).ToList();
        var meta = new Dictionary<string, string>(file.Metadata);
        edit(meta);
        Safetensors.Save(path, arrays, meta);
    }

    private string SaveModel(CheckpointDescription? description = null)
    {
        using var b = new CpuBackend();
        using var model = new Model(ModelZoo.Create(Spec), b, seed: 3);
        string path = Path.Combine(_dir, "model.safetensors");
        ModelCheckpoint.Save(model, path, new Dictionary<string, string> { ["epoch"] = "2" }, steps: 5, description);
        return path;
    }

    [Fact]
    public void EveryField_RoundTrips_AsStringMetadata()
    {
        var norm = new Normalization([0.2860402f], [0.3530239f]);
        string path = SaveModel(new CheckpointDescription(norm, Names, Layout.NHWC, Precision.BFloat16));

        var meta = Safetensors.Load(path).Metadata;
        Assert.Equal("1", meta["deeptrain.format_version"]);
        Assert.Equal("resnet20", meta["deeptrain.model"]);
        Assert.Equal("""{"in_channels":1,"classes":4,"size":8}""", meta["deeptrain.model_args"]);
        Assert.Equal("1x8x8", meta["deeptrain.input_shape"]);
        Assert.Equal("NHWC", meta["deeptrain.layout"]);
        Assert.Equal("4", meta["deeptrain.classes"]);
        Assert.Equal("""["zero","one","two","three"]""", meta["deeptrain.class_names"]);
        Assert.Equal("""{"mean":[0.2860402],"std":[0.3530239]}""", meta["deeptrain.normalization"]);
        Assert.Equal("bf16", meta["deeptrain.precision"]);
        Assert.Equal("2", meta["epoch"]);

        var info = CheckpointInfo.Read(path);
        Assert.Equal(Spec, info.Model);
        Assert.Equal(Shape.Of(1, 8, 8), info.InputShape);
        Assert.Equal(4, info.Classes);
        Assert.Equal(Names, info.ClassNames);
        Assert.Equal(norm.Mean, info.Normalization!.Mean);   // bit for bit: the table built from them is the training one
        Assert.Equal(norm.Std, info.Normalization.Std);
        Assert.Equal(Layout.NHWC, info.Layout);
        Assert.Equal(Precision.BFloat16, info.Precision);
        Assert.Equal(1, info.FormatVersion);
        Assert.Equal(path, info.Path);
    }

    [Fact]
    public void TrainedModel_LoadsWithOneCall_OnAFreshBackend_WithoutData_AndPredictsTheSameLogits()
    {
        var test = TestData.TinyImages(32, 12, Names);
        float[] expected;
        Normalization trained;
        string outDir = Path.Combine(_dir, "run");
        using (var backend = new CpuBackend())
        using (var run = new TrainingRun(ModelZoo.Create(Spec), TestData.TinyImages(64, 11, Names), test, backend, new FitOptions
               {
                   Epochs = 1, BatchSize = 16, EvalBatchSize = 16, Seed = 4, OverfitBatches = 2,
                   Optimizer = new OptimizerOptions("sgd", 0.05f, 0.9f, 1e-3f), OutputDirectory = outDir,
               }))
        {
            run.Fit(cancel: TestContext.Current.CancellationToken);
            Assert.Equal(2, run.Optimizer.Steps);
            trained = run.Normalization;
            expected = Logits(run.Model, test, trained);
        }

        string path = Path.Combine(outDir, TrainingState.ModelFile);
        using var fresh = new CpuBackend();
        var info = CheckpointInfo.Read(path);
        using var model = info.CreateModel(fresh);
        Assert.Equal(trained.Mean, info.RequireNormalization().Mean);
        Assert.Equal(trained.Std, info.RequireNormalization().Std);
        Assert.Equal(Names, info.ClassNames);
        Assert.Equal(expected, Logits(model, test, info.RequireNormalization()));

        using var again = ModelCheckpoint.LoadModel(path, fresh);
        Assert.Equal(expected, Logits(again, test, info.RequireNormalization()));
    }

    [Fact]
    public void OldFormat_LoadsWithTheCallersFields_AndNamesTheMissingOne()
    {
        string path = SaveModel();
        float[] expected;
        var norm = Normalization.Identity(1);
        using (var b = new CpuBackend())
        using (var m = new Model(ModelZoo.Create(Spec), b, seed: 3)) expected = Logits(m, TestData.TinyImages(16, 1, Names), norm);
        Rewrite(path, meta =>
        {
            foreach (var key in meta.Keys.Where(k => k.StartsWith("deeptrain", StringComparison.Ordinal)).ToList()) meta.Remove(key);
        });

        var noModel = Assert.Throws<CheckpointMetadataException>(() => CheckpointInfo.Read(path));
        Assert.Equal(CheckpointInfo.ModelKey, noModel.Key);
        Assert.Equal("CheckpointLoadOptions.Model", noModel.Option);
        Assert.Contains($"'{path}'", noModel.Message);
        Assert.Contains("supply it as CheckpointLoadOptions.Model", noModel.Message);

        var noShape = Assert.Throws<CheckpointMetadataException>(() => CheckpointInfo.Read(path, new CheckpointLoadOptions { Model = "resnet20" }));
        Assert.Equal(CheckpointInfo.InputShapeKey, noShape.Key);
        Assert.Contains("CheckpointLoadOptions.InputShape", noShape.Message);

        var unknown = Assert.Throws<ArgumentException>(() => CheckpointInfo.Read(path, new CheckpointLoadOptions { Model = "resnet21" }));
        Assert.Contains("unknown model 'resnet21'", unknown.Message);

        var options = new CheckpointLoadOptions { Model = "resnet20", InputShape = Shape.Of(1, 8, 8), Classes = 4 };
        var info = CheckpointInfo.Read(path, options);
        Assert.Equal(0, info.FormatVersion);
        Assert.Equal(Spec, info.Model);
        Assert.Null(info.Normalization);
        var noNorm = Assert.Throws<CheckpointMetadataException>(() => info.RequireNormalization());
        Assert.Equal(CheckpointInfo.NormalizationKey, noNorm.Key);
        Assert.Contains("CheckpointLoadOptions.Normalization", noNorm.Message);
        using var fresh = new CpuBackend();
        using var model = ModelCheckpoint.LoadModel(path, fresh, options with { Normalization = norm });
        Assert.Equal(expected, Logits(model, TestData.TinyImages(16, 1, Names), norm));

        // The CLI's older entries ("model", "input", "classes") are enough on their own.
        Rewrite(path, meta => { meta["model"] = "resnet20"; meta["input"] = "1x8x8"; meta["classes"] = "4"; });
        Assert.Equal(Spec, CheckpointInfo.Read(path).Model);
    }

    [Theory]
    [InlineData("deeptrain.model_args", """{"in_channels":1,"classes":4""", "not valid JSON")]
    [InlineData("deeptrain.model_args", """{"in_channels":0,"classes":4,"size":8}""", "positive integers")]
    [InlineData("deeptrain.input_shape", "1x8", "has 2 dimensions")]
    [InlineData("deeptrain.input_shape", "3x8x8", "gives 1x8x8")]
    [InlineData("deeptrain.model", "resnet21", "unknown model 'resnet21'")]
    [InlineData("deeptrain.classes", "5", "gives 4 classes")]
    [InlineData("deeptrain.class_names", """["a","b"]""", "4 strings")]
    [InlineData("deeptrain.normalization", """{"mean":[0.5],"std":""", "not valid JSON")]
    [InlineData("deeptrain.normalization", """{"mean":[0.5,0.5],"std":[1,1]}""", "1 values each")]
    [InlineData("deeptrain.normalization", """{"mean":[0.5],"std":[0]}""", "std > 0")]
    [InlineData("deeptrain.layout", "NWCH", "NCHW, NHWC")]
    [InlineData("deeptrain.precision", "fp8", "fp32, fp16, bf16")]
    [InlineData("deeptrain.format_version", "2", "newer one")]
    public void CorruptValue_FailsNamingTheFileAndKey(string key, string value, string expected)
    {
        string path = SaveModel(new CheckpointDescription(Normalization.Identity(1), Names));
        Rewrite(path, meta => meta[key] = value);
        var e = Assert.Throws<CheckpointMetadataException>(() => CheckpointInfo.Read(path));
        Assert.Equal(key, e.Key);
        Assert.Equal(path, e.Path);
        Assert.Null(e.Option);
        Assert.Contains($"checkpoint '{path}': metadata '{key}'", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ClassesThatDoNotFitTheWeights_FailNamingTheKeysAndTheTensor()
    {
        string path = SaveModel();
        Rewrite(path, meta => { meta["deeptrain.model_args"] = """{"in_channels":1,"classes":5,"size":8}"""; meta["deeptrain.classes"] = "5"; });
        var info = CheckpointInfo.Read(path);
        using var b = new CpuBackend();
        var e = Assert.Throws<CheckpointMetadataException>(() => info.CreateModel(b));
        Assert.Equal(CheckpointInfo.ModelArgsKey, e.Key);
        Assert.Contains($"checkpoint '{path}'", e.Message);
        Assert.Contains("deeptrain.model_args", e.Message);
        Assert.Contains("'linear.weight'", e.Message);
        Assert.IsType<CheckpointMismatchException>(e.InnerException);
    }

    [Fact]
    public void LibraryKeys_CannotBeOverriddenByExtraMetadata()
    {
        using var b = new CpuBackend();
        using var model = new Model(ModelZoo.Create(Spec), b);
        var e = Assert.Throws<ArgumentException>(() => ModelCheckpoint.Save(model, Path.Combine(_dir, "x.safetensors"), new Dictionary<string, string> { ["deeptrain.model"] = "mlp" }));
        Assert.Contains("'deeptrain.model'", e.Message);
        // A run refuses them before it trains, not at its first checkpoint.
        var fit = Assert.Throws<ArgumentException>(() => new FitOptions { Metadata = new Dictionary<string, string> { ["deeptrain.classes"] = "3" } }.Validate());
        Assert.Contains("FitOptions.Metadata sets 'deeptrain.classes'", fit.Message);
    }
}
