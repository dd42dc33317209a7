using System.CommandLine;
using System.Globalization;
using DeepTrain.Backends;
using DeepTrain.Checkpoints;
using DeepTrain.Data;
using DeepTrain.Inference;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Tensors;
using DeepTrain.Training;
using static DeepTrain.Cli.Commands.CommonOptions;

namespace DeepTrain.Cli.Commands;

/// <summary><c>deeptrain eval</c>: test loss and accuracy of a checkpoint.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var ckpt = new Option<string>("--checkpoint", "-c") { Description = "A model.safetensors written by 'deeptrain train'", Required = true };
        var data = new Option<string?>("--data") { Description = "Data set to evaluate on, its test split only (default: the one recorded in the checkpoint)" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the data set's files" };
        var model = new Option<string?>("--model", "-m") { Description = "Model, for a checkpoint written before checkpoints recorded theirs" };
        var batch = BatchSize(500);
        var device = Device();
        var tta = new Option<string>("--tta")
        {
            Description = "Test-time augmentation: none, flip (2 views), crops (5: the image and the 4 corner crops of it padded by 4) or flip+crops (10); the mean softmax over the views is the prediction, and plain accuracy is reported beside it",
            DefaultValueFactory = _ => "none",
        };
        var cmd = new Command("eval", "Evaluate a checkpoint on a data set's test split") { ckpt, data, dataDir, model, batch, device, tta };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(ckpt)!, r.GetValue(data), r.GetValue(dataDir), r.GetValue(model), r.GetValue(batch), r.GetValue(device)!, r.GetValue(tta)!)));
        return cmd;
    }

    private static int Run(string path, string? dataName, string? dataDir, string? modelName, int batch, string deviceText, string ttaText = "none")
    {
        var tta = TestTimeAugmentation.Parse(ttaText);
        var meta = ModelCheckpoint.ReadMetadata(path);
        dataName ??= meta.GetValueOrDefault("data") ?? throw new ArgumentException($"checkpoint '{path}' does not record its data set; pass --data");
        var test = DatasetCatalog.Load(dataName, dataDir, train: false);
        DatasetChecks.EnsureNotEmpty(test, "test set");
        // The checkpoint describes its model; one written before it did (format 0) takes its shape and classes from the
        // test split and its model from --model.
        var info = ReadInfo(path, new CheckpointLoadOptions
        {
            Model = modelName, InputShape = Shape.Of(test.Channels, test.Height, test.Width), Classes = test.Classes, ClassNames = test.ClassNames,
        });
        if (modelName is not null && !string.Equals(modelName, info.Model.Name, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"checkpoint '{path}' holds model '{info.Model.Name}', not '{modelName}' (--model is for checkpoints that do not record their model)");
        if (info.InputShape != Shape.Of(test.Channels, test.Height, test.Width) || info.Classes != test.Classes)
            throw new ArgumentException($"checkpoint '{path}' takes {info.InputShape} images in {info.Classes} classes; '{test.Name}' has {Shape.Of(test.Channels, test.Height, test.Width)} images in {test.Classes} classes");
        if (NonFiniteTensor.Describe($"checkpoint '{path}'", ModelCheckpoint.FindNonFinite(path)) is { } nonFinite)
            CliErrors.Warn(nonFinite + "; its outputs will not be meaningful");
        var normalization = info.Normalization ?? LegacyNormalization(path, dataName, dataDir);
        var device = Tensors.Device.Parse(deviceText);
        using var loader = new DataLoader(test, batch, shuffle: false, normalization, null, 0, dropLast: false);
        var report = new ClassificationReport(test.Classes, test.ClassNames);
        if (tta.Views == 1)
        {
            // Forward-only: a session's plans hold no loss or gradient buffers, and its model no gradient memory.
            using var session = InferenceSession.Load(path, new InferenceSessionOptions { Device = device, MaxBatchSize = batch, PlanBatchSizes = [batch], MaxConcurrency = 1 },
                new CheckpointLoadOptions { Model = info.Model.Name, InputShape = info.InputShape, Classes = info.Classes, ClassNames = info.ClassNames });
            var (loss, acc) = SessionEvaluation.Evaluate(session, loader, report);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{session.ModelName} on {test.Name} ({test.Count:N0} images): loss {loss:F4}, accuracy {acc * 100:F2}%"));
        }
        else
        {
            using var backend = BackendFactory.Create(device);
            using var model = info.CreateModel(backend);
            using var evaluator = new Evaluator(model, new CrossEntropyLoss(), batch);
            var m = evaluator.EvaluateWithTta(loader, tta, report);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{model.Name} on {test.Name} ({test.Count:N0} images): loss {m.PlainLoss:F4}, accuracy {m.PlainAccuracy * 100:F2}% without TTA"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"with TTA {ttaText} ({m.Views} views, mean softmax): loss {m.Loss:F4}, accuracy {m.Accuracy * 100:F2}% (the report below uses these predictions)"));
        }
        Console.WriteLine();
        Console.Write(report);
        return 0;
    }

    /// <summary><see cref="CheckpointInfo.Read"/>, its "supply CheckpointLoadOptions.Model" in this command's words.</summary>
    private static CheckpointInfo ReadInfo(string path, CheckpointLoadOptions options)
    {
        try { return CheckpointInfo.Read(path, options); }
        catch (CheckpointMetadataException e) when (e.Option == "CheckpointLoadOptions.Model")
        {
            throw new CheckpointMetadataException(e.Path, e.Key, e.Message.Replace("supply it as " + e.Option, "pass --model"), inner: e);
        }
    }

    /// <summary>
    /// A checkpoint written before checkpoints recorded their normalisation: recompute it from the training split, as
    /// training did (the only reason eval would read the training set).
    /// </summary>
    private static Normalization LegacyNormalization(string path, string dataName, string? dataDir)
    {
        Console.Error.WriteLine($"note: checkpoint '{path}' does not record its input normalisation ({CheckpointInfo.NormalizationKey}); recomputing it from the training split of {dataName}");
        try { return Normalization.FromDataset(DatasetCatalog.Load(dataName, dataDir, train: true)); }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException($"checkpoint '{path}' does not record its input normalisation, and the training split it is recomputed from was not found:\n{e.Message}", e.FileName, e);
        }
    }
}
