using DeepTrain.Backends;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;

namespace DeepTrain.Training;

/// <summary>"Precise" batch-norm statistics (Wu and Johnson 2021, "Rethinking batch in BatchNorm"): see <see cref="Recompute"/>.</summary>
internal static class PreciseBatchNorm
{
    /// <summary>
    /// "Precise" batch-norm statistics for evaluation: recomputes every batch norm's running mean and
    /// variance as the plain average of the batch statistics over <paramref name="batches"/> training
    /// batches (momentum 1/(1+n) for the n-th batch, the cumulative mode), with the current weights. All
    /// layers are updated in one forward pass per batch: in training mode each layer normalises with its
    /// batch's statistics, so a layer's inputs do not depend on the running statistics being recomputed
    /// upstream. Weights, optimizer state and the step counters are left as they are.
    /// </summary>
    /// <returns>The number of batches used.</returns>
    public static int Recompute(IBackend backend, Loss loss, Plan plan, BatchNorm[] norms, int accumulation, DataLoader loader, int batches, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        if (norms.Length == 0) return 0;
        var momenta = norms.Select(b => b.Momentum).ToArray();
        long iteration = plan.State.Iteration;
        int n = 0;
        try
        {
            foreach (var batch in loader.Epoch(epoch))
            {
                for (int k = 0; k < accumulation && n < batches; k++)
                {
                    PlanInput.Load(backend, loss, plan, batch, k * plan.BatchSize);
                    foreach (var bn in norms) bn.Momentum = 1.0 / (n + 1);
                    plan.Forward();
                    n++;
                }
                if (n >= batches) break;
            }
        }
        finally
        {
            for (int i = 0; i < norms.Length; i++) norms[i].Momentum = momenta[i];
            plan.State.Iteration = iteration;
        }
        return n;
    }
}
