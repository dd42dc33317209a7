using System.Globalization;
using DeepTrain.Checkpoints;

namespace DeepTrain.Training;

/// <summary>
/// A checkpoint tensor holding NaN or infinite values: what a run that diverged saves. Loading it is allowed (it may be
/// what the user wants to inspect), but its outputs are meaningless and training from it produces a NaN loss at once, so
/// <see cref="ModelCheckpoint.FindNonFinite"/> and <see cref="LoadReport.NonFinite"/> report it for a warning.
/// </summary>
/// <param name="Name">The tensor's name in the file.</param>
/// <param name="NaN">How many of its values are NaN.</param>
/// <param name="Infinite">How many are +∞ or −∞.</param>
/// <param name="Elements">How many values it has.</param>
public sealed record NonFiniteTensor(string Name, long NaN, long Infinite, long Elements)
{
    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"tensor '{Name}' has {NaN} NaN and {Infinite} infinite of {Elements} values");

    /// <summary>"<paramref name="what"/> holds non-finite weights: tensor 'a' has …; tensor 'b' has …" for at most three tensors, or null when <paramref name="tensors"/> is empty.</summary>
    /// <param name="what">The checkpoint as the message should name it, e.g. <c>checkpoint 'runs/a/model.safetensors'</c>.</param>
    /// <param name="tensors">What <see cref="ModelCheckpoint.FindNonFinite"/> or <see cref="LoadReport.NonFinite"/> found.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tensors"/> is null.</exception>
    public static string? Describe(string what, IReadOnlyList<NonFiniteTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) return null;
        string list = string.Join("; ", tensors.Take(3));
        if (tensors.Count > 3) list += $"; and {tensors.Count - 3} more tensors";
        return $"{what} holds non-finite weights: {list}";
    }

    /// <summary>The tensor's counts, or null when every value is finite (floating-point tensors only; integers are always finite).</summary>
    internal static NonFiniteTensor? Count(SafetensorsFile file, string name)
    {
        long nan = 0, inf = 0;
        void Add(double v) { if (double.IsNaN(v)) nan++; else if (double.IsInfinity(v)) inf++; }
        switch (file[name].DType)
        {
            case SafetensorsDType.F32: foreach (float v in file.GetFloat32(name)) Add(v); break;
            case SafetensorsDType.F64: foreach (double v in file.GetFloat64(name)) Add(v); break;
            case SafetensorsDType.F16: foreach (Half v in file.GetFloat16(name)) Add((double)v); break;
            default: return null;
        }
        return nan + inf == 0 ? null : new NonFiniteTensor(name, nan, inf, file[name].Elements);
    }
}
