using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using DeepTrain.Checkpoints;

namespace DeepTrain.Training;

/// <summary>
/// A run's checkpoint set in one folder: <c>model.safetensors</c>, <c>training_state.safetensors</c> and
/// <c>metrics.jsonl</c>, committed together or not at all through a redo journal, <c>checkpoint.commit</c>:
/// <list type="number">
/// <item>each new file is written under a temporary name (<c>&lt;name&gt;.tmp-&lt;random&gt;</c>) and synced;</item>
/// <item>the journal, naming every temporary file and its final name, is written under a temporary name and
/// synced, and the folder is synced;</item>
/// <item>the journal is renamed into place and the folder synced: this rename is the commit point;</item>
/// <item>the temporary files are renamed over the old ones, the folder synced, the journal deleted.</item>
/// </list>
/// A failure before the commit point leaves the previous set untouched (its temporary files are deleted, or, after a
/// crash, removed by the next <see cref="Recover"/>); after it, <see cref="Recover"/> finishes the renames. Both
/// safetensors files record the epoch, and <see cref="Verify"/> refuses a set whose files disagree.
/// </summary>
internal sealed class CheckpointSet(string folder, ICheckpointFileSystem fs)
{
    /// <summary>The journal's file name.</summary>
    public const string JournalFile = "checkpoint.commit";
    /// <summary>The metrics log's file name.</summary>
    public const string MetricsFile = "metrics.jsonl";
    /// <summary>The files of a set.</summary>
    public static readonly string[] Files = [TrainingState.ModelFile, TrainingState.StateFile, MetricsFile];

    /// <summary>The folder.</summary>
    public string Folder { get; } = Path.GetFullPath(folder);

    /// <summary>Commits <paramref name="files"/> (name in the folder, writer) as the set of <paramref name="epoch"/>.</summary>
    /// <exception cref="IOException">The save failed: before the commit point the previous set is kept; after it, the message says so.</exception>
    public void Commit(int epoch, IReadOnlyList<(string Name, Action<Stream> Write)> files)
    {
        string suffix = ".tmp-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var moves = files.Select(f => (Temp: f.Name + suffix, Final: f.Name)).ToArray();
        string journalTemp = JournalFile + suffix;
        var written = new List<string>();
        try
        {
            for (int i = 0; i < files.Count; i++)
            {
                written.Add(moves[i].Temp);
                fs.WriteDurably(At(moves[i].Temp), files[i].Write);
            }
            written.Add(journalTemp);
            byte[] journal = Encoding.UTF8.GetBytes(string.Concat(moves.Select(m => $"{m.Temp} {m.Final}\n")) + $"epoch {epoch}\n");
            fs.WriteDurably(At(journalTemp), s => s.Write(journal));
            fs.SyncDirectory(Folder);
            fs.Rename(At(journalTemp), At(JournalFile));   // the commit point
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            foreach (var t in written) TryDelete(t);
            throw new IOException($"saving the checkpoint of epoch {epoch} to '{Folder}' failed: {e.Message}; the folder keeps its previous checkpoint", e);
        }
        try { Complete(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"the checkpoint of epoch {epoch} in '{Folder}' is committed but not yet in place: {e.Message}; resuming from '{Folder}' completes it", e);
        }
    }

    /// <summary>
    /// Brings the folder to a consistent set: finishes a committed journal's renames, then deletes temporary files left
    /// by interrupted saves. Safe to call on any folder, also one with no set.
    /// </summary>
    /// <exception cref="IOException">A file could not be renamed or deleted.</exception>
    public void Recover()
    {
        if (!Directory.Exists(Folder)) return;
        if (File.Exists(At(JournalFile))) Complete();
        bool removed = false;
        foreach (var name in Files.Append(JournalFile))
            foreach (var stale in Directory.EnumerateFiles(Folder, name + ".tmp-*"))
            {
                fs.Delete(stale);
                removed = true;
            }
        if (removed) fs.SyncDirectory(Folder);
    }

