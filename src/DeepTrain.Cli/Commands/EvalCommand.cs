using System.CommandLine;
using System.Globalization;
using DeepTrain.Backends;
using DeepTrain.Data;
using DeepTrain.Graph;
using DeepTrain.Losses;
using DeepTrain.Training;
using static DeepTrain.Cli.Commands.CommonOptions;

namespace DeepTrain.Cli.Commands;

/// <summary><c>deeptrain eval</c>: test loss and accuracy of a checkpoint.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var ckpt = new Option<string>("--checkpoint", "-c") { Description = "A model.safetensors written by 'deeptrain train'", Required = true };
        var data = new Option<string?>("--data") { Description = "Data set (default: the one recorded in the checkpoint)" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the data set's files" };
        var model = new Option<string?>("--model", "-m") { Description = "Model (default: the one recorded in the checkpoint)" };
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
        modelName ??= meta.GetValueOrDefault("model") ?? throw new ArgumentException($"checkpoint '{path}' does not record its model; pass --model");
        using var backend = BackendFactory.Create(Tensors.Device.Parse(deviceText));
        var train = DatasetCatalog.Load(dataName, dataDir, train: true);
        var test = DatasetCatalog.Load(dataName, dataDir, train: false);
        DatasetChecks.EnsureCompatible(train, test: test);
        var graph = Models.ModelZoo.Create(modelName, test.Channels, test.Classes, test.Height);
        using var model = new Model(graph, backend);
        ModelCheckpoint.Load(model, path);
        using var loader = new DataLoader(test, batch, shuffle: false, Normalization.FromDataset(train), null, 0, dropLast: false);
        using var evaluator = new Evaluator(model, new CrossEntropyLoss(), batch);
        var report = new ClassificationReport(test.Classes, test.ClassNames);
        if (tta.Views == 1)
        {
            var (loss, acc) = evaluator.Evaluate(loader, report);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{graph.Name} on {test.Name} ({test.Count:N0} images): loss {loss:F4}, accuracy {acc * 100:F2}%"));
        }
        else
        {
            var m = evaluator.EvaluateWithTta(loader, tta, report);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{graph.Name} on {test.Name} ({test.Count:N0} images): loss {m.PlainLoss:F4}, accuracy {m.PlainAccuracy * 100:F2}% without TTA"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"with TTA {ttaText} ({m.Views} views, mean softmax): loss {m.Loss:F4}, accuracy {m.Accuracy * 100:F2}% (the report below uses these predictions)"));
        }
        Console.WriteLine();
        Console.Write(report);
        return 0;
    }
}
