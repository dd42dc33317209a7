using DeepTrain.Backends;
using DeepTrain.Layers;
using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Modeling;

/// <summary>
/// Turns a graph into a <see cref="MemoryPlan"/>: in-place decisions, buffer lifetimes and the arena
/// packing. Every pass is a loop over the nodes in forward or backward order; nothing recurses, so a
/// ResNet-1202 (≈ 3,600 layers) plans like a ResNet-20.
/// </summary>
public static class Planner
{
    /// <summary>
    /// Plans <paramref name="graph"/> at <paramref name="batch"/> for training or evaluation. At a 16-bit
    /// <paramref name="precision"/> activations and activation gradients are stored in 16 bits (half the bytes),
    /// except the model's output (the logits) and its gradient, which stay fp32 so the loss and the loss scale are
    /// applied in fp32, and saved scratch (batch norm's mean and 1/σ), which is always fp32.
    /// </summary>
    /// <exception cref="LayerShapeException">A layer rejects its input shapes at this batch size.</exception>
    /// <exception cref="InvalidOperationException">A layer's output is never used.</exception>
    public static MemoryPlan Build(ModelGraph graph, int batch, bool training, Layout layout = Layout.NCHW, Precision precision = Precision.Float32)
        => Build(graph, batch, training, layout, precision, TrainingFusion.Enabled);

