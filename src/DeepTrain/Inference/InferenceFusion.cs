using DeepTrain.Backends;
using DeepTrain.Layers;
using DeepTrain.Modeling;
using DeepTrain.Tensors;

namespace DeepTrain.Inference;

/// <summary>
/// Rewrites a model for forward-only serving, as ONNX Runtime's and PyTorch's inference optimisers do:
/// <list type="bullet">
/// <item>Conv2d → BatchNorm2d (the convolution's output read by the batch norm alone) becomes one Conv2d with a bias whose
/// weights carry the batch norm's running statistics (Ioffe and Szegedy 2015, §3.2; torch.fx's fuse_conv_bn_eval):
/// s[k] = γ[k] / √(σ²[k] + ε), w′[k, …] = w[k, …] · s[k], b′[k] = β[k] + (b[k] − μ[k]) · s[k].</item>
/// <item>A convolution (folded or not) whose output only a residual Add reads takes the Add's other input as a second input and
/// adds it in its epilogue (<see cref="Conv2d.FusedResidual"/>; ONNX Runtime's Conv+Sum fusion): the fused node takes the Add's
/// place in the graph, where both of its inputs exist.</item>
/// <item>A convolution (folded or not, with its Add or not) whose output only a ReLU reads applies the ReLU itself
/// (<see cref="Conv2d.FusedRelu"/>).</item>
/// </list>
/// The folded model is a new forward-only model with its own parameters (computed in double, stored fp32), on the same backend;
/// every other layer is kept as it was. Only inference sessions use it: training plans never see folded weights. The logits
/// differ from the unfolded evaluation plan's by rounding only (InferenceFusionTests states the tolerance).
/// </summary>
internal static class InferenceFusion
{
    /// <summary>Whether <see cref="Fold"/> changes anything in <paramref name="graph"/>.</summary>
    public static bool Applies(ModelGraph graph)
    {
        var consumers = Consumers(graph);
        return graph.Nodes.Any(n => n.Layer is Conv2d && Chain(graph, consumers, n) is var (bn, add, relu) && (bn ?? add ?? relu) is not null);
    }

    /// <summary>A graph rewritten for inference: the new graph, each fused convolution with the layers it replaces, and the layers kept as they were.</summary>
    internal sealed record Rewrite(ModelGraph Graph, IReadOnlyList<(Conv2d Fused, Conv2d Conv, BatchNorm? Bn)> Fused, IReadOnlyList<Layer> Kept);

    /// <summary>The folded graph of <paramref name="graph"/> (what <see cref="Fold"/> binds; <see cref="InferenceMemoryReport"/> sizes it).</summary>
    public static Rewrite RewriteGraph(ModelGraph graph)
    {
        var consumers = Consumers(graph);
        var folded = new ModelGraph(graph.Name, graph.InputShape) { Spec = graph.Spec };
        var map = new Node[graph.ValueCount];                       // old value → new value
        map[0] = folded.Input;
        var absorbed = new HashSet<GraphNode>(ReferenceEqualityComparer.Instance);
        // A convolution that absorbs an Add is made at the Add's place (its residual, the Add's other input, may come later).
        var deferred = new Dictionary<GraphNode, (GraphNode Conv, GraphNode? Bn, GraphNode? Relu)>(ReferenceEqualityComparer.Instance);
        var fusedList = new List<(Conv2d Fused, Conv2d Conv, BatchNorm? Bn)>();
        var kept = new List<Layer>();
        foreach (var n in graph.Nodes)
        {
            if (deferred.Remove(n, out var d))
            {
                int residual = n.Inputs[0] == (d.Bn ?? d.Conv).Output ? n.Inputs[1] : n.Inputs[0];
                Fuse(d.Conv, d.Bn, n, d.Relu, [map[d.Conv.Inputs[0]], map[residual]]);
                continue;
            }
            if (absorbed.Contains(n)) continue;
            var inputs = Array.ConvertAll(n.Inputs, v => map[v]);
            if (n.Layer is Conv2d && Chain(graph, consumers, n) is var (bnNode, addNode, reluNode) && (bnNode ?? addNode ?? reluNode) is not null)
            {
                // An Add both of whose inputs are such convolutions (a projection shortcut's conv → bn) goes to the first; the
                // second keeps only its batch norm and is made here, before the Add reads it.
                if (addNode is not null && deferred.ContainsKey(addNode)) { Fuse(n, bnNode, null, null, inputs); continue; }
                if (addNode is null) { Fuse(n, bnNode, null, reluNode, inputs); continue; }
                deferred[addNode] = (n, bnNode, reluNode);
                if (bnNode is not null) absorbed.Add(bnNode);
                if (reluNode is not null) absorbed.Add(reluNode);
                continue;
            }
            map[n.Output] = folded.Apply(n.Layer.Name, n.Layer, inputs);
            kept.Add(n.Layer);
        }

        // One fused convolution in place of conv [→ bn] [→ add] [→ relu], every replaced value mapped to its output.
        void Fuse(GraphNode convNode, GraphNode? bnNode, GraphNode? addNode, GraphNode? reluNode, Node[] inputs)
        {
            var conv = (Conv2d)convNode.Layer;
            var bn = bnNode?.Layer as BatchNorm;
            var s = conv.Spec;
            var fused = new Conv2d(conv.InChannels, conv.OutChannels, conv.KernelH, s.StrideH, s.PadH, s.DilationH, s.Groups,
                bias: conv.HasBias || bn is not null, kernelW: conv.KernelW, strideW: s.StrideW, paddingW: s.PadW, dilationW: s.DilationW)
            { FusedRelu = reluNode is not null, FusedResidual = addNode is not null };
            var y = folded.Apply(conv.Name, fused, inputs);
            foreach (var m in new[] { convNode, bnNode, addNode, reluNode })
                if (m is not null) { map[m.Output] = y; absorbed.Add(m); }
            fusedList.Add((fused, conv, bn));
        }
        folded.SetOutput(map[graph.Output.Id]);
        return new Rewrite(folded, fusedList, kept);
    }

