using DeepTrain.Backends;
using DeepTrain.Inference;
using DeepTrain.Losses;
using DeepTrain.Modeling;
using DeepTrain.Training;
using static DeepTrain.InferenceBench.LatencyMode;
using Ort = Microsoft.ML.OnnxRuntime;

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
        if (w.Device.Kind == Tensors.DeviceKind.Cpu)
        {
            OnnxRuntimeNodes(w, iters);
            Overheads(iters);
        }
    }

    /// <summary>
    /// Fixed costs a layer of a batch-1 pass can pay besides its arithmetic, each the fastest and the median of
    /// <paramref name="iters"/> timings: handing an empty two-chunk job to the CPU pool's worker and waiting for it, and for
    /// Winograd's 16→16 28×28 call (a batch-1 ResNet-20's first stage), the whole call against its 16 GEMMs alone (the rest
    /// is the input and output transforms, the padded rows and the bias and ReLU epilogue).
    /// </summary>
    private static unsafe void Overheads(int iters)
    {
        static (double Fast, double Median) Time(int iters, Action once)
        {
            once();
            var us = new double[iters];
            for (int i = 0; i < iters; i++) { long t0 = System.Diagnostics.Stopwatch.GetTimestamp(); once(); us[i] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds; }
            return (us.Min(), Timing.Median(us));
        }
        if (Backends.Cpu.CpuParallel.Threads >= 2)
        {
            // Two chunks that each spin 10 µs: 10 µs when the worker takes one at once, 20 when the caller has to run both.
            static void Spin(int start, int end)
            {
                long until = System.Diagnostics.Stopwatch.GetTimestamp() + (end - start) * System.Diagnostics.Stopwatch.Frequency / 100_000;
                while (System.Diagnostics.Stopwatch.GetTimestamp() < until) { }
            }
            var (f, m) = Time(iters, () => Backends.Cpu.CpuParallel.For(2, 1L << 20, Spin));
            Console.WriteLine(Inv($"overhead: a 2-chunk job of 2 × 10 µs on the CPU pool (10 µs if the worker takes its chunk at once, 20 if the caller runs both): fastest {f:F2} µs, median {m:F2} µs"));
        }
        const int c = 16, k = 16, hw = 28, tiles = 14 * 14;
        var x = new float[c * hw * hw];
        var wt = new float[k * c * 9];
        var rng = new Random(5);
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        for (int i = 0; i < wt.Length; i++) wt[i] = (float)rng.NextDouble() - 0.5f;
        var y = new float[k * hw * hw];
        var u = GC.AllocateUninitializedArray<float>((int)Backends.Cpu.CpuWinograd.PackedSize(k, c) + 16, pinned: true);
        var scratch = new float[Backends.Cpu.CpuWinograd.Positions * k * c];
        var v = GC.AllocateUninitializedArray<float>(Backends.Cpu.CpuWinograd.Positions * c * (tiles + 16), pinned: true);
        var mOut = GC.AllocateUninitializedArray<float>(Backends.Cpu.CpuWinograd.Positions * k * (tiles + 16), pinned: true);
        fixed (float* px = x, pw = wt, py = y, ps = scratch, pu = u, pv = v, pm = mOut)
        {
            float* pxx = px, pww = pw, pyy = py, pss = ps, puu = pu, pvv = pv, pmm = pm;
            Backends.Cpu.CpuWinograd.TransformWeights(pww, k, c, c * 9, 9, rotate: false, pss, puu);
            long per = Backends.Cpu.CpuGemm.PackedASize(k, c);
            var whole = Time(iters, () => Backends.Cpu.CpuWinograd.Convolve(new(pxx, c * hw * hw, hw * hw, hw, 1), 1, c, hw, hw, 1, 1, puu, null,
                new(pyy, k * hw * hw, hw * hw, hw, 1), k, relu: true, 0f));
            var gemms = Time(iters, () =>
            {
                for (int xi = 0; xi < Backends.Cpu.CpuWinograd.Positions; xi++)
                    Backends.Cpu.CpuGemm.SgemmPackedA(k, tiles, c, 1f, puu + xi * per, pvv + (long)xi * c * (tiles + 16), tiles + 16, 1, 0f,
                        pmm + (long)xi * k * (tiles + 16), tiles + 16, 1);
            });
            Console.WriteLine(Inv($"overhead: Winograd 16→16 28×28, one image: the call fastest {whole.Fast:F1} µs (median {whole.Median:F1}); its 16 GEMMs 16×196×16 alone fastest {gemms.Fast:F1} µs (median {gemms.Median:F1}); transforms, padding and epilogue the rest"));
        }
    }

    /// <summary>
    /// ONNX Runtime's own per-node profile of the same export (its session profiler: each node's kernel time per run), each
    /// node's fastest of <paramref name="iters"/> runs and their sum, for the layer-by-layer comparison.
    /// </summary>
    private static void OnnxRuntimeNodes(Workload w, int iters)
    {
        using var so = new Ort.SessionOptions { GraphOptimizationLevel = Ort.GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = w.Threads, InterOpNumThreads = 1 };
        so.ProfileOutputPathPrefix = Path.Combine(w.Dir, "ort-profile");   // before enabling: enabling passes the prefix on
        so.EnableProfiling = true;
        using var session = new Ort.InferenceSession(Path.Combine(w.Dir, "model.onnx"), so);
        var y = new float[w.Batch * w.Classes];
        using var input = Ort.OrtValue.CreateTensorValueFromMemory(w.Input, w.Shape);
        using var output = Ort.OrtValue.CreateTensorValueFromMemory(y, [w.Batch, w.Classes]);
        using var run = new Ort.RunOptions();
        string[] names = [Onnx.OnnxExporter.InputName], outs = [Onnx.OnnxExporter.OutputName];
        for (int i = 0; i < iters + 1; i++) session.Run(run, names, [input], outs, [output]);
        string file = session.EndProfiling();
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        var best = new Dictionary<string, (double Us, string Op)>();
        var order = new List<string>();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (e.GetProperty("cat").GetString() != "Node") continue;
            string name = e.GetProperty("name").GetString() ?? "";
            if (!name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            name = name[..^"_kernel_time".Length];
            double us = e.GetProperty("dur").GetDouble();
            string op = e.TryGetProperty("args", out var a) && a.TryGetProperty("op_name", out var o) ? o.GetString() ?? "" : "";
            if (!best.TryGetValue(name, out var b)) { best[name] = (us, op); order.Add(name); }
            else if (us < b.Us) best[name] = (us, op);
        }
        Console.WriteLine(Inv($"profile {w.ModelName} batch {w.Batch} onnxruntime {Workload.OrtVersion} nodes, each node's fastest of {iters} runs (µs): {best.Values.Sum(b => b.Us):F1} in all; ")
            + string.Join(", ", order.Select(n => Inv($"{n} ({best[n].Op}) {best[n].Us:F1}"))));
    }
}
