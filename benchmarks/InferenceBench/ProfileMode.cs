using DeepTrain.Backends;
using DeepTrain.Inference;
using DeepTrain.Losses;
using DeepTrain.Modeling;
using DeepTrain.Training;
using static DeepTrain.InferenceBench.LatencyMode;

namespace DeepTrain.InferenceBench;

/// <summary>
/// Where the forward time goes (<see cref="Plan.Profile"/>, synchronising after each layer): seconds per layer kind over ITERS
/// passes of the evaluation plan as compiled, as an inference session folds it (<see cref="InferenceFusion"/>), and as a CPU
/// session runs it (folded, the convolutions' weights prepared once); for the last, also each layer's fastest pass (the figure
/// least disturbed by other processes) and their sum.
/// </summary>
internal static class ProfileMode
{
    public static void Run(Workload w, int iters)
    {
        using var backend = BackendFactory.Create(w.Device);
        using var model = ModelCheckpoint.LoadModel(w.Checkpoint, backend);
        using var folded = InferenceFusion.Fold(model);
        using var prepared = InferenceFusion.Fold(model);
        if (backend is Backends.Cpu.CpuBackend) InferenceSession.PrepareConvWeights(prepared);
        foreach (var (label, m) in new[] { ("as compiled", model), ("folded", folded), ("session", prepared) })
        {
            using var plan = m.Compile(w.Batch, training: false, new CrossEntropyLoss());
            backend.CopyFromHost<float>(w.Input, plan.Input);
            plan.Forward();
            plan.Profile = new LayerTimings(m.Graph.Nodes.Count);
            for (int i = 0; i < iters; i++) plan.Forward();
            var kinds = plan.Profile.ByKind();
            double total = kinds.Sum(k => k.Forward);
            Console.WriteLine(Inv($"profile {w.ModelName} batch {w.Batch} {label}: {total * 1000 / iters:F3} ms per forward; ")
                + string.Join(", ", kinds.Select(k => Inv($"{k.Kind} {k.Forward * 1000 / iters:F3} ms ({100 * k.Forward / total:F0}%)"))));
            if (m != prepared) continue;
            var best = new double[m.Graph.Nodes.Count];
            Array.Fill(best, double.MaxValue);
            IReadOnlyList<(string Name, string Kind, double Forward, double Backward)> layers = [];
            for (int i = 0; i < iters; i++)
            {
                plan.Profile = new LayerTimings(m.Graph.Nodes.Count);
                plan.Forward();
                layers = plan.Profile.ByLayer();
                for (int j = 0; j < layers.Count; j++) best[j] = Math.Min(best[j], layers[j].Forward);
            }
            Console.WriteLine(Inv($"profile {w.ModelName} batch {w.Batch} session, each layer's fastest of {iters} passes (µs): {best.Take(layers.Count).Sum() * 1e6:F1} in all; ")
                + string.Join(", ", layers.Select((l, j) => Inv($"{l.Name} {best[j] * 1e6:F1}"))));
        }
    }
}