    /// <summary>
    /// <see cref="Build(ModelGraph, int, bool, Layout, Precision)"/> with the fusion of batch norm and the ReLU after it in training
    /// plans switched on or off (<paramref name="fuse"/>) rather than by <see cref="TrainingFusion.Variable"/>.
    /// </summary>
    internal static MemoryPlan Build(ModelGraph graph, int batch, bool training, Layout layout, Precision precision, bool fuse)
    {
        var act = precision.ActivationDType();
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        var nodes = graph.Nodes;
        int L = nodes.Count, V = graph.ValueCount, output = graph.Output.Id;
        if (L == 0) throw new InvalidOperationException($"model '{graph.Name}' has no layers");
        var shapes = graph.InferShapes(batch);

        // Consumers of each value, in forward order: (node, slot).
        var consumers = new List<(int Node, int Slot)>[V];
        for (int v = 0; v < V; v++) consumers[v] = [];
        for (int i = 0; i < L; i++)
            for (int s = 0; s < nodes[i].Inputs.Length; s++) consumers[nodes[i].Inputs[s]].Add((i, s));
        for (int v = 1; v < V; v++)
            if (consumers[v].Count == 0 && v != output)
                throw new InvalidOperationException($"{nodes[v - 1].Layer}: its output is never used (the model's output is '{(output == 0 ? "input" : nodes[output - 1].Layer.Name)}')");

        int Fwd(int node) => node;
        int Bwd(int node) => 2 * L - node;
        int Producer(int v) => v - 1;   // node index; −1 for the data

        // 1. In place: a layer that may run in place takes over its input's buffer when nothing else will
        //    read that input afterwards: the input has this layer as its only consumer, is not the data,
        //    and (training) neither this layer's backward nor any earlier producer in the chain needs it.
        var root = new int[V];
        var inPlace = new bool[L];
        for (int v = 0; v < V; v++) root[v] = v;
        for (int i = 0; i < L; i++)
        {
            var layer = nodes[i].Layer;
            if (!layer.MayRunInPlace || nodes[i].Inputs.Length != 1) continue;
            int u = nodes[i].Inputs[0];
            if (u == 0 || consumers[u].Count != 1 || u == output) continue;
            if (layer is Flatten && layout == Layout.NHWC && shapes[u].Rank == 4 && shapes[u].H * shapes[u].W > 1) continue;
            if (training && !layer.IsView)
            {
                if ((layer.Saves & Saved.Inputs) != 0) continue;
                bool needed = false;
                for (int w = u; ; w = nodes[Producer(w)].Inputs[0])
                {
                    if ((nodes[Producer(w)].Layer.Saves & Saved.Output) != 0) { needed = true; break; }
                    if (root[w] == w) break;
                }
                if (needed) continue;
            }
            inPlace[i] = true;
            root[nodes[i].Output] = root[u];
        }

        // 1b. Fusion (training): a batch norm whose output only a ReLU reads, in place (so the two share the activation and its
        //     gradient buffer), runs as one step: forward writes max(y, 0), backward takes dz and masks it while it reads x
        //     (TrainingFusion). Nothing else reads y, so no lifetime changes; the batch norm saves one more per-channel vector.
        var fusedRelu = new bool[L];
        var fusedIntoProducer = new bool[L];
        if (training && fuse)
            for (int i = 0; i < L; i++)
                if (inPlace[i] && nodes[i].Layer is ActivationLayer { Function: ActivationKind.Relu } && nodes[Producer(nodes[i].Inputs[0])].Layer is BatchNorm)
                {
                    fusedRelu[Producer(nodes[i].Inputs[0])] = true;
                    fusedIntoProducer[i] = true;
                }

        var buffers = new List<PlannedBuffer>();
        var valueBuffer = new int[V];
        var gradBuffer = new int[V];
        Array.Fill(valueBuffer, -1);
        Array.Fill(gradBuffer, -1);

        // 2. Activation lifetimes: born when produced, alive until the last forward reader, the loss,
        //    or (training) the backward of any layer that saved it.
        var actBirth = new int[V];
        var actDeath = new int[V];
        Array.Fill(actBirth, int.MaxValue);
        Array.Fill(actDeath, int.MinValue);
        for (int v = 1; v < V; v++)
        {
            int r = root[v];
            int birth = Fwd(Producer(v)), death = birth;
            foreach (var (c, _) in consumers[v])
            {
                death = Math.Max(death, Fwd(c));
                if (training && (nodes[c].Layer.Saves & Saved.Inputs) != 0) death = Math.Max(death, Bwd(c));
            }
            if (v == output) death = Math.Max(death, training ? 2 * L : L);   // the logits stay readable after Backward
            if (training && (nodes[Producer(v)].Layer.Saves & Saved.Output) != 0) death = Math.Max(death, Bwd(Producer(v)));
            actBirth[r] = Math.Min(actBirth[r], birth);
            actDeath[r] = Math.Max(actDeath[r], death);
        }
        var rootBuffer = new int[V];
        Array.Fill(rootBuffer, -1);
        for (int v = 1; v < V; v++)
        {
            int r = root[v];
            if (rootBuffer[r] < 0)
            {
                rootBuffer[r] = buffers.Count;
                var dt = r == root[output] ? DType.Float32 : act;
                buffers.Add(new PlannedBuffer(BufferKind.Activation, Bytes(shapes[v], dt), actBirth[r], actDeath[r], nodes[Producer(v)].Layer.Name, dt));
            }
            valueBuffer[v] = rootBuffer[r];
        }

        // 3. Gradients (training): dv is born at the backward of its last consumer (or the loss for the
        //    output) and dies after its producer's backward reads it; in-place chains share one buffer, and so
        //    (3b) do a residual join's output gradient and the input gradients it would only copy.
        var accumulate = new bool[L][];
        for (int i = 0; i < L; i++) accumulate[i] = new bool[nodes[i].Inputs.Length];
        if (training)
        {
            bool inputNeedsGrad = consumers[0].Any(c => nodes[c.Node].Layer.RequiresInputGradient);
            bool HasGrad(int v) => v != 0 || inputNeedsGrad;
            for (int v = 0; v < V; v++)
            {
                if (!HasGrad(v)) continue;
                // Backward visits consumers in reverse forward order and each layer's slots in ascending
                // order: the first visit writes, every later one adds (the loss writes the output's first).
                bool first = v != output;
                foreach (var (c, slot) in consumers[v].OrderByDescending(x => x.Node).ThenBy(x => x.Slot))
                {
                    accumulate[c][slot] = !first;
                    first = false;
                }
            }

            var group = fuse ? JoinGradients(nodes, consumers, root, accumulate, output, Bwd) : root;
            var gBirth = new int[V];
            var gDeath = new int[V];
            Array.Fill(gBirth, int.MaxValue);
            Array.Fill(gDeath, int.MinValue);
            for (int v = 0; v < V; v++)
            {
                if (!HasGrad(v)) continue;
                int r = group[v];
                int birth = v == output ? L : int.MaxValue, death = v == 0 ? int.MinValue : Bwd(Producer(v));
                foreach (var (c, _) in consumers[v]) { birth = Math.Min(birth, Bwd(c)); death = Math.Max(death, Bwd(c)); }
                gBirth[r] = Math.Min(gBirth[r], birth);
                gDeath[r] = Math.Max(gDeath[r], death);
            }
            Array.Fill(rootBuffer, -1);
            for (int v = 0; v < V; v++)
            {
                if (!HasGrad(v)) continue;
                int r = group[v];
                if (rootBuffer[r] < 0)
                {
                    rootBuffer[r] = buffers.Count;
                    var dt = r == group[output] ? DType.Float32 : act;
                    buffers.Add(new PlannedBuffer(BufferKind.Gradient, Bytes(shapes[v], dt), gBirth[r], gDeath[r], "grad of " + (v == 0 ? "input" : nodes[Producer(v)].Layer.Name), dt));
                }
                gradBuffer[v] = rootBuffer[r];
            }
        }

        // 4. Saved scratch per node.
        var aux = new int[L][];
        var auxShapesOf = new Shape[L][];
        for (int i = 0; i < L; i++)
        {
            var ins = nodes[i].Inputs.Select(v => shapes[v]).ToArray();
            var auxShapes = auxShapesOf[i] = fusedRelu[i]
                ? [.. nodes[i].Layer.AuxShapes(ins), TrainingFusion.SavedScaleShape((BatchNorm)nodes[i].Layer)]
                : [.. nodes[i].Layer.AuxShapes(ins)];
            aux[i] = new int[auxShapes.Length];
            for (int k = 0; k < auxShapes.Length; k++)
            {
                aux[i][k] = buffers.Count;
                buffers.Add(new PlannedBuffer(BufferKind.Saved, Bytes(auxShapes[k], DType.Float32), Fwd(i), training ? Bwd(i) : Fwd(i), $"{nodes[i].Layer.Name} saved {k}"));
            }
        }

        long arena = Pack(buffers);
        return new MemoryPlan
        {
            BatchSize = batch, Training = training, Layout = layout, Precision = precision, Shapes = shapes,
            ValueBuffer = valueBuffer, GradBuffer = gradBuffer, AuxBuffers = aux, AuxShapes = auxShapesOf, Accumulate = accumulate, InPlace = inPlace,
            FusedRelu = fusedRelu, FusedIntoProducer = fusedIntoProducer,
            Buffers = buffers, ArenaBytes = arena, UnpackedBytes = buffers.Sum(b => AlignUp(b.Bytes)), InputBytes = Bytes(shapes[0], DType.Float32)
                + ((layout != Layout.NCHW && shapes[0].Rank == 4) || precision != Precision.Float32 ? AlignUp(Bytes(shapes[0], act)) : 0),
        };
    }

