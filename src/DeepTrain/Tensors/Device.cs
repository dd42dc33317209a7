namespace DeepTrain.Tensors;

/// <summary>Kind of processor a tensor's memory belongs to.</summary>
public enum DeviceKind : byte
{
    /// <summary>Host memory, computed by the managed <c>CpuBackend</c>.</summary>
    Cpu,
    /// <summary>NVIDIA GPU memory, computed by <c>CudaBackend</c>.</summary>
    Cuda,
}

/// <summary>A processor: <c>cpu</c> or <c>cuda:i</c>.</summary>
public readonly record struct Device(DeviceKind Kind, int Index)
{
    /// <summary>The host.</summary>
    public static Device Cpu => new(DeviceKind.Cpu, 0);

    /// <summary>The GPU with ordinal <paramref name="index"/>.</summary>
    public static Device Cuda(int index = 0) => new(DeviceKind.Cuda, index);

    /// <summary>Parses <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> (PyTorch's spelling).</summary>
    /// <exception cref="FormatException">The text is none of those.</exception>
    public static Device Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToLowerInvariant();
        if (t == "cpu") return Cpu;
        if (t == "cuda" || t == "gpu") return Cuda(0);
        if (t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t.AsSpan(5), out int i) && i >= 0) return Cuda(i);
        throw new FormatException($"device '{text}' is not valid: expected cpu, cuda or cuda:N");
    }

    /// <inheritdoc />
    public override string ToString() => Kind == DeviceKind.Cpu ? "cpu" : $"cuda:{Index}";
}
