using DeepTrain.Backends;
using DeepTrain.Inference;
using DeepTrain.Losses;
using DeepTrain.Modeling;
using DeepTrain.Training;
using static DeepTrain.InferenceBench.LatencyMode;

namespace DeepTrain.InferenceBench;

/// <summary>
/// Where the forward time goes (<see cref="Plan.Profile"/>, synchronising after each layer): seconds per layer kind over ITERS
/// passes of the evaluation plan as compiled and as an inference session folds it (<see cref="InferenceFusion"/>).
/// </summary>
internal static class ProfileMode
{
    public static void Run(Workload w, int iters)
    {
        using var backend = BackendFactory.Create(w.Device);
        using var model = ModelCheckpoint.LoadModel(w.Checkpoint, backend);
        using var folded = InferenceFusion.Fold(model);
        foreach (var (label, m) in new[] { ("as compiled", model), ("folded", folded) })
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
        }
    }
}