    /// <summary>The folded, forward-only copy of <paramref name="model"/> (the caller owns it; <paramref name="model"/> is unchanged).</summary>
    public static Model Fold(Model model)
    {
        var (folded, plans, kept) = RewriteGraph(model.Graph);
        var result = Model.ForwardOnly(folded, model.Backend);
        try
        {
            var backend = model.Backend;
            foreach (var layer in kept)
            {
                foreach (var (src, dst) in model.Parameters.Of(layer).Zip(result.Parameters.Of(layer))) backend.Copy(src.Value, dst.Value);
                foreach (var (src, dst) in model.Parameters.BuffersOf(layer).Zip(result.Parameters.BuffersOf(layer))) backend.Copy(src.Value, dst.Value);
            }
            foreach (var (fused, conv, bn) in plans) WriteFolded(model, conv, bn, result, fused);
            backend.Synchronize();
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>The batch norm, residual Add and ReLU that fold into convolution node <paramref name="n"/> (each null when there is none).</summary>
    private static (GraphNode? Bn, GraphNode? Add, GraphNode? Relu) Chain(ModelGraph graph, int[] consumers, GraphNode n)
    {
        var next = Single(graph, consumers, n.Output);
        GraphNode? bn = next is { Layer: BatchNorm b } && b.Kind == "BatchNorm2d" ? next : null;
        var after = bn is null ? next : Single(graph, consumers, bn.Output);
        GraphNode? add = after is { Layer: Add } ? after : null;
        if (add is not null) after = Single(graph, consumers, add.Output);
        GraphNode? relu = after is { Layer: ReLU } ? after : null;
        return (bn, add, relu);
    }

    /// <summary>The one node reading value <paramref name="v"/>, or null when none or several do, or it is the model's output.</summary>
    private static GraphNode? Single(ModelGraph graph, int[] consumers, int v)
        => consumers[v] >= 0 && v != graph.Output.Id ? graph.Nodes[consumers[v]] : null;

    /// <summary>Per value: the index of the node that alone reads it; −1 for none, −2 for several.</summary>
    private static int[] Consumers(ModelGraph graph)
    {
        var c = new int[graph.ValueCount];
        Array.Fill(c, -1);
        for (int i = 0; i < graph.Nodes.Count; i++)
            foreach (var v in graph.Nodes[i].Inputs) c[v] = c[v] == -1 ? i : -2;
        return c;
    }

    /// <summary>Writes the folded weight and bias of <paramref name="conv"/> (and <paramref name="bn"/>) into <paramref name="fused"/>'s parameters.</summary>
    private static void WriteFolded(Model model, Conv2d conv, BatchNorm? bn, Model result, Conv2d fused)
    {
        var backend = model.Backend;
        var src = model.Parameters.Of(conv);
        var dst = result.Parameters.Of(fused);
        var w = backend.ReadFloats(src[0].Value);
        var bias = conv.HasBias ? backend.ReadFloats(src[1].Value) : new float[conv.OutChannels];
        if (bn is not null)
        {
            var bp = model.Parameters.Of(bn);
            var bb = model.Parameters.BuffersOf(bn);
            var (scale, shift) = BatchNormFolding.Affine(backend.ReadFloats(bp[0].Value), backend.ReadFloats(bp[1].Value), backend.ReadFloats(bb[0].Value), backend.ReadFloats(bb[1].Value), bn.Eps);
            (w, bias) = BatchNormFolding.IntoConv(w, bias, scale, shift);
        }
        backend.CopyFromHost<float>(w, dst[0].Value);
        if (fused.HasBias) backend.CopyFromHost<float>(bias, dst[1].Value);
    }
}
