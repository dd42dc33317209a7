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
        //    output) and dies after its producer's backward reads it; in-place chains share one buffer.
        var accumulate = new bool[L][];
        for (int i = 0; i < L; i++) accumulate[i] = new bool[nodes[i].Inputs.Length];
        if (training)
        {
            bool inputNeedsGrad = consumers[0].Any(c => nodes[c.Node].Layer.RequiresInputGradient);
            var gBirth = new int[V];
            var gDeath = new int[V];
            Array.Fill(gBirth, int.MaxValue);
            Array.Fill(gDeath, int.MinValue);
            for (int v = 0; v < V; v++)
            {
                if (v == 0 && !inputNeedsGrad) continue;
                int r = root[v];
                int birth = v == output ? L : int.MaxValue, death = v == 0 ? int.MinValue : Bwd(Producer(v));
                foreach (var (c, _) in consumers[v]) { birth = Math.Min(birth, Bwd(c)); death = Math.Max(death, Bwd(c)); }
                gBirth[r] = Math.Min(gBirth[r], birth);
                gDeath[r] = Math.Max(gDeath[r], death);
            }
            Array.Fill(rootBuffer, -1);
            for (int v = 0; v < V; v++)
            {
                if (v == 0 && !inputNeedsGrad) continue;
                int r = root[v];
                if (rootBuffer[r] < 0)
                {
                    rootBuffer[r] = buffers.Count;
                    var dt = r == root[output] ? DType.Float32 : act;
                    buffers.Add(new PlannedBuffer(BufferKind.Gradient, Bytes(shapes[v], dt), gBirth[r], gDeath[r], "grad of " + (v == 0 ? "input" : nodes[Producer(v)].Layer.Name), dt));
                }
                gradBuffer[v] = rootBuffer[r];
                // Backward visits consumers in reverse forward order and each layer's slots in ascending
                // order: the first visit writes, every later one adds (the loss writes the output's first).
                bool first = v != output;
                foreach (var (c, slot) in consumers[v].OrderByDescending(x => x.Node).ThenBy(x => x.Slot))
                {
                    accumulate[c][slot] = !first;
                    first = false;
                }
            }
        }

        // 4. Saved scratch per node.
        var aux = new int[L][];
        for (int i = 0; i < L; i++)
        {
            var ins = nodes[i].Inputs.Select(v => shapes[v]).ToArray();
            var auxShapes = nodes[i].Layer.AuxShapes(ins);
            aux[i] = new int[auxShapes.Count];
            for (int k = 0; k < auxShapes.Count; k++)
            {
                aux[i][k] = buffers.Count;
                buffers.Add(new PlannedBuffer(BufferKind.Saved, Bytes(auxShapes[k], DType.Float32), Fwd(i), training ? Bwd(i) : Fwd(i), $"{nodes[i].Layer.Name} saved {k}"));
            }
        }

        long arena = Pack(buffers);
        return new MemoryPlan
        {
            BatchSize = batch, Training = training, Layout = layout, Precision = precision, Shapes = shapes,
            ValueBuffer = valueBuffer, GradBuffer = gradBuffer, AuxBuffers = aux, Accumulate = accumulate, InPlace = inPlace,
            Buffers = buffers, ArenaBytes = arena, UnpackedBytes = buffers.Sum(b => AlignUp(b.Bytes)), InputBytes = Bytes(shapes[0], DType.Float32)
                + ((layout != Layout.NCHW && shapes[0].Rank == 4) || precision != Precision.Float32 ? AlignUp(Bytes(shapes[0], act)) : 0),
        };
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
