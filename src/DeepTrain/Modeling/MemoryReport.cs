using DeepTrain.Backends;
using DeepTrain.Layers;
using DeepTrain.Memory;
using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Modeling;

/// <summary>
/// Device memory of one training (or evaluation) configuration, in bytes, known before anything runs:
/// the flat parameter, gradient and optimizer-state allocations, the buffers, the activation arena,
/// the data input and the largest convolution workspace.
/// </summary>
public sealed record MemoryReport(long Parameters, long Gradients, long OptimizerState, long Buffers, long Activations, long ActivationsUnpacked, long Input, long Workspace)
{
    /// <summary>The 16-bit working copy of the weights a 16-bit plan reads (0 at fp32).</summary>
    public long WorkingCopy { get; init; }

    /// <summary>The sum: what the device must hold at the busiest moment of a step.</summary>
    public long Peak => Parameters + WorkingCopy + Gradients + OptimizerState + Buffers + Activations + Input + Workspace;

    /// <summary>
    /// Builds the report for <paramref name="plan"/> of <paramref name="graph"/>. <paramref name="optimizerStateCopies"/>
    /// is how many parameter-sized state buffers the optimizer keeps (SGD with momentum 1, Adam 2).
    /// </summary>
    public static MemoryReport For(ModelGraph graph, MemoryPlan plan, int optimizerStateCopies, IBackend? backend = null)
    {
        var (pf, bf) = ParameterSet.PlannedFloats(graph.Nodes.Select(n => n.Layer));
        long workspace = 0;
        if (backend is not null)
            foreach (var n in graph.Nodes)
                if (n.Layer is Conv2d conv)
                    workspace = Math.Max(workspace, backend.Conv2dWorkspaceBytes(plan.Shapes[n.Inputs[0]], conv.Parameters[0].Shape, conv.Spec,
                        plan.Layout, plan.Precision.ActivationDType()));
        return new MemoryReport(pf * 4, plan.Training ? pf * 4 : 0, plan.Training ? optimizerStateCopies * pf * 4 : 0, bf * 4,
            plan.ArenaBytes, plan.UnpackedBytes, plan.InputBytes, workspace)
        {
            WorkingCopy = plan.Precision == Mixed.Precision.Float32 ? 0 : pf * plan.Precision.ActivationDType().Size(),
        };
    }
}
