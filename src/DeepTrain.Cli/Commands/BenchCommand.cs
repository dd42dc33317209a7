using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Backends.Cuda;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Optim;
using DeepTrain.Training;
using DeepTrain.Utils;
using static DeepTrain.Cli.Commands.CommonOptions;

namespace DeepTrain.Cli.Commands;

/// <summary>
/// <c>deeptrain bench</c>: training-step throughput on one synthetic batch resident on the device — forward,
/// cross-entropy, backward, the optimizer step, and at fp16 the loss scaler's unscale and update — the step
/// <see cref="Trainer.StepLoadedBatch"/> runs, and the figure benchmarks/reference/pytorch_gpu_train.py measures for
/// PyTorch on the same workload. <c>--json</c> prints one JSON line with that script's keys, so
/// benchmarks/gpu_vs_pytorch.sh can pair the two.
/// </summary>
internal static class BenchCommand
{
    private static readonly string[] s_optimizers = ["sgd", "adamw"];

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
        var precision = new Option<string>("--precision")
        {
            Description = "fp32, fp16 or bf16: 16-bit activations and weight copies over fp32 master weights; fp16 runs the dynamic loss scaler, as training does",
            DefaultValueFactory = _ => "fp32",
        };
        var optimizer = new Option<string>("--optimizer")
        {
            Description = "sgd (lr 0.01, momentum 0.9, weight decay 5e-4: the PyTorch reference's) or adamw (lr 1e-3, decoupled weight decay 0.01)",
            DefaultValueFactory = _ => "sgd",
        };
        optimizer.AcceptOnlyFromAmong(s_optimizers);
        var json = new Option<bool>("--json") { Description = "Print one JSON line (the keys of benchmarks/reference/pytorch_gpu_train.py) instead of text" };
        var profile = new Option<bool>("--profile") { Description = "Also time every layer kind (synchronises after each layer)" };
        var cmd = new Command("bench", "Measure training throughput on synthetic data")
            { model, batch, input, classes, steps, warmup, device, threads, layout, precision, optimizer, json, profile };
        cmd.SetAction(r => CliErrors.Run(() => Run(new Args(r.GetValue(model)!, r.GetValue(batch), r.GetValue(input), r.GetValue(classes), r.GetValue(steps),
            r.GetValue(warmup), r.GetValue(device)!, r.GetValue(threads), r.GetValue(layout)!, r.GetValue(precision)!, r.GetValue(optimizer)!,
            r.GetValue(json), r.GetValue(profile)))));
        return cmd;
    }

    private sealed record Args(string Model, int Batch, string? Input, int? Classes, int Steps, int Warmup, string Device, int? Threads,
        string Layout, string Precision, string Optimizer, bool Json, bool Profile);

    private static int Run(Args a)
    {
        if (a.Steps < 1) throw new ArgumentException($"--steps must be ≥ 1, got {a.Steps}");
        if (a.Warmup < 0) throw new ArgumentException($"--warmup must be ≥ 0, got {a.Warmup}");
        var precision = PrecisionInfo.Parse(a.Precision);
        var layout = ParseLayout(a.Layout);
        if (a.Threads is { } t) CpuBackend.Threads = t;
        using var backend = BackendFactory.Create(Tensors.Device.Parse(a.Device));
        var graph = BuildModel(a.Model, a.Input, a.Classes);
        using var model = new Model(graph, backend, 1);
        using Optimizer opt = a.Optimizer == "adamw"
            ? new AdamW(model.Parameters, 1e-3f, weightDecay: 0.01f)
            : new SGD(model.Parameters, 0.01f, 0.9f, 5e-4f);
        // The Trainer compiles the plan at this precision and, at fp16, turns on the dynamic loss scaler, as `deeptrain train` does.
        using var trainer = new Trainer(model, opt, new ConstantLr(opt.LearningRate), new CrossEntropyLoss(), a.Batch, layout: layout, precision: precision);
        var plan = trainer.TrainPlan;
        var rng = new Rng(7);
        var x = new float[plan.Input.Elements];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextNormal();
        var y = new int[a.Batch];
        int k = (int)plan.Output.Shape.C;
        for (int i = 0; i < y.Length; i++) y[i] = rng.NextInt(k);
        backend.CopyFromHost<float>(x, plan.Input);
        backend.CopyFromHost<int>(y, plan.Target);
        for (int i = 0; i < a.Warmup; i++) trainer.StepLoadedBatch();
        long takenBefore = trainer.Scaler?.Read().StepCount ?? 0;   // Read synchronises, so it stays outside the timed region

        // The timed region: synchronised on both sides (the whole run's wall time gives images/s, as PyTorch's script
        // measures it); the marks between steps (CUDA events on the GPU) give the per-step median and 90th percentile.
        using var clock = new StepClock(backend, a.Steps + 1);
        backend.Synchronize();
        long gcBefore = GC.GetTotalAllocatedBytes(precise: true);
        var sw = Stopwatch.StartNew();
        clock.Mark();
        for (int i = 0; i < a.Steps; i++) { trainer.StepLoadedBatch(); clock.Mark(); }
        backend.Synchronize();
        double sec = sw.Elapsed.TotalSeconds;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - gcBefore;
        var stepMs = clock.IntervalsMs();
        long skipped = trainer.Scaler is { } sc ? a.Steps - (sc.Read().StepCount - takenBefore) : 0;
        var memory = MemoryReport.For(graph, plan.Memory, opt is Adam ? 2 : 1, backend);
        var r = new Result(a.Model, a.Batch, InputText(graph), precision.Name(), a.Layout.ToLowerInvariant(), a.Optimizer, backend.Description,
            a.Steps * (double)a.Batch / sec, sec / a.Steps * 1000, StepClock.Median(stepMs), StepClock.Quantile(stepMs, 0.9), clock.Source, a.Steps, a.Warmup,
            memory.Peak, (backend as CudaBackend)?.LiveBytes, allocated / a.Steps, trainer.Scaler?.Options.ToString(), skipped);
        Console.WriteLine(a.Json ? r.ToJson() : r.ToText(graph.Name, graph.InputShape.ToString()));
        if (!a.Profile) return 0;
        var timings = new LayerTimings(graph.Nodes.Count);
        plan.Profile = timings;
        for (int i = 0; i < a.Steps; i++) trainer.StepLoadedBatch();
        plan.Profile = null;
        Console.WriteLine($"{"layer kind",-20} {"forward ms",11} {"backward ms",12}   (per step)");
        foreach (var (kind, f, b) in timings.ByKind())
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kind,-20} {f / a.Steps * 1000,11:F2} {b / a.Steps * 1000,12:F2}"));
        return 0;
    }

    /// <summary>"CxHxW" for an image model (pytorch_gpu_train.py's "input"), the shape otherwise.</summary>
    private static string InputText(ModelGraph graph) =>
        graph.InputShape.Rank == 3 ? $"{graph.InputShape[0]}x{graph.InputShape[1]}x{graph.InputShape[2]}" : graph.InputShape.ToString();

    /// <summary>One bench run's figures.</summary>
    /// <param name="PeakBytes">The memory plan's peak (parameters, working copy, gradients, optimizer state, buffers, arena, input, workspace).</param>
    /// <param name="DeviceLiveBytes">What the CUDA backend holds allocated after the run (null on the CPU).</param>
    /// <param name="LossScale">The loss scaler's settings, or null without one.</param>
    /// <param name="SkippedSteps">Timed steps the loss scaler skipped on a non-finite gradient (they still ran every kernel).</param>
    private sealed record Result(string Model, int Batch, string Input, string Precision, string Layout, string Optimizer, string Device,
        double ImagesPerS, double MsPerStep, double StepMsMedian, double StepMsP90, string Timer, int Steps, int Warmup,
        long PeakBytes, long? DeviceLiveBytes, long ManagedBytesPerStep, string? LossScale, long SkippedSteps)
    {
        public string ToText(string graphName, string shape) => string.Create(CultureInfo.InvariantCulture,
            $"{graphName} {shape} batch {Batch} {Precision} {Layout} {Optimizer} on {Device}: {ImagesPerS:F1} images/s, {MsPerStep:F1} ms/step " +
            $"(median {StepMsMedian:F2}, p90 {StepMsP90:F2} by {Timer}), {ManagedBytesPerStep:N0} managed bytes allocated per step, " +
            $"planned peak {Bytes(PeakBytes)}{(LossScale is null ? "" : $", loss scale {LossScale}, {SkippedSteps} of {Steps} steps skipped")}");

        /// <summary>pytorch_gpu_train.py's keys (model, batch, input, precision, layout, images_per_s, ms_per_step, steps, warmup,
        /// peak_mem_bytes, device, impl) and DeepTrain's own (optimizer, step_ms_median, step_ms_p90, timer, peak_mem_source, …).</summary>
        public string ToJson() => JsonLine(w =>
        {
            w.WriteString("model", Model);
            w.WriteNumber("batch", Batch);
            w.WriteString("input", Input);
            w.WriteString("precision", Precision);
            w.WriteString("layout", Layout);
            w.WriteString("optimizer", Optimizer);
            w.WriteNumber("images_per_s", Math.Round(ImagesPerS, 1));
            w.WriteNumber("ms_per_step", Math.Round(MsPerStep, 3));
            w.WriteNumber("step_ms_median", Math.Round(StepMsMedian, 3));
            w.WriteNumber("step_ms_p90", Math.Round(StepMsP90, 3));
            w.WriteString("timer", Timer);
            w.WriteNumber("steps", Steps);
            w.WriteNumber("warmup", Warmup);
            w.WriteNumber("peak_mem_bytes", PeakBytes);
            w.WriteString("peak_mem_source", "memory plan");
            if (DeviceLiveBytes is long live) w.WriteNumber("device_live_bytes", live); else w.WriteNull("device_live_bytes");
            w.WriteNumber("managed_bytes_per_step", ManagedBytesPerStep);
            if (LossScale is null) w.WriteNull("loss_scale"); else w.WriteString("loss_scale", LossScale);
            w.WriteNumber("skipped_steps", SkippedSteps);
            w.WriteString("device", Device);
            w.WriteString("impl", $"deeptrain {typeof(IBackend).Assembly.GetName().Version}");
        });
    }

    /// <summary>One JSON object on one line, written by <paramref name="body"/>.</summary>
    internal static string JsonLine(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