    /// <summary>Renames every temporary file the journal names that is still there, then deletes the journal.</summary>
    private void Complete()
    {
        var lines = File.ReadAllLines(At(JournalFile));
        fs.SyncDirectory(Folder);
        foreach (var line in lines)
        {
            var parts = line.Split(' ');
            if (parts.Length != 2 || parts[0] == "epoch") continue;
            if (!Files.Contains(parts[1]) || Path.GetFileName(parts[0]) != parts[0])
                throw new CheckpointFormatException(At(JournalFile), 0, $"'{At(JournalFile)}' names '{line}', which is not a checkpoint file; delete the journal by hand if the folder was edited");
            if (File.Exists(At(parts[0]))) fs.Rename(At(parts[0]), At(parts[1]));
        }
        fs.SyncDirectory(Folder);
        fs.Delete(At(JournalFile));
        fs.SyncDirectory(Folder);
    }

    /// <summary>Whether the folder holds any file of a set.</summary>
    public bool HasAny() => Files.Any(f => File.Exists(At(f)));

    /// <summary>
    /// Checks that the folder holds a whole, consistent set and returns its epoch and the metrics rows up to it
    /// (rows beyond it, which an older version could append before an interrupted save, are dropped).
    /// </summary>
    /// <exception cref="FileNotFoundException">A file of the set is missing.</exception>
    /// <exception cref="CheckpointMismatchException">The files are from different epochs.</exception>
    public (int Epoch, List<string> MetricsRows) Verify()
    {
        foreach (var f in Files)
            if (!File.Exists(At(f)))
                throw new FileNotFoundException($"cannot resume from '{Folder}': {f} is missing (a checkpoint set is {string.Join(", ", Files)}, written together by a training run)", At(f));
        string modelPath = At(TrainingState.ModelFile), statePath = At(TrainingState.StateFile);
        int modelEpoch = Epoch(modelPath), stateEpoch = Epoch(statePath);
        if (modelEpoch != stateEpoch)
            throw new CheckpointMismatchException(statePath, "epoch",
                $"cannot resume from '{Folder}': {TrainingState.ModelFile} is from epoch {modelEpoch} but {TrainingState.StateFile} from epoch {stateEpoch}; they were not saved together, so the run cannot continue exactly");
        var rows = new List<string>();
        int last = 0;
        foreach (var line in File.ReadLines(At(MetricsFile)))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            int epoch = RowEpoch(line);
            if (epoch > modelEpoch) break;
            rows.Add(line);
            last = epoch;
        }
        if (last != modelEpoch)
            throw new CheckpointMismatchException(At(MetricsFile), "epoch",
                $"cannot resume from '{Folder}': {MetricsFile} ends at epoch {last} but {TrainingState.ModelFile} and {TrainingState.StateFile} are from epoch {modelEpoch}; they were not saved together");
        return (modelEpoch, rows);
    }

    /// <summary>The metrics file's content for <paramref name="rows"/>.</summary>
    public static Action<Stream> MetricsWriter(IReadOnlyList<string> rows)
        => s => s.Write(Encoding.UTF8.GetBytes(string.Concat(rows.Select(r => r + "\n"))));

    private string At(string name) => Path.Combine(Folder, name);

    private void TryDelete(string name)
    {
        try { fs.Delete(At(name)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* the save's own error matters more; Recover removes it later */ }
    }

    private static int Epoch(string path)
    {
        var meta = ModelCheckpoint.ReadMetadata(path);
        return meta.TryGetValue("epoch", out var text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int e) ? e
            : throw new CheckpointMismatchException(path, "epoch", $"checkpoint '{path}' does not record its epoch, so it cannot be resumed");
    }

    private int RowEpoch(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.GetProperty("epoch").GetInt32();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new CheckpointMismatchException(At(MetricsFile), "epoch", $"'{At(MetricsFile)}' has a row without an epoch: {line}");
        }
    }
}
