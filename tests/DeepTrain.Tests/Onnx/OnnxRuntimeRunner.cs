using DeepTrain.Backends;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Modeling;
using Ort = Microsoft.ML.OnnxRuntime;

namespace DeepTrain.Tests.Onnx;

/// <summary>The two sides of every ONNX test: DeepTrain's evaluation plan and ONNX Runtime on the exported bytes.</summary>
internal static class OnnxRuntimeRunner
{
    /// <summary>Logits of ONNX Runtime for <paramref name="x"/> of shape <paramref name="dims"/> (all optimisations on, one thread).</summary>
    public static float[] Run(Ort.InferenceSession session, float[] x, long[] dims)
    {
        using var input = Ort.OrtValue.CreateTensorValueFromMemory(x, dims);
        using var run = new Ort.RunOptions();
        using var outputs = session.Run(run, [DeepTrain.Onnx.OnnxExporter.InputName], [input], [DeepTrain.Onnx.OnnxExporter.OutputName]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>A session over <paramref name="onnx"/> with graph optimisation "all", as a service would create it.</summary>
    public static Ort.InferenceSession Session(byte[] onnx)
    {
        using var options = new Ort.SessionOptions { GraphOptimizationLevel = Ort.GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1 };
        return new Ort.InferenceSession(onnx, options);
    }

    /// <summary>DeepTrain's logits: the model's evaluation plan at batch size <c>x.Length / sample</c>, fed <paramref name="x"/>.</summary>
    public static float[] Forward(Model model, float[] x)
    {
        int batch = (int)(x.Length / model.Graph.InputShape.Elements);
        using var plan = model.Compile(batch, training: false, new CrossEntropyLoss());
        model.Backend.CopyFromHost<float>(x, plan.Input);
        plan.Forward();
        var y = new float[plan.Output.Elements];
        model.Backend.CopyToHost<float>(plan.Output, y);
        return y;
    }

    /// <summary>
    /// Makes the model look trained enough for a 1e-4 comparison to mean something: batch-norm γ ∈ [0.5, 1.5] (∈ [0.1, 0.3]
    /// where the batch norm ends a residual branch) and β ∈ [−0.2, 0.2], biases and PReLU slopes non-trivial, then every running mean and variance set to the statistics of
    /// one training-mode batch of 16 drawn like the test inputs (<paramref name="inputs"/>(batch), momentum 1), so folding
    /// is exercised with real statistics and activations stay normalised through the deep nets (random statistics let
    /// them grow without bound, and the logits with them).
    /// </summary>
    public static void Perturb(Model model, int seed, Func<int, float[]> inputs)
    {
        var rng = new Random(seed);
        float U(double lo, double hi) => (float)(lo + (hi - lo) * rng.NextDouble());
        void Set(Tensors.Tensor t, double lo, double hi)
        {
            var a = new float[t.Elements];
            for (int i = 0; i < a.Length; i++) a[i] = U(lo, hi);
            model.Backend.CopyFromHost<float>(a, t);
        }
        var norms = new List<BatchNorm>();
        var intoAdd = model.Graph.Nodes.Where(n => n.Layer is Add).SelectMany(n => n.Inputs).ToHashSet();
        foreach (var n in model.Graph.Nodes)
        {
            var ps = model.Parameters.Of(n.Layer);
            if (n.Layer is BatchNorm bn)
            {
                // The last batch norm of a residual branch gets a small γ, as trained ResNets (and torchvision's
                // zero_init_residual) have: at γ ~ 1 a random deep ResNet amplifies a 1-ulp change of its input into a
                // 1e-2 change of its logits (ResNet-1202, measured), which no 1e-4 comparison survives.
                if (intoAdd.Contains(n.Output)) Set(ps[0].Value, 0.1, 0.3);
                else Set(ps[0].Value, 0.5, 1.5);
                Set(ps[1].Value, -0.2, 0.2);
                norms.Add(bn);
            }
            else if (n.Layer is PReLU) Set(ps[0].Value, 0.05, 0.5);
            else if (ps.Length > 1) Set(ps[1].Value, -0.1, 0.1);   // a bias
        }
        if (norms.Count == 0) return;
        var momenta = norms.Select(b => b.Momentum).ToArray();
        foreach (var b in norms) b.Momentum = 1;
        try
        {
            using var plan = model.Compile(16, training: true, new CrossEntropyLoss());
            model.Backend.CopyFromHost<float>(inputs(16), plan.Input);
            plan.Forward();
        }
        finally { for (int i = 0; i < norms.Count; i++) norms[i].Momentum = momenta[i]; }
        // A channel the calibration batch left (almost) constant, typically one ReLU zeroed, would get a scale γ/√ε ≈ 300γ
        // and amplify every rounding difference upstream by as much: floor the variance at 0.1 so the comparison measures
        // the export, not that conditioning.
        foreach (var bn in norms)
        {
            var v = model.Parameters.BuffersOf(bn)[1].Value;
            var a = new float[v.Elements];
            model.Backend.CopyToHost<float>(v, a);
            for (int i = 0; i < a.Length; i++) a[i] = MathF.Max(a[i], 0.1f);
            model.Backend.CopyFromHost<float>(a, v);
        }
    }

    /// <summary>Uniform pixel values in [0, 1], seeded.</summary>
    public static float[] Pixels(int count, int seed)
    {
        var rng = new Random(seed);
        var a = new float[count];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
        return a;
    }

    /// <summary>A CPU backend for one test.</summary>
    public static IBackend Cpu() => BackendFactory.Create(Tensors.Device.Cpu);
}
