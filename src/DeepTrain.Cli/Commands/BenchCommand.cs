using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Graph;
using DeepTrain.Losses;
using DeepTrain.Optim;
using DeepTrain.Utils;
using static DeepTrain.Cli.Commands.CommonOptions;

namespace DeepTrain.Cli.Commands;

/// <summary>
/// <c>deeptrain bench</c>: training-step throughput (forward, loss, backward, SGD step) on synthetic data,
/// the figure benchmarks/reference scripts measure for PyTorch on the same workload.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = Model("resnet20");
        var batch = BatchSize(128);
        var input = Input();
        var classes = Classes();
        var steps = new Option<int>("--steps") { Description = "Timed training steps", DefaultValueFactory = _ => 20 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps first", DefaultValueFactory = _ => 3 };
        var device = Device();
        var threads = new Option<int?>("--threads") { Description = "CPU backend threads" };
        var layout = Layout();
        var profile = new Option<bool>("--profile") { Description = "Also time every layer kind (synchronises after each layer)" };
        var cmd = new Command("bench", "Measure training throughput on synthetic data") { model, batch, input, classes, steps, warmup, device, threads, layout, profile };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(model)!, r.GetValue(batch), r.GetValue(input), r.GetValue(classes), r.GetValue(steps),
            r.GetValue(warmup), r.GetValue(device)!, r.GetValue(threads), r.GetValue(layout)!, r.GetValue(profile))));
        return cmd;
    }

    private static int Run(string modelName, int batch, string? input, int? classes, int steps, int warmup, string deviceText, int? threads, string layout, bool profile)
    {
        if (steps < 1) throw new ArgumentException($"--steps must be ≥ 1, got {steps}");
        if (threads is { } t) CpuParallel.Threads = t;
        using var backend = BackendFactory.Create(Tensors.Device.Parse(deviceText));
        var graph = BuildModel(modelName, input, classes);
        using var model = new Model(graph, backend, 1);
        using var plan = model.Compile(batch, training: true, new CrossEntropyLoss(), ParseLayout(layout));
        using var opt = new SGD(model.Parameters, 0.01f, 0.9f, 5e-4f);
        var rng = new Rng(7);
        var x = new float[plan.Input.Elements];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextNormal();
        var y = new int[batch];
        int k = (int)plan.Output.Shape.C;
        for (int i = 0; i < y.Length; i++) y[i] = rng.NextInt(k);
        backend.CopyFromHost<float>(x, plan.Input);
        backend.CopyFromHost<int>(y, plan.Target);
        for (int i = 0; i < warmup; i++) { plan.TrainStep(); opt.Step(); }
        backend.Synchronize();
        long gcBefore = GC.GetTotalAllocatedBytes(precise: true);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) { plan.TrainStep(); opt.Step(); }
        backend.Synchronize();
        double sec = sw.Elapsed.TotalSeconds;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - gcBefore;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{graph.Name} {graph.InputShape} batch {batch} on {backend.Description}: {steps * (double)batch / sec:F1} images/s, {sec / steps * 1000:F1} ms/step, {allocated / steps:N0} managed bytes allocated per step"));
        if (!profile) return 0;
        var timings = new LayerTimings(graph.Nodes.Count);
        plan.Profile = timings;
        for (int i = 0; i < steps; i++) { plan.TrainStep(); opt.Step(); }
        Console.WriteLine($"{"layer kind",-20} {"forward ms",11} {"backward ms",12}   (per step)");
        foreach (var (kind, f, b) in timings.ByKind())
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kind,-20} {f / steps * 1000,11:F2} {b / steps * 1000,12:F2}"));
        return 0;
    }
}
