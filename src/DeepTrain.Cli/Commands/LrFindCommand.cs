using System.CommandLine;
using System.Globalization;
using DeepTrain.Backends;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Optim;
using DeepTrain.Training;
using static DeepTrain.Cli.Commands.CommonOptions;

namespace DeepTrain.Cli.Commands;

/// <summary>
/// <c>deeptrain lr-find</c>: the learning-rate range test (Smith 2017). The rate grows exponentially
/// from --start to --end over --steps training steps from fresh weights; the loss (smoothed, as fastai
/// does, with an exponential average and bias correction) is printed against the rate, and the search
/// stops once it exceeds 4× its minimum. The suggestion is the rate of the steepest descent of the
/// smoothed loss: a coarse value to refine with short runs around it.
/// </summary>
internal static class LrFindCommand
{
    public static Command Create()
    {
        var model = Model("resnet20");
        var data = new Option<string>("--data") { Description = "Data set: " + string.Join(", ", DatasetCatalog.Names), DefaultValueFactory = _ => "fashion-mnist" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the data set's files" };
        var batch = BatchSize(128);
        var start = new Option<float>("--start") { Description = "First learning rate", DefaultValueFactory = _ => 1e-5f };
        var end = new Option<float>("--end") { Description = "Last learning rate", DefaultValueFactory = _ => 10f };
        var steps = new Option<int>("--steps") { Description = "Training steps in the sweep", DefaultValueFactory = _ => 100 };
        var momentum = new Option<float>("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => 0.9f };
        var device = Device();
        var seed = new Option<ulong>("--seed") { Description = "Seed", DefaultValueFactory = _ => 1UL };
        var cmd = new Command("lr-find", "Learning-rate range test: loss against an exponentially growing rate, and a suggested rate")
            { model, data, dataDir, batch, start, end, steps, momentum, device, seed };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(model)!, r.GetValue(data)!, r.GetValue(dataDir), r.GetValue(batch), r.GetValue(start),
            r.GetValue(end), r.GetValue(steps), r.GetValue(momentum), r.GetValue(device)!, r.GetValue(seed))));
        return cmd;
    }

    private static int Run(string modelName, string dataName, string? dataDir, int batch, float start, float end, int steps, float momentum, string deviceText, ulong seed)
    {
        if (!(start > 0) || !(end > start)) throw new ArgumentException($"--start and --end must satisfy 0 < start < end, got {start} and {end}");
        if (steps < 10) throw new ArgumentException($"--steps must be ≥ 10, got {steps}");
        using var backend = BackendFactory.Create(Tensors.Device.Parse(deviceText));
        var train = DatasetCatalog.Load(dataName, dataDir, train: true);
        DatasetChecks.EnsureNotEmpty(train, "training set");
        var graph = Zoo.ModelZoo.Create(modelName, train.Channels, train.Classes, train.Height);
        using var loader = new DataLoader(train, batch, shuffle: true, Normalization.FromDataset(train), null, seed, dropLast: true);
        using var model = new DeepTrain.Modeling.Model(graph, backend, seed);
        using var opt = new SGD(model.Parameters, start, momentum);
        float gamma = (float)Math.Pow(end / start, 1.0 / (steps - 1));
        using var trainer = new Trainer(model, opt, new ExponentialLr(start, gamma), new CrossEntropyLoss(), batch, seed: seed) { SyncEvery = 1 };   // the sweep needs every step's loss
        var points = new List<(double Lr, double Loss)>();
        double avg = 0, best = double.PositiveInfinity;
        const double beta = 0.98;
        Console.WriteLine($"{"step",5} {"lr",10} {"loss",9} {"smoothed",9}");
        try
        {
            for (int epoch = 0; points.Count < steps; epoch++)
            {
                using var cts = new CancellationTokenSource();
                try
                {
                    trainer.TrainEpoch(loader, epoch, s =>
                    {
                        avg = beta * avg + (1 - beta) * s.Loss;
                        double smooth = avg / (1 - Math.Pow(beta, points.Count + 1));
                        points.Add((s.Lr, smooth));
                        best = Math.Min(best, smooth);
                        if (points.Count % Math.Max(1, steps / 25) == 0 || points.Count == 1)
                            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{points.Count,5} {s.Lr,10:0.00e+00} {s.Loss,9:F4} {smooth,9:F4}"));
                        if (points.Count >= steps || smooth > 4 * best) cts.Cancel();
                    }, cts.Token);
                }
                catch (OperationCanceledException) { break; }
            }
        }
        catch (NonFiniteLossException) { Console.WriteLine("the loss diverged (non-finite): the sweep stops here"); }
        if (points.Count < 5) throw new InvalidOperationException("the sweep stopped after fewer than 5 steps; lower --start");
        // Steepest descent of the smoothed loss against log(lr), over the part before the minimum.
        int minAt = points.FindIndex(p => p.Loss == points.Min(q => q.Loss));
        int bestK = 1;
        double steepest = double.PositiveInfinity;
        for (int k = 1; k <= minAt; k++)
        {
            double slope = (points[k].Loss - points[k - 1].Loss) / (Math.Log(points[k].Lr) - Math.Log(points[k - 1].Lr));
            if (slope < steepest) { steepest = slope; bestK = k; }
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"minimum smoothed loss {points[minAt].Loss:F4} at lr {points[minAt].Lr:0.00e+00}; steepest descent at lr {points[bestK].Lr:0.00e+00}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"suggested learning rate: {points[bestK].Lr:0.00e+00} (or {points[minAt].Lr / 10:0.00e+00}, a tenth of the minimum's); refine with short runs around it"));
        return 0;
    }
}
