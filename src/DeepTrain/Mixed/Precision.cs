using DeepTrain.Tensors;

namespace DeepTrain.Mixed;

/// <summary>
/// The arithmetic precision a plan is compiled for (<c>--precision</c>). Whatever the precision, master
/// weights, weight gradients, optimizer state, batch-norm parameters and statistics, the logits and the
/// loss stay fp32; the 16-bit precisions store activations, activation gradients and the working copy
/// of the convolution and linear weights in 16 bits and compute in fp32 (PyTorch's autocast).
/// </summary>
public enum Precision : byte
{
    /// <summary>Everything in fp32.</summary>
    Float32,
    /// <summary>IEEE binary16 activations and weight copies; needs loss scaling (5 exponent bits: gradients underflow).</summary>
    Float16,
    /// <summary>bfloat16 activations and weight copies; fp32's 8 exponent bits, so no loss scaling by default.</summary>
    BFloat16,
}

/// <summary>Names, storage types and parsing of <see cref="Precision"/>.</summary>
public static class PrecisionInfo
{
    /// <summary>The names <see cref="Parse"/> accepts, in enum order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fp32", "fp16", "bf16"];

    /// <summary>The CLI name ("fp32", "fp16", "bf16").</summary>
    public static string Name(this Precision p) => Names[(int)p];

    /// <summary>Element type of activations, activation gradients and the weights' working copy at this precision.</summary>
    public static DType ActivationDType(this Precision p) => p switch
    {
        Precision.Float32 => DType.Float32,
        Precision.Float16 => DType.Float16,
        Precision.BFloat16 => DType.BFloat16,
        _ => throw new ArgumentOutOfRangeException(nameof(p), p, "unknown precision"),
    };

    /// <summary>Whether a loss scaler is on by default: yes for fp16 (its smallest subnormal is 2^−24, where
    /// small gradients vanish), no for bf16 and fp32 (8 exponent bits reach 2^−133, as far as fp32 gradients go).</summary>
    public static bool ScalesLossByDefault(this Precision p) => p == Precision.Float16;

    /// <summary>Parses "fp32", "fp16" or "bf16" (also "float32", "float16", "half", "bfloat16"; case-insensitive).</summary>
    /// <exception cref="ArgumentException">Any other text; the message lists the valid names.</exception>
    public static Precision Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Trim().ToLowerInvariant() switch
        {
            "fp32" or "float32" or "f32" => Precision.Float32,
            "fp16" or "float16" or "f16" or "half" => Precision.Float16,
            "bf16" or "bfloat16" => Precision.BFloat16,
            _ => throw new ArgumentException($"unknown precision '{text}'; expected one of {string.Join(", ", Names)}", nameof(text)),
        };
    }
}
