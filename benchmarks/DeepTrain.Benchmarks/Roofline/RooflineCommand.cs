using System.Globalization;
using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Losses;
using DeepTrain.Modeling;
using DeepTrain.Optim;
using DeepTrain.Training;
using DeepTrain.Zoo;

namespace DeepTrain.Benchmarks.Roofline;

/// <summary>
/// <c>DeepTrain.Benchmarks roofline [model=resnet20 | none | batching | winograd | winograd-rule | winograd-quad | winograd-pair | stride2] [CxHxW=1x28x28] [batch=128] [threads=2] [steps=5] [classes=10]</c>:
/// the machine's ceilings (<see cref="MachinePeak"/>), then a per-layer profile (<see cref="Plan.Profile"/>, a
/// synchronisation after every layer) of the training step and of the evaluation forward pass, printed as markdown:
/// achieved GFLOP/s per convolution shape against the FMA peak and the packed GEMM, bytes and GB/s of the memory-bound
/// layers against the triad (<see cref="LayerCost"/> says what is counted).
/// </summary>
internal static class RooflineCommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string[] args)
    {
        string model = Arg(args, 0, "resnet20"), input = Arg(args, 1, "1x28x28");
        int batch = int.Parse(Arg(args, 2, "128"), Inv), threads = int.Parse(Arg(args, 3, "2"), Inv);
        int steps = int.Parse(Arg(args, 4, "5"), Inv), classes = int.Parse(Arg(args, 5, "10"), Inv);
        int[] chw = Array.ConvertAll(input.Split('x'), s => int.Parse(s, Inv));
        if (chw.Length != 3) throw new ArgumentException($"input '{input}': expected CxHxW, e.g. 1x28x28");
        CpuBackend.Threads = threads;
        if (model == "winograd") { WinogradProbe.Run(threads, Math.Max(3, steps)); return 0; }
        if (model == "winograd-rule") { WinogradProbe.RunRule(threads, Math.Max(3, steps)); return 0; }
        if (model is "winograd-quad" or "winograd-pair") { WinogradProbe.RunRows(threads, Math.Max(3, steps), pairs: model == "winograd-pair"); return 0; }
        if (model == "stride2") { StridePhasesProbe.Run(threads, Math.Max(3, steps), batch); return 0; }

        Console.WriteLine($"## Ceilings ({Environment.ProcessorCount} CPUs, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})\n");
        Console.WriteLine("| ceiling | 1 thread | " + threads + " threads |\n|---|---|---|");
        double fma = MachinePeak.Fma(threads, wide: true);
        Console.WriteLine(F($"| FMA, 512-bit (GFLOP/s) | {MachinePeak.Fma(1, wide: true):F1} | {fma:F1} |"));
        Console.WriteLine(F($"| FMA, 256-bit (GFLOP/s) | {MachinePeak.Fma(1, wide: false):F1} | {MachinePeak.Fma(threads, wide: false):F1} |"));
        double gemm = 0;
        foreach (int n in new[] { 512, 1024, 2048 })
        {
            double g = MachinePeak.Gemm(n, threads);
            gemm = Math.Max(gemm, g);
            Console.WriteLine(F($"| CpuGemm {n}³ (GFLOP/s) | {MachinePeak.Gemm(n, 1):F1} | {g:F1} |"));
        }
        // One image of ResNet-20's 3×3 convolutions as the implicit-im2col GEMM sees it (n = OH·Wq, Wq = W + 2), and
        // the same with eight images side by side: how much a small spatial size costs the GEMM itself.
        foreach (var (rows, cols, depth) in new[] { (16, 28 * 30, 144), (32, 14 * 16, 288), (64, 7 * 9, 576), (64, 8 * 7 * 9, 576) })
            Console.WriteLine(F($"| CpuGemm {rows}×{cols}×{depth} (conv-shaped, GFLOP/s) | {MachinePeak.GemmShape(rows, cols, depth, 1):F1} | {MachinePeak.GemmShape(rows, cols, depth, threads):F1} |"));
        double triad = MachinePeak.Triad(threads);
        Console.WriteLine(F($"| triad a = b + s·c, 3 × 128 MiB (GB/s) | {MachinePeak.Triad(1):F1} | {triad:F1} |"));
        if (model == "none") return 0;   // the ceilings alone
        if (model == "batching") { ImageBatching.Run(9); return 0; }

        using var backend = BackendFactory.Create(Tensors.Device.Cpu);
        var graph = ModelZoo.Create(model, chw[0], classes, chw[1]);
        using var m = new Model(graph, backend, 1);
        using var opt = new SGD(m.Parameters, 0.01f, 0.9f, 5e-4f);
        using var trainer = new Trainer(m, opt, new ConstantLr(opt.LearningRate), new CrossEntropyLoss(), batch);
        var train = Profile(trainer.TrainPlan, () => trainer.StepLoadedBatch(), steps);
        using var eval = m.Compile(batch, training: false, new CrossEntropyLoss());
        var infer = Profile(eval, eval.Forward, steps);
        var shapes = graph.InferShapes(batch);
        Print($"{model} {input} batch {batch}, training step", graph, shapes, trainer.TrainPlan.Memory, train, steps, fma, gemm, triad);
        Print($"{model} {input} batch {batch}, inference (evaluation plan, forward)", graph, shapes, eval.Memory, infer, steps, fma, gemm, triad);
        return 0;
    }

    /// <summary>Per layer, the fastest forward and backward time over <paramref name="steps"/> profiled passes (seconds):
    /// on a shared machine the minimum is the figure least disturbed by the neighbours.</summary>
    private static List<(string Name, string Kind, double Forward, double Backward)> Profile(Plan plan, Action pass, int steps)
    {
        var rng = new Random(7);
        var x = new float[plan.Input.Elements];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        plan.Backend.CopyFromHost<float>(x, plan.Input);
        if (!plan.ForwardOnly) plan.Backend.CopyFromHost<int>(new int[plan.Target.Elements], plan.Target);
        pass(); pass();   // warm-up
        List<(string Name, string Kind, double Forward, double Backward)>? best = null;
        for (int i = 0; i < steps; i++)
        {
            var timings = new LayerTimings(plan.Model.Graph.Nodes.Count);
            plan.Profile = timings;
            pass();
            plan.Profile = null;
            var now = timings.ByLayer().ToList();
            best = best is null ? now : best.Zip(now, (a, b) => (a.Name, a.Kind, Math.Min(a.Forward, b.Forward), Math.Min(a.Backward, b.Backward))).ToList();
        }
        return best!;
    }

    private static void Print(string title, ModelGraph graph, Tensors.Shape[] shapes, MemoryPlan memory, List<(string Name, string Kind, double Forward, double Backward)> t, int steps, double fma, double gemm, double triad)
    {
        var index = graph.Nodes.Select((n, i) => (n.Layer.Name, i)).ToDictionary(p => p.Name, p => p.i);
        var rows = new Dictionary<(string Group, bool Conv, string Pass), (int Layers, double Sec, double Units)>();
        double total = 0, covered = 0;
        bool training = memory.Training;
        foreach (var (name, kind, f, b) in t)
        {
            total += f + b;
            if (LayerCost.Of(graph, shapes, index[name], memory, kind) is not { } c) continue;
            covered += f + b;
            Add((c.Group, c.IsConv, "forward"), f, c.ForwardUnits);
            if (training) Add((c.Group, c.IsConv, "backward"), b, c.BackwardUnits);
        }
        void Add((string, bool, string) key, double sec, double units)
        {
            var v = rows.GetValueOrDefault(key);
            rows[key] = (v.Layers + 1, v.Sec + sec, v.Units + units);
        }
        Console.WriteLine(F($"\n## {title}: {total * 1000:F1} ms per pass under the profiler (each layer's fastest of {steps} passes), {covered / total:P0} of it in the rows below\n"));
        Console.WriteLine("| convolution (C→K, input H×W, kernel, stride) | layers | pass | ms | GFLOP | GFLOP/s | of FMA peak | of CpuGemm |\n|---|---|---|---|---|---|---|---|");
        foreach (var ((g, _, pass), v) in rows.Where(r => r.Key.Conv).OrderByDescending(r => r.Value.Sec))
        {
            double rate = v.Units / v.Sec / 1e9;
            Console.WriteLine(F($"| {g} | {v.Layers} | {pass} | {v.Sec * 1000:F2} | {v.Units / 1e9:F3} | {rate:F1} | {rate / fma:P0} | {rate / gemm:P0} |"));
        }
        Console.WriteLine("\n| memory-bound layer | layers | pass | ms | MB moved | GB/s | of triad |\n|---|---|---|---|---|---|---|");
        foreach (var ((g, _, pass), v) in rows.Where(r => !r.Key.Conv).OrderByDescending(r => r.Value.Sec))
        {
            double rate = v.Units / v.Sec / 1e9;
            Console.WriteLine(F($"| {g} | {v.Layers} | {pass} | {v.Sec * 1000:F2} | {v.Units / 1e6:F1} | {rate:F1} | {rate / triad:P0} |"));
        }
    }

    private static string Arg(string[] args, int i, string fallback) => args.Length > i ? args[i] : fallback;
    private static string F(FormattableString s) => s.ToString(Inv);
}