    /// <summary>
    /// 3b. The residual join's backward without copies: Add passes dy to both inputs unchanged, so an input whose gradient
    /// Add writes first (it is that input's last reader) takes the output gradient's buffer instead of a copy of it. Add's
    /// backward then skips the slot (dx is dy). dy is dead after Add's backward, and that input's gradient is born there,
    /// so the shared buffer hands over, as along an in-place chain. The second input may share it too when nothing can
    /// tell the two apart: its gradient is only read (it has Add as its only reader and an own buffer, and the producer's
    /// backward only reads dy) and its last read comes before the first input's gradient is next touched. A basic block's
    /// join (bn2 and the shortcut) meets both: its backward does nothing. Joins are visited in backward order, so a
    /// buffer's earlier handovers are settled; a join whose output gradient has to stay read-only is left alone.
    /// Returns each value's gradient group: <paramref name="root"/> with the joined groups merged (representatives are roots).
    /// </summary>
    private static int[] JoinGradients(IReadOnlyList<GraphNode> nodes, List<(int Node, int Slot)>[] consumers, int[] root, bool[][] accumulate, int output, Func<int, int> bwd)
    {
        int V = root.Length;
        var parent = (int[])root.Clone();
        int Find(int v) { while (parent[v] != v) v = parent[v] = parent[parent[v]]; return v; }
        var readOnly = new bool[V];
        // The first backward after Add k's that touches (reads or writes) the gradient of v's in-place chain.
        int FirstTouchAfter(int va, int k)
        {
            int t = int.MaxValue;
            for (int w = 1; w < V; w++)
            {
                if (root[w] != root[va]) continue;
                t = Math.Min(t, bwd(w - 1));
                foreach (var (c, _) in consumers[w]) if (c != k) t = Math.Min(t, bwd(c));
            }
            return t;
        }
        bool OnlyRead(int v) => root[v] == v && consumers[v].Count == 1 && v != output && !Enumerable.Range(1, V - 1).Any(w => w != v && root[w] == v);
        for (int k = nodes.Count - 1; k >= 0; k--)
        {
            if (nodes[k].Layer is not Add) continue;
            var ins = nodes[k].Inputs;
            int o = nodes[k].Output;
            if (ins[0] == ins[1] || readOnly[o] || Find(o) == Find(output)) continue;
            bool Alone(int s) => ins[s] != 0 && !accumulate[k][s] && Find(ins[s]) != Find(output);
            int a = Alone(0) ? 0 : Alone(1) ? 1 : -1;
            if (a < 0) continue;
            int b = 1 - a;
            bool both = Alone(b) && OnlyRead(ins[b]) && bwd(ins[b] - 1) < FirstTouchAfter(ins[a], k);
            if (!both && Alone(b) && OnlyRead(ins[a]) && bwd(ins[a] - 1) < FirstTouchAfter(ins[b], k)) { (a, b) = (b, a); both = true; }
            parent[Find(ins[a])] = Find(o);
            if (both)
            {
                parent[Find(ins[b])] = Find(o);
                readOnly[ins[b]] = true;
            }
        }
        var group = new int[V];
        for (int v = 0; v < V; v++) group[v] = Find(v);
        return group;
    }

