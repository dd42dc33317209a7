using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Backends.Cpu;

// fp16 and bf16 storage on the CPU. Every activation-carrying operation accepts Float16 and BFloat16
// operands (each operand its own type, as cuDNN's mixed configurations do: fp16 x and dy with an fp32 dw,
// fp16 activations with fp32 batch-norm parameters). The CPU computes in fp32 and rounds only on store:
// a call with any 16-bit operand widens its inputs into fp32 temporaries, runs the fp32 kernel, and
// narrows its outputs back (round to nearest even, as __float2half_rn / __float2bfloat16_rn). This path
// allocates; the all-fp32 path does not go near it (one dtype test per operand, no allocation).
public sealed partial class CpuBackend
{
    /// <summary>True when any given operand is stored in 16 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Reduced(Tensor? a, Tensor? b = null, Tensor? c = null, Tensor? d = null, Tensor? e = null, Tensor? f = null)
        => IsReduced(a) || IsReduced(b) || IsReduced(c) || IsReduced(d) || IsReduced(e) || IsReduced(f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsReduced(Tensor? t) => t is not null && (t.DType == DType.Float16 || t.DType == DType.BFloat16);

    /// <inheritdoc />
    /// <remarks>The CPU backend emulates every precision (fp16 and bf16 storage, fp32 compute).</remarks>
    public bool SupportsPrecision(Precision precision, out string reason)
    {
        reason = "";
        return precision is Precision.Float32 or Precision.Float16 or Precision.BFloat16;
    }

    /// <summary>
    /// One call's fp32 stand-ins for its 16-bit operands. <see cref="In"/> widens an input;
    /// <see cref="Out"/> widens an output (its old contents matter when accumulating or when only part of
    /// it is written) and narrows it back on <see cref="Dispose"/>. fp32 operands pass through untouched.
    /// </summary>
    private sealed class Widened : IDisposable
    {
        private readonly List<Tensor> _temps = [];
        private readonly List<(Tensor Wide, Tensor Dst)> _outputs = [];

        /// <summary>An fp32 copy of <paramref name="t"/> (the tensor itself when it is not 16-bit).</summary>
        [return: NotNullIfNotNull(nameof(t))]
        public Tensor? In(Tensor? t)
        {
            if (!IsReduced(t)) return t;
            var wide = Tensor.Create(t!.Shape, DType.Float32, t.Layout);
            _temps.Add(wide);
            ReducedFloat.Widen(t.AsSpan<ushort>(), t.DType, wide.AsSpan<float>());
            return wide;
        }

        /// <summary>An fp32 copy of <paramref name="t"/> that is rounded back into it when the call ends.</summary>
        [return: NotNullIfNotNull(nameof(t))]
        public Tensor? Out(Tensor? t)
        {
            var wide = In(t);
            if (wide is not null && !ReferenceEquals(wide, t)) _outputs.Add((wide, t!));
            return wide;
        }

        /// <summary>Narrows the outputs (in the order they were declared) and frees the temporaries.</summary>
        public void Dispose()
        {
            foreach (var (wide, dst) in _outputs) ReducedFloat.Narrow(wide.AsSpan<float>(), dst.AsSpan<ushort>(), dst.DType);
            foreach (var t in _temps) t.Dispose();
        }
    }
}
