using System.CommandLine;
using DeepTrain.Backends.Cpu;
using DeepTrain.Inference;
using DeepTrain.Modeling;
using DeepTrain.Mixed;
using static DeepTrain.Cli.Commands.CommonOptions;

namespace DeepTrain.Cli.Commands;

/// <summary><c>deeptrain plan</c>: the memory plan of a model at a batch size, before anything runs.</summary>
internal static class PlanCommand
{
    public static Command Create()
    {
        var model = Model();
        var batch = BatchSize(128);
        var input = Input();
        var classes = Classes();
        var layout = Layout();
        var eval = new Option<bool>("--eval") { Description = "Plan inference instead of training" };
        var precision = new Option<string>("--precision") { Description = "fp32, fp16 or bf16: 16-bit plans store activations and their gradients in half the bytes", DefaultValueFactory = _ => "fp32" };
        var concurrency = new Option<int>("--concurrency") { Description = "With --eval: execution contexts of an inference session (requests computing at once)", DefaultValueFactory = _ => 4 };
        var stateCopies = new Option<int>("--optimizer-state") { Description = "Parameter-sized optimizer buffers (SGD with momentum: 1, Adam: 2)", DefaultValueFactory = _ => 1 };
        var cmd = new Command("plan", "Print the memory plan: parameters, gradients, optimizer state, activations (arena), workspace, peak")
            { model, batch, input, classes, layout, eval, stateCopies, precision, concurrency };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(model)!, r.GetValue(batch), r.GetValue(input), r.GetValue(classes), r.GetValue(layout)!, r.GetValue(eval), r.GetValue(stateCopies), r.GetValue(precision)!, r.GetValue(concurrency))));
        return cmd;
    }

    private static int Run(string modelName, int batch, string? input, int? classes, string layout, bool eval, int stateCopies, string precisionName, int concurrency)
    {
        var precision = PrecisionInfo.Parse(precisionName);
        var graph = BuildModel(modelName, input, classes);
        var plan = Planner.Build(graph, batch, training: !eval, ParseLayout(layout), precision);
        using var cpu = new CpuBackend();
        var r = MemoryReport.For(graph, plan, stateCopies, cpu);
        var (p, b) = DeepTrain.Modeling.Model.Count(graph);
        Console.WriteLine($"model {graph.Name}: input {graph.InputShape}, {graph.Nodes.Count} layers, {p:N0} trainable parameters, {b:N0} buffer values");
        Console.WriteLine($"plan: {(eval ? "evaluation" : "training")}, batch {batch}, {plan.Layout}, {precision.Name()}, {plan.InPlaceCount} layers in place, {(plan.Training ? $"{plan.FusedCount} batch norm + ReLU pairs fused (on backends that fuse them), " : "")}{plan.Buffers.Count} arena buffers");
        void Row(string what, long bytes, string note = "") => Console.WriteLine($"  {what,-22} {Bytes(bytes),12}  {note}");
        Row("parameters", r.Parameters, precision == Precision.Float32 ? "" : "fp32 master weights");
        if (r.WorkingCopy > 0) Row("working copy", r.WorkingCopy, $"{precision.Name()} copy of the weights");
        Row("gradients", r.Gradients);
        Row("optimizer state", r.OptimizerState, stateCopies > 0 && !eval ? $"{stateCopies} × parameters" : "");
        Row("buffers", r.Buffers, "batch-norm running statistics");
        Row("activations (arena)", r.Activations, $"{(precision == Precision.Float32 ? "" : $"{precision.Name()}, logits fp32; ")}packed by lifetime; {Bytes(r.ActivationsUnpacked)} unpacked ({(double)r.ActivationsUnpacked / Math.Max(r.Activations, 1):F1}×)");
        Row("input", r.Input);
        Row("workspace", r.Workspace, "largest convolution scratch (cpu backend)");
        Row("peak", r.Peak);
        if (!eval) return 0;
        // What an InferenceSession at this largest batch holds: the weights once, one arena per context for its largest plan.
        var s = InferenceMemoryReport.For(graph, new InferenceSessionOptions
            { MaxBatchSize = batch, MaxConcurrency = concurrency, Layout = plan.Layout, Precision = precision }, cpu);
        Console.WriteLine($"inference session: plan sizes {string.Join(", ", s.PlanSizes)} (a request pads up to the next), {s.Contexts} context(s) at most");
        Row("weights", s.Weights + s.WorkingCopy, "parameters and buffers, once, shared read-only");
        if (s.PreparedWeights > 0) Row("prepared weights", s.PreparedWeights, "convolution weights packed (and Winograd-transformed) for the cpu kernels, once");
        Row("per context", s.ContextBytes, "one arena for the largest plan, input, workspace");
        Row("session bound", s.Total, $"weights{(s.PreparedWeights > 0 ? " + prepared" : "")} + {s.Contexts} × per context");
        Row("pinned host (cuda)", s.CudaStagingBytes, "per context on a GPU: staging for the largest plan's input and output");
        return 0;
    }
}
