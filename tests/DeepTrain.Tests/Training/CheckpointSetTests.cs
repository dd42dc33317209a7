using DeepTrain.Backends.Cpu;
using DeepTrain.Checkpoints;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Training;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary>
/// A run's model, training state and metrics commit as one set: a save that fails between any two file operations
/// leaves a folder from which resume reaches the uninterrupted run's weights bit for bit; a mismatched set is refused.
/// </summary>
public class CheckpointSetTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("deeptrain-ckptset-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>The disk, failing every operation from the <see cref="FailFrom"/>-th on (0-based), as a process killed there would.</summary>
    private sealed class FaultyFileSystem(int failFrom = int.MaxValue) : ICheckpointFileSystem
    {
        public int FailFrom { get; } = failFrom;
        public List<string> Operations { get; } = [];

        private void Next(string op)
        {
            if (Operations.Count >= FailFrom) throw new IOException($"injected fault before operation {Operations.Count} ({op})");
            Operations.Add(op);
        }

        public void WriteDurably(string path, Action<Stream> write) { Next($"write {Path.GetFileName(path)}"); DiskCheckpointFileSystem.Instance.WriteDurably(path, write); }
        public void Rename(string from, string to) { Next($"rename {Path.GetFileName(from)} {Path.GetFileName(to)}"); DiskCheckpointFileSystem.Instance.Rename(from, to); }
        public void SyncDirectory(string folder) { Next("sync folder"); DiskCheckpointFileSystem.Instance.SyncDirectory(folder); }
        public void Delete(string path) { Next($"delete {Path.GetFileName(path)}"); DiskCheckpointFileSystem.Instance.Delete(path); }
    }

    private static FitOptions Options(string? outDir, string? resume = null, int epochs = 3) => new()
    {
        Epochs = epochs, BatchSize = 16, EvalBatchSize = 16, Seed = 4, Augmentation = AugmentationOptions.Standard,
        Optimizer = new OptimizerOptions("sgd", 0.05f, 0.9f, 1e-3f), Schedule = new ScheduleOptions("one-cycle"),
        OutputDirectory = outDir, ResumeFrom = resume,
    };

    /// <summary>Trains with <paramref name="options"/>; returns every parameter and buffer.</summary>
    private static float[] Fit(FitOptions options, ICheckpointFileSystem? fs = null)
    {
        using var backend = new CpuBackend();
        using var run = new TrainingRun(TestNets.Stateful(), TestData.TinyImages(64, 11), TestData.TinyImages(32, 12), backend, options, fs ?? DiskCheckpointFileSystem.Instance);
        run.Fit();
        return [.. run.Model.Parameters.AllValues.ToArray(), .. run.Model.Parameters.Buffers.SelectMany(b => b.Value.ToArray())];
    }

    private static string[] Leftovers(string dir) => Directory.GetFiles(dir).Select(Path.GetFileName).Where(f => f!.Contains(".tmp-") || f == CheckpointSet.JournalFile).ToArray()!;

    [Fact]
    public void ASaveInterruptedBetweenAnyTwoFileOperations_ResumesToTheUninterruptedWeights()
    {
        var counting = new FaultyFileSystem();
        var straight = Fit(Options(Path.Combine(_root, "straight")), counting);
        Assert.Equal(0, counting.Operations.Count % 3);
        int perCommit = counting.Operations.Count / 3;
        int commitPoint = counting.Operations.FindIndex(o => o.StartsWith("rename checkpoint.commit.tmp-", StringComparison.Ordinal));
        Assert.InRange(commitPoint, 1, perCommit - 2);   // the journal's rename, with work before and after it
        for (int k = 0; k < perCommit; k++)
        {
            string dir = Path.Combine(_root, $"fault{k}");
            // Epoch 1's set commits whole; epoch 2's save dies before its k-th operation.
            var faulty = new FaultyFileSystem(perCommit + k);
            var e = Assert.Throws<IOException>(() => Fit(Options(dir), faulty));
            Assert.Contains("injected fault", e.Message);
            Assert.Contains(k <= commitPoint ? "keeps its previous checkpoint" : "is committed but not yet in place", e.Message);
            // What a restarted process sees: the set of epoch 1 before the commit point, of epoch 2 after it.
            var set = new CheckpointSet(dir, DiskCheckpointFileSystem.Instance);
            set.Recover();
            Assert.Empty(Leftovers(dir));
            Assert.Equal(k <= commitPoint ? 1 : 2, set.Verify().Epoch);
            var resumed = Fit(Options(outDir: null, resume: dir));
            Assert.True(straight.SequenceEqual(resumed), $"fault before operation {k} ({counting.Operations[perCommit + k]}): the resumed weights differ");
            Assert.Equal([1, 2, 3], File.ReadAllLines(Path.Combine(dir, "metrics.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("epoch").GetInt32()));
        }
    }

    [Fact]
    public void AMismatchedPair_IsRefused_NamingBothFilesAndEpochs()
    {
        string a = Path.Combine(_root, "a"), b = Path.Combine(_root, "b");
        Fit(Options(a, epochs: 2));
        Fit(Options(b, epochs: 1));
        File.Copy(Path.Combine(b, TrainingState.StateFile), Path.Combine(a, TrainingState.StateFile), overwrite: true);
        var e = Assert.Throws<CheckpointMismatchException>(() => Fit(Options(outDir: null, resume: a)));
        Assert.Contains("model.safetensors is from epoch 2", e.Message);
        Assert.Contains("training_state.safetensors from epoch 1", e.Message);
    }

    [Fact]
    public void AMissingMetricsLog_OrOneBehindTheModel_IsRefused()
    {
        string a = Path.Combine(_root, "a");
        Fit(Options(a, epochs: 2));
        string metrics = Path.Combine(a, "metrics.jsonl");
        File.WriteAllLines(metrics, File.ReadAllLines(metrics)[..1]);
        var behind = Assert.Throws<CheckpointMismatchException>(() => Fit(Options(outDir: null, resume: a)));
        Assert.Contains("metrics.jsonl ends at epoch 1", behind.Message);
        File.Delete(metrics);
        var missing = Assert.Throws<FileNotFoundException>(() => Fit(Options(outDir: null, resume: a)));
        Assert.Contains("metrics.jsonl is missing", missing.Message);
    }

    [Fact]
    public void Resume_DropsMetricsRowsBeyondTheCheckpoint_AndRemovesStaleTemporaryFiles()
    {
        var counting = new FaultyFileSystem();
        var straight = Fit(Options(Path.Combine(_root, "straight")), counting);
        int perCommit = counting.Operations.Count / 3;
        string c = Path.Combine(_root, "c");
        // Epoch 3's save dies at its first operation; then the folder is made to look like an older version's
        // interrupted save: a metrics row for epoch 3 appended before the checkpoint, and a stale temporary file.
        Assert.Throws<IOException>(() => Fit(Options(c), new FaultyFileSystem(2 * perCommit)));
        File.AppendAllText(Path.Combine(c, "metrics.jsonl"), "{\"epoch\":3,\"fake\":true}\n");
        File.WriteAllText(Path.Combine(c, "model.safetensors.tmp-0123456789ab"), "half a file");
        var resumed = Fit(Options(outDir: null, resume: c));
        Assert.Equal(straight, resumed);
        var rows = File.ReadAllLines(Path.Combine(c, "metrics.jsonl"));
        Assert.Equal(3, rows.Length);
        Assert.DoesNotContain("fake", rows[2]);
        Assert.Empty(Leftovers(c));
    }

    [Fact]
    public void AnOutputFolderHoldingAnotherRun_IsRefusedUnlessOverwriting()
    {
        string a = Path.Combine(_root, "a");
        Fit(Options(a, epochs: 1));
        var e = Assert.Throws<InvalidOperationException>(() => Fit(Options(a, epochs: 1)));
        Assert.Contains("FitOptions.Overwrite", e.Message);
        Fit(Options(a, epochs: 1) with { Overwrite = true });
    }
}