    private static long Bytes(Shape s, DType t) => s.Elements * t.Size();
    private static long AlignUp(long b) => (b + MemoryPlan.Alignment - 1) / MemoryPlan.Alignment * MemoryPlan.Alignment;

    /// <summary>
    /// Greedy-by-size offset assignment (as in TFLite's arena planner): largest buffers first, each at the
    /// lowest offset where it overlaps no already-placed buffer whose lifetime intersects its own.
    /// Returns the arena size.
    /// </summary>
    internal static long Pack(IReadOnlyList<PlannedBuffer> buffers)
    {
        var order = Enumerable.Range(0, buffers.Count).OrderByDescending(i => buffers[i].Bytes).ThenBy(i => buffers[i].Birth).ToArray();
        var placed = new List<PlannedBuffer>();
        var live = new List<PlannedBuffer>();
        long arena = 0;
        foreach (int i in order)
        {
            var b = buffers[i];
            long size = AlignUp(b.Bytes);
            live.Clear();
            foreach (var p in placed)
                if (p.Birth <= b.Death && b.Birth <= p.Death) live.Add(p);
            live.Sort((x, y) => x.Offset.CompareTo(y.Offset));
            long offset = 0;
            foreach (var p in live)
            {
                if (p.Offset >= offset + size) break;
                offset = Math.Max(offset, p.Offset + AlignUp(p.Bytes));
            }
            b.Offset = offset;
            placed.Add(b);
            arena = Math.Max(arena, offset + size);
        }
        return arena;
    }
}
