using DeepTrain.Backends;
using DeepTrain.Inference;
using DeepTrain.Modeling;
using DeepTrain.Onnx;
using DeepTrain.Tensors;
using DeepTrain.Training;
using DeepTrain.Zoo;
using Ort = Microsoft.ML.OnnxRuntime;

namespace DeepTrain.InferenceBench;

/// <summary>
/// One configuration: the seeded model saved as a checkpoint and exported to ONNX in a temporary folder, a seeded input
/// batch, and factories for each side's session over those files.
/// </summary>
internal sealed class Workload : IDisposable
{
    public Workload(string model, string chw, int batch, int threads, Device device)
    {
        (ModelName, Chw, Batch, Threads, Device) = (model, chw, batch, threads, device);
        int[] s = Array.ConvertAll(chw.Split('x'), int.Parse);
        var info = ModelZoo.Find(model);
        Classes = info.DefaultClasses;
        Shape = [batch, s[0], s[1], s[2]];
        Dir = Directory.CreateTempSubdirectory("deeptrain-inferbench-").FullName;
        Checkpoint = Path.Combine(Dir, "model.safetensors");
        using (var cpu = BackendFactory.Create(Device.Cpu))
        using (var m = new Model(ModelZoo.Create(new ModelSpec(info.Name, s[0], info.DefaultClasses, s[1])), cpu, seed: 1))
        {
            Randomise(m, cpu);
            ModelCheckpoint.Save(m, Checkpoint);
            using var f = File.Create(Path.Combine(Dir, "model.onnx"));
            OnnxExporter.Export(m, f);
        }
        var rng = new Random(2);
        Input = new float[batch * s[0] * s[1] * s[2]];
        for (int i = 0; i < Input.Length; i++) Input[i] = (float)rng.NextDouble();
    }

    public string ModelName { get; }
    public string Chw { get; }
    public int Batch { get; }
    public int Threads { get; }
    public Device Device { get; }
    public int Classes { get; }
    public long[] Shape { get; }
    public string Dir { get; }
    public string Checkpoint { get; }
    public float[] Input { get; }

    /// <summary>DeepTrain's session on the checkpoint, plans at <paramref name="planSizes"/>.</summary>
    public InferenceSession DeepTrain(int[] planSizes, int concurrency, bool fuse = true, DynamicBatchingOptions? batching = null)
        => InferenceSession.Load(Checkpoint, new InferenceSessionOptions
        {
            Device = Device, MaxBatchSize = planSizes[^1], PlanBatchSizes = planSizes, MaxConcurrency = concurrency, FuseLayers = fuse, DynamicBatching = batching,
        });

    /// <summary>ONNX Runtime's session on the export (CPU provider, every graph optimisation, intra-op threads = the same count).</summary>
    public Ort.InferenceSession OnnxRuntime()
    {
        using var so = new Ort.SessionOptions { GraphOptimizationLevel = Ort.GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = Threads, InterOpNumThreads = 1 };
        return new Ort.InferenceSession(Path.Combine(Dir, "model.onnx"), so);
    }

    public static string OrtVersion => typeof(Ort.InferenceSession).Assembly.GetName().Version?.ToString() ?? "?";

    /// <summary>Seeded batch-norm statistics and affine values away from 1 and 0, so folding has real work and the check means something.</summary>
    private static void Randomise(Model m, IBackend backend)
    {
        var rng = new Random(3);
        float[] Values(Tensor t, double lo, double hi) => Enumerable.Range(0, (int)t.Elements).Select(_ => (float)(lo + (hi - lo) * rng.NextDouble())).ToArray();
        foreach (var b in m.Parameters.Buffers.Where(b => b.Spec.Name is "running_mean" or "running_var"))
            backend.CopyFromHost<float>(b.Spec.Name == "running_mean" ? Values(b.Value, -0.2, 0.2) : Values(b.Value, 0.5, 1.5), b.Value);
        foreach (var p in m.Parameters.Entries.Where(p => p.Layer is Layers.BatchNorm))
            backend.CopyFromHost<float>(p.Spec.Name == "weight" ? Values(p.Value, 0.5, 1.5) : Values(p.Value, -0.1, 0.1), p.Value);
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}
