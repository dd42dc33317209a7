using DeepTrain.Layers;
using DeepTrain.Modeling;
using DeepTrain.Tensors;

namespace DeepTrain.Benchmarks.Roofline;

/// <summary>
/// The work one layer does in one pass: FLOPs for a convolution (2·N·K·OH·OW·(C/groups)·KH·KW forward; the same again
/// for the filter gradient and, unless its input is the graph input, for the data gradient), and for the memory-bound
/// layers the bytes the current CPU kernels move (fp32, E = output elements):
/// BatchNorm2d training forward 16E (two statistics passes over x, then read x and write y), evaluation forward 8E,
/// backward 20E (one pass reading x and dy for the sums, one reading x and dy and writing dx); ReLU forward 8E,
/// backward 12E (y, dy, dx); Add forward 12E, backward 8E per input whose gradient is a copy of dy, 12E per input that
/// adds dy to its gradient, nothing for an input whose gradient is dy's own buffer (the planner's shared join gradients).
/// A batch norm fused with its ReLU (profiled as "BatchNorm2d+ReLU", the ReLU then absent): forward 16E as the batch
/// norm alone (its normalising pass writes max(y, 0)), backward 24E (the summing pass reads x and dz and writes the masked
/// gradient over dz, the dx pass reads x and it and writes dx).
/// </summary>
internal readonly record struct LayerCost(string Group, bool IsConv, double ForwardUnits, double BackwardUnits)
{
    /// <summary>The cost of node <paramref name="i"/> of <paramref name="graph"/> at the shapes of <paramref name="shapes"/>
    /// (<see cref="ModelGraph.InferShapes"/>), or null for a layer outside the roofline (pools, linear, shortcut…).</summary>
    /// <param name="kind">The kind the profile timed the layer as ("BatchNorm2d+ReLU" for a fused pair).</param>
    public static LayerCost? Of(ModelGraph graph, Shape[] shapes, int i, MemoryPlan memory, string kind)
    {
        bool training = memory.Training;
        var node = graph.Nodes[i];
        var y = shapes[node.Output];
        double e = y.Elements;
        switch (node.Layer)
        {
            case Conv2d c:
                var x = shapes[node.Inputs[0]];
                double fwd = 2.0 * y[0] * c.OutChannels * y[2] * y[3] * (c.InChannels / c.Spec.Groups) * c.KernelH * c.KernelW;
                bool dataGrad = node.Inputs[0] != graph.Input.Id;
                string group = $"{c.InChannels}→{c.OutChannels}, {x[2]}×{x[3]}, {c.KernelH}×{c.KernelW} s{c.Spec.StrideH}";
                return new LayerCost(group, true, fwd, fwd * (dataGrad ? 2 : 1));
            case BatchNorm:
                return new LayerCost(kind, false, (training ? 16 : 8) * e, (kind.EndsWith("+ReLU", StringComparison.Ordinal) ? 24 : 20) * e);
            case ReLU:
                return new LayerCost("ReLU", false, 8 * e, 12 * e);
            case Add:
                double back = 0;
                for (int s = 0; s < node.Inputs.Length && training; s++)
                    if (memory.GradBuffer[node.Inputs[s]] is int g && g >= 0 && g != memory.GradBuffer[node.Output])
                        back += (memory.Accumulate[i][s] ? 12 : 8) * e;
                return new LayerCost("Add", false, 12 * e, back);
            default:
                return null;
        }
    }
}
