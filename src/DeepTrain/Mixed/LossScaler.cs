using System.Globalization;
using System.Runtime.InteropServices;
using DeepTrain.Backends;
using DeepTrain.Memory;
using DeepTrain.Tensors;

namespace DeepTrain.Mixed;

/// <summary>
/// Settings of dynamic loss scaling, torch.cuda.amp.GradScaler's: start at <see cref="InitScale"/>; after
/// <see cref="GrowthInterval"/> consecutive steps with finite gradients multiply the scale by
/// <see cref="GrowthFactor"/>; on any NaN or ±∞ gradient multiply it by <see cref="BackoffFactor"/> and skip
/// the step. A static scale is the same machine with both factors 1: steps with non-finite gradients are still
/// skipped, the scale never moves. There is no floor under the scale, as in PyTorch.
/// </summary>
public sealed record LossScalerOptions(float InitScale = 65536f, float GrowthFactor = 2f, float BackoffFactor = 0.5f, int GrowthInterval = 2000, bool Enabled = true)
{
    /// <summary>GradScaler's defaults: 2^16, ×2 after 2000 clean steps, ×0.5 on overflow.</summary>
    public static LossScalerOptions Dynamic { get; } = new();

    /// <summary>No loss scaling (<see cref="Enabled"/> false), where null would mean "the precision's default".</summary>
    public static LossScalerOptions Off { get; } = new(Enabled: false);

    /// <summary>A fixed scale <paramref name="scale"/> (non-finite steps are still skipped).</summary>
    public static LossScalerOptions Static(float scale) => new(scale, 1f, 1f, int.MaxValue);

    /// <summary>Throws unless every setting is in range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The first setting out of range.</exception>
    public void Validate()
    {
        if (!(InitScale > 0) || float.IsInfinity(InitScale)) throw new ArgumentOutOfRangeException(nameof(InitScale), InitScale, "loss scaler: the initial scale must be finite and > 0");
        if (!(GrowthFactor >= 1) || float.IsInfinity(GrowthFactor)) throw new ArgumentOutOfRangeException(nameof(GrowthFactor), GrowthFactor, "loss scaler: the growth factor must be finite and ≥ 1");
        if (!(BackoffFactor > 0 && BackoffFactor <= 1)) throw new ArgumentOutOfRangeException(nameof(BackoffFactor), BackoffFactor, "loss scaler: the backoff factor must be in (0, 1]");
        if (GrowthInterval < 1) throw new ArgumentOutOfRangeException(nameof(GrowthInterval), GrowthInterval, "loss scaler: the growth interval must be ≥ 1");
    }

    /// <summary>
    /// Parses a loss-scaling setting: "dynamic" (GradScaler's defaults), "static:S" (a fixed S &gt; 0) or "off" (null).
    /// </summary>
    /// <exception cref="FormatException">Anything else; the message lists the valid forms.</exception>
    public static LossScalerOptions? Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim().ToLowerInvariant();
        if (t == "dynamic") return Dynamic;
        if (t == "off") return null;
        if (t.StartsWith("static:", StringComparison.Ordinal)
            && float.TryParse(t["static:".Length..], NumberStyles.Float, CultureInfo.InvariantCulture, out float s) && s > 0 && float.IsFinite(s))
            return Static(s);
        throw new FormatException($"loss scaling '{text}' is not valid: expected dynamic, static:S with a finite S > 0 (e.g. static:1024), or off");
    }

    /// <inheritdoc />
    public override string ToString() => !Enabled ? "off"
        : GrowthFactor == 1f && BackoffFactor == 1f ? $"static {InitScale.ToString("G", CultureInfo.InvariantCulture)}"
        : $"dynamic (init {InitScale.ToString("G", CultureInfo.InvariantCulture)}, ×{GrowthFactor.ToString("G", CultureInfo.InvariantCulture)} every {GrowthInterval} clean steps, ×{BackoffFactor.ToString("G", CultureInfo.InvariantCulture)} on overflow)";
}

/// <summary>
/// Dynamic loss scaling with GradScaler's semantics, its state on the device (<see cref="LossScalerState"/>):
/// the loss gradient is multiplied by the scale (<see cref="Modeling.Plan.TrainStep(float, Tensor?)"/>),
/// <see cref="Unscale"/> divides the gradients by it and raises the found-inf flag on any non-finite value, the
/// optimizer step does nothing when the flag is set (no weight, no optimizer state, no step count changes), and
/// <see cref="Update"/> moves the scale and clears the flag. No call reads the device, so a GPU step needs no
/// synchronisation; <see cref="Read"/> does, for logs and checkpoints.
/// </summary>
public sealed class LossScaler : IDisposable
{
    private readonly IBackend _backend;
    private readonly DeviceBuffer _buffer;
    private readonly int[] _host = new int[LossScalerState.Bytes / 4];

    /// <summary>Allocates the state on <paramref name="backend"/> at the initial scale.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public LossScaler(IBackend backend, LossScalerOptions options)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _backend = backend;
        Options = options;
        _buffer = backend.Allocate(LossScalerState.Bytes);
        State = new Tensor(_buffer, 0, LossScalerState.Shape, DType.Int32);
        Restore(new LossScalerState.Fields(options.InitScale, 0, 0, 0));
    }

    /// <summary>The settings.</summary>
    public LossScalerOptions Options { get; }

    /// <summary>The device state (24 bytes; layout in <see cref="LossScalerState"/>).</summary>
    public Tensor State { get; }

    /// <summary>g ← g/scale over the flat gradient buffer, raising the found-inf flag on any NaN or ±∞ result.</summary>
    public void Unscale(ParameterSet parameters) => _backend.UnscaleGradients(parameters.AllGrads, State);

    /// <summary>Moves the scale (backoff on overflow, growth after the interval), counts a clean step, clears the flag.</summary>
    public void Update() => _backend.UpdateLossScale(State, Options.GrowthFactor, Options.BackoffFactor, Options.GrowthInterval);

    /// <summary>Reads the state to the host (synchronises the device).</summary>
    public LossScalerState.Fields Read()
    {
        _backend.CopyToHost<int>(State, _host);
        return LossScalerState.Fields.Read(MemoryMarshal.AsBytes(_host.AsSpan()));
    }

    /// <summary>Overwrites the state (resuming from a checkpoint).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The scale is not finite and positive, or a counter is negative.</exception>
    public void Restore(LossScalerState.Fields fields)
    {
        if (!(fields.Scale > 0) || float.IsInfinity(fields.Scale)) throw new ArgumentOutOfRangeException(nameof(fields), fields.Scale, "loss scaler: the scale must be finite and > 0");
        if (fields.GrowthTracker < 0 || fields.StepCount < 0) throw new ArgumentOutOfRangeException(nameof(fields), fields, "loss scaler: the growth tracker and step count must be ≥ 0");
        fields.Write(MemoryMarshal.AsBytes(_host.AsSpan()));
        _backend.CopyFromHost<int>(_host, State);
    }

    /// <inheritdoc />
    public void Dispose() => _buffer.Dispose();
}
