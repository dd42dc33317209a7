using System.Globalization;
using DeepTrain.Checkpoints;
using DeepTrain.Modeling;
using DeepTrain.Mixed;
using DeepTrain.Optim;

namespace DeepTrain.Training;

/// <summary>
/// Everything a run needs to continue where it stopped: <c>model.safetensors</c> (weights and batch-norm
/// statistics, PyTorch names, loadable by PyTorch as it is) and <c>training_state.safetensors</c> (the
/// optimizer's state tensors as "optimizer.&lt;name&gt;", plus the epoch, the optimizer and schedule step
/// counts and the plan's iteration counter that seeds dropout, the precision, and the loss scaler's state: scale,
/// growth tracker and taken-step count, so a resumed fp16 run continues with the same scale). Data order and augmentation are functions
/// of (seed, epoch), so resuming with the same seed repeats an uninterrupted CPU run bit for bit.
/// Both files are written atomically.
/// </summary>
public static class TrainingState
{
    /// <summary>File name of the model weights.</summary>
    public const string ModelFile = "model.safetensors";
    /// <summary>File name of the optimizer and counters.</summary>
    public const string StateFile = "training_state.safetensors";

    /// <summary>Saves the state after <paramref name="epoch"/> completed epochs (each file atomically, one after the other; <see cref="TrainingRun"/> commits them as one set).</summary>
    /// <exception cref="IOException">A file cannot be written.</exception>
    public static void Save(string dir, Model model, Optimizer optimizer, Trainer trainer, int epoch, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Directory.CreateDirectory(dir);
        var (m, st) = Contents(model, optimizer, trainer, epoch, metadata);
        Safetensors.Save(Path.Combine(dir, ModelFile), m.Arrays, m.Metadata);
        Safetensors.Save(Path.Combine(dir, StateFile), st.Arrays, st.Metadata);
    }

    /// <summary>The tensors and metadata of <see cref="ModelFile"/> and <see cref="StateFile"/> after <paramref name="epoch"/> epochs.</summary>
    internal static ((List<NamedArray> Arrays, Dictionary<string, string> Metadata) Model, (List<NamedArray> Arrays, Dictionary<string, string> Metadata) State)
        Contents(Model model, Optimizer optimizer, Trainer trainer, int epoch, IReadOnlyDictionary<string, string>? metadata, CheckpointDescription? description = null,
            CheckpointStaging? staging = null)
    {
        staging ??= new CheckpointStaging();
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>()) { ["epoch"] = Str(epoch) };
        var modelContents = ModelCheckpoint.Contents(model, meta, optimizer.Steps, description ?? new CheckpointDescription(Layout: trainer.Layout, Precision: trainer.Precision), staging);
        var arrays = new List<NamedArray>();
        foreach (var (name, value) in optimizer.State)
            arrays.Add(staging.Float32(model.Backend, "optimizer." + name, value));
        var state = new Dictionary<string, string>(meta)
        {
            ["optimizer"] = optimizer.GetType().Name,
            ["optimizer_steps"] = Str(optimizer.Steps),
            ["global_step"] = Str(trainer.GlobalStep),
            ["iteration"] = Str(trainer.TrainPlan.State.Iteration),
            ["momentum"] = optimizer.Momentum.ToString("R", CultureInfo.InvariantCulture),
            ["precision"] = trainer.Precision.Name(),
        };
        if (trainer.Scaler is { } scaler)
        {
            var f = scaler.Read();   // the flag is always clear between steps
            state["loss_scale"] = f.Scale.ToString("R", CultureInfo.InvariantCulture);
            state["loss_scale_growth_tracker"] = Str(f.GrowthTracker);
            state["loss_scale_steps"] = Str(f.StepCount);
        }
        return (modelContents, (arrays, state));
    }

    /// <summary>Restores model, optimizer and counters from <paramref name="dir"/>; returns the completed epochs.</summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="CheckpointMismatchException">The checkpoint belongs to another model or optimizer (the message says which tensor or setting), or lacks an entry of a training state.</exception>
    /// <exception cref="CheckpointMetadataException">An entry of the training state holds a value that does not parse (the message names the file, the key and the value).</exception>
    public static int Load(string dir, Model model, Optimizer optimizer, Trainer trainer)
    {
        string modelPath = Path.Combine(dir, ModelFile), statePath = Path.Combine(dir, StateFile);
        foreach (var p in new[] { modelPath, statePath })
            if (!File.Exists(p)) throw new FileNotFoundException($"cannot resume from '{dir}': {Path.GetFileName(p)} is missing (a training run writes it into its FitOptions.OutputDirectory)", p);
        var file = Safetensors.Load(statePath);
        string kind = file.Metadata.GetValueOrDefault("optimizer") ?? "";
        if (kind != optimizer.GetType().Name)
            throw new CheckpointMismatchException(statePath, "optimizer", $"checkpoint '{statePath}' was written by optimizer {kind}, not {optimizer.GetType().Name}");
        // Checkpoints from before mixed precision carry no precision: they were fp32.
        string precision = file.Metadata.GetValueOrDefault("precision") ?? Precision.Float32.Name();
        if (precision != trainer.Precision.Name())
            throw new CheckpointMismatchException(statePath, "precision", $"checkpoint '{statePath}' was trained at precision {precision}; resume it with FitOptions.Precision = {precision}, not {trainer.Precision.Name()}");
        LossScalerState.Fields? scalerFields = null;
        if (trainer.Scaler is not null)
        {
            if (!file.Metadata.TryGetValue("loss_scale", out var scaleText))
                throw new CheckpointMismatchException(statePath, "loss_scale", $"checkpoint '{statePath}' was trained without loss scaling; resume it with FitOptions.LossScaling = off");
            scalerFields = new LossScalerState.Fields(Float(file, "loss_scale"), (int)Long(file, "loss_scale_growth_tracker"), 0, Long(file, "loss_scale_steps"));
        }
        var copies = new List<(float[], Tensors.Tensor)>();
        foreach (var (name, value) in optimizer.State)
        {
            file.Expect("optimizer." + name, Tensors.DType.Float32, value.Shape.Dims);
            copies.Add((file.GetFloat32("optimizer." + name), value));
        }
        ModelCheckpoint.Load(model, modelPath);   // validates every tensor before copying any
        foreach (var (data, dst) in copies) model.Backend.CopyFromHost<float>(data, dst);
        optimizer.RestoreSteps(Long(file, "optimizer_steps"));
        if (scalerFields is { } sf) trainer.Scaler!.Restore(sf);
        optimizer.Momentum = Float(file, "momentum");
        trainer.GlobalStep = Long(file, "global_step");
        trainer.TrainPlan.State.Iteration = Long(file, "iteration");
        return (int)Long(file, "epoch");
    }

    private static string Str(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static long Long(SafetensorsFile f, string key)
        => long.TryParse(Entry(f, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : throw BadValue(f, key, "a whole number");

    private static float Float(SafetensorsFile f, string key)
        => float.TryParse(Entry(f, key), NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v) ? v : throw BadValue(f, key, "a number");

    private static string Entry(SafetensorsFile f, string key) => f.Metadata.TryGetValue(key, out var s) ? s
        : throw new CheckpointMismatchException(f.Path, key, $"checkpoint '{f.Path}' lacks the '{key}' entry of a training state");

    private static CheckpointMetadataException BadValue(SafetensorsFile f, string key, string expected)
        => new(f.Path, key, $"checkpoint '{f.Path}': '{key}' is '{f.Metadata[key]}', expected {expected}");
}
