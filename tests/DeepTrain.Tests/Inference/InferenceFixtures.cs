using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Inference;
using DeepTrain.Modeling;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using DeepTrain.Zoo;

namespace DeepTrain.Tests.Inference;

/// <summary>A small batch-normalised ResNet (1×8×8 in, 4 classes) with seeded weights, and inputs for it.</summary>
internal static class InferenceFixtures
{
    public static readonly ModelSpec Spec = new("resnet20", 1, 4, 8);
    public const int Sample = 64, Classes = 4;
    public static readonly string[] Names = ["zero", "one", "two", "three"];

    public static Model Model(CpuBackend backend) => new(ModelZoo.Create(Spec), backend, seed: 7);

    /// <summary>n samples of seeded normal floats.</summary>
    public static float[] Inputs(int seed, int n) => TestData.Normal(seed, n, 1, 8, 8);

    /// <summary>
    /// Managed bytes one <c>Run</c> of <paramref name="x"/> allocates on the calling thread after eight warm-up runs: the
    /// smallest of five trials (other threads of the test host allocate too).
    /// </summary>
    public static long AllocatedPerRun(InferenceSession session, float[] x, float[] y)
    {
        for (int i = 0; i < 8; i++) session.Run(x, y);
        long least = long.MaxValue;
        for (int trial = 0; trial < 5; trial++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            session.Run(x, y);
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }

    /// <summary>A checkpoint of <see cref="Model"/> with class names and a normalisation, in a fresh temporary folder.</summary>
    public static string Checkpoint()
    {
        string dir = Directory.CreateTempSubdirectory("deeptrain-inference-").FullName;
        string path = Path.Combine(dir, "model.safetensors");
        using var b = new CpuBackend();
        using var m = Model(b);
        ModelCheckpoint.Save(m, path, description: new CheckpointDescription(new Normalization([0.5f], [0.25f]), Names));
        return path;
    }
}
